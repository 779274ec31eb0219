"""The contract every registered detector keeps (edge/detectors/base.py), checked over all of them."""

from __future__ import annotations

import json
import math
import random
import statistics
from typing import Any

import pytest

from edge.detectors import (
    DEFAULT_DETECTOR,
    REGISTRY,
    VECTOR_REGISTRY,
    Detector,
    make_detector,
    make_vector_detector,
)

NAMES = sorted(REGISTRY)
STEADY = 700  # readings of a steady noisy level before the step


def stream(seed: int = 7, steady: int = STEADY) -> list[tuple[float, float]]:
    """A noisy level around 10 (sd 1), one reading a minute, then a step to 30 held for 20 readings."""
    rng = random.Random(seed)
    values = [10.0 + rng.gauss(0.0, 1.0) for _ in range(steady)] + [30.0 + rng.gauss(0.0, 1.0)
                                                                     for _ in range(20)]
    return [(v, 1_700_000_000.0 + 60.0 * i) for i, v in enumerate(values)]


def run(detector: Detector, readings: list[tuple[float, float]]) -> list[float]:
    return [detector.update(v, t) for v, t in readings]


@pytest.fixture(scope="module")
def readings() -> list[tuple[float, float]]:
    return stream()


def test_the_default_is_registered() -> None:
    assert DEFAULT_DETECTOR in REGISTRY


def test_unknown_names_list_the_known_ones() -> None:
    with pytest.raises(KeyError, match="known: .*range_novelty"):
        make_detector("no_such_detector")


@pytest.mark.parametrize("name", NAMES)
def test_a_clone_from_params_gives_the_same_scores(name: str, readings: list[tuple[float, float]]) -> None:
    first = make_detector(name)
    clone = make_detector(name, first.params())
    assert clone.params() == first.params()
    assert run(first, readings) == run(clone, readings)


@pytest.mark.parametrize("name", NAMES)
def test_scores_are_in_unit_interval_and_zero_until_warm(
        name: str, readings: list[tuple[float, float]]) -> None:
    detector = make_detector(name)
    for value, ts in readings:
        was_warm = detector.warm
        score = detector.update(value, ts)
        assert 0.0 <= score <= 1.0 and not math.isnan(score)
        if not was_warm:
            assert score == 0.0
    assert detector.warm


@pytest.mark.parametrize("name", NAMES)
def test_state_round_trips_through_json_to_identical_scores(
        name: str, readings: list[tuple[float, float]]) -> None:
    # Given a detector checkpointed half-way, as the agent does before a reboot
    half = len(readings) // 2
    original = make_detector(name)
    run(original, readings[:half])
    saved = json.loads(json.dumps(original.state(), allow_nan=False))
    # When a fresh detector of the same params restores it
    restored = make_detector(name, original.params())
    restored.restore(saved)
    # Then both score the rest identically
    assert restored.warm == original.warm
    assert run(restored, readings[half:]) == run(original, readings[half:])


@pytest.mark.parametrize("name", NAMES)
def test_a_step_change_scores_high(name: str, readings: list[tuple[float, float]]) -> None:
    detector = make_detector(name)
    scores = run(detector, readings)
    threshold = float(getattr(detector, "alert_threshold", 0.5))
    before, after = scores[STEADY - 100:STEADY], max(scores[STEADY:STEADY + 5])
    assert after >= threshold
    assert after >= max(before) and after > statistics.median(before)


@pytest.mark.parametrize("name", NAMES)
def test_different_input_streams_do_not_share_state(name: str) -> None:
    # Two detectors built by name are independent objects (no module-level state).
    a, b = make_detector(name), make_detector(name)
    run(a, stream(seed=1))
    assert run(b, stream(seed=2)) == run(make_detector(name), stream(seed=2))


def _alarm_episodes(rate_hz: float, seconds: float, step: float = 0.0) -> int:
    """Alarm episodes (score crossing 0.9) of the default detector on Gaussian noise."""
    rng = random.Random(1)
    detector = make_detector(DEFAULT_DETECTOR, {})
    n = int(rate_hz * seconds)
    episodes, alarming = 0, False
    for i in range(n):
        value = 300.0 + rng.gauss(0.0, 1.0) + (step if i > n // 2 else 0.0)
        hit = detector.update(value, 1.7e9 + i / rate_hz) >= 0.9
        episodes += hit and not alarming
        alarming = hit
    return episodes


def test_fast_stationary_noise_is_not_an_event() -> None:
    # Given a 10 Hz channel of pure noise for half an hour (18,000 readings)
    # Then no alarm: a one-sample spike at 10 Hz is not a hazard (before the
    # time-based forgetting this raised ~50 alarm episodes an hour)
    assert _alarm_episodes(10.0, 1800.0) == 0


def test_fast_channel_still_sees_a_real_step() -> None:
    # Given the same channel stepping up by ten sigma half way, Then it alarms
    assert _alarm_episodes(10.0, 1800.0, step=10.0) >= 1


def _run_of_high_readings_after(spike: bool) -> tuple[float, float]:
    """The default detector on uniform noise in [10, 10.4], a minute apart: optionally a spike to
    11 at reading 1000, then at 1200 a run of 15 readings at 10.39 (inside the range every
    reading has covered, but a level the channel has not held). Returns the spike's score and
    the run's highest score."""
    detector = make_detector(DEFAULT_DETECTOR, {})
    rng = random.Random(7)
    spike_score, run_peak = 0.0, 0.0
    for i in range(1215):
        value = 10.0 + rng.uniform(0.0, 0.4)
        if spike and i == 1000:
            value = 11.0
        if i >= 1200:
            value = 10.39
        score = detector.update(value, 1.7e9 + 60.0 * i)
        if i == 1000:
            spike_score = score
        if i >= 1200:
            run_peak = max(run_peak, score)
    return spike_score, run_peak


def test_an_alert_on_one_view_does_not_blunt_the_others() -> None:
    # Given a spike that alerts on the reading's own range
    spike_score, after_spike = _run_of_high_readings_after(spike=True)
    assert spike_score >= 0.9
    # When, 200 readings later, the level shifts inside that range
    _, without_spike = _run_of_high_readings_after(spike=False)
    # Then it alerts exactly as it would have without the spike: the recovery tolerance raised
    # by the spike belongs to the view that alerted
    assert without_spike >= 0.9
    assert after_spike == pytest.approx(without_spike, abs=0.01)


def test_a_checkpoint_from_before_per_view_recovery_restores() -> None:
    # Given a checkpoint written when the recovery tolerance was one number for every view
    detector = make_detector(DEFAULT_DETECTOR, {})
    run(detector, stream())
    old = detector.state()
    del old["boosts"]
    old["boost"] = 0.05
    # When a fresh detector restores it, Then it carries on, every view's tolerance raised alike
    fresh = make_detector(DEFAULT_DETECTOR, detector.params())
    fresh.restore(old)
    assert fresh.state()["boosts"] == [0.05] * 4
    assert all(0.0 <= s <= 1.0 for s in run(fresh, stream(seed=3)))


# --- the same contract over every vector detector (edge/detectors/multichannel.py) -------------

VECTOR_NAMES = sorted(VECTOR_REGISTRY)
# Shorter than the shipped day of warm-up, so a test stream of 700 readings a minute apart warms.
VECTOR_PARAMS: dict[str, dict[str, Any]] = {"pca_t2q": {"warmup_s": 3600.0}}


def vector_stream(seed: int = 7, steady: int = STEADY) -> list[tuple[list[float], float]]:
    """Four channels a minute apart: three tied to one load (a, 2a + 5, 100 - a), one independent;
    then for 20 readings the second one moves against the load, inside its own usual range."""
    rng = random.Random(seed)
    out = []
    for i in range(steady + 20):
        load = 10.0 + 3.0 * math.sin(i / 40.0) + rng.gauss(0.0, 1.0)
        second = 2.0 * load + 5.0 if i < steady else 2.0 * (20.0 - load) + 5.0
        out.append(([load + rng.gauss(0.0, 0.1), second + rng.gauss(0.0, 0.1),
                     100.0 - load + rng.gauss(0.0, 0.1), 20.0 + rng.gauss(0.0, 1.0)],
                    1_700_000_000.0 + 60.0 * i))
    return out


def run_vector(detector: Any, readings: list[tuple[list[float], float]]) -> list[float]:
    """Score every vector; learn it when it scores below 0.9 (as the device pipeline does)."""
    scores = []
    for x, ts in readings:
        score = detector.score(x, ts)
        scores.append(score)
        if score < 0.9:
            detector.learn(x, ts)
    return scores


def make_vector(name: str) -> Any:
    return make_vector_detector(name, VECTOR_PARAMS.get(name, {}))


@pytest.fixture(scope="module")
def vectors() -> list[tuple[list[float], float]]:
    return vector_stream()


@pytest.mark.parametrize("name", VECTOR_NAMES)
def test_vector_clone_from_params_gives_the_same_scores(
        name: str, vectors: list[tuple[list[float], float]]) -> None:
    first = make_vector(name)
    clone = make_vector_detector(name, first.params())
    assert clone.params() == first.params()
    assert run_vector(first, vectors) == run_vector(clone, vectors)


@pytest.mark.parametrize("name", VECTOR_NAMES)
def test_vector_scores_are_in_unit_interval_and_zero_until_warm(
        name: str, vectors: list[tuple[list[float], float]]) -> None:
    detector = make_vector(name)
    for x, ts in vectors:
        was_warm = detector.warm
        score = detector.score(x, ts)
        assert 0.0 <= score <= 1.0 and not math.isnan(score)
        if not was_warm:
            assert score == 0.0
        if score < 0.9:
            detector.learn(x, ts)
    assert detector.warm


@pytest.mark.parametrize("name", VECTOR_NAMES)
def test_vector_score_changes_no_state(name: str, vectors: list[tuple[list[float], float]]) -> None:
    # Given a warm detector
    detector = make_vector(name)
    run_vector(detector, vectors[:STEADY])
    before = json.dumps(detector.state())
    # When it scores the broken vectors without learning them, Then nothing it learned changed
    scores = [detector.score(x, ts) for x, ts in vectors[STEADY:]]
    assert json.dumps(detector.state()) == before
    assert [detector.score(x, ts) for x, ts in vectors[STEADY:]] == scores


@pytest.mark.parametrize("name", VECTOR_NAMES)
def test_vector_state_round_trips_through_json_to_identical_scores(
        name: str, vectors: list[tuple[list[float], float]]) -> None:
    # Given a detector checkpointed half-way, as the agent does before a reboot
    half = len(vectors) // 2
    original = make_vector(name)
    run_vector(original, vectors[:half])
    saved = json.loads(json.dumps(original.state(), allow_nan=False))
    # When a fresh detector of the same params restores it
    restored = make_vector_detector(name, original.params())
    restored.restore(saved)
    # Then both score the rest identically
    assert restored.warm == original.warm
    assert run_vector(restored, vectors[half:]) == run_vector(original, vectors[half:])


@pytest.mark.parametrize("name", VECTOR_NAMES)
def test_vector_broken_relationship_scores_high_inside_every_range(
        name: str, vectors: list[tuple[list[float], float]]) -> None:
    # Given the channels' relationship breaking while each stays inside the range it has covered
    learned = [x for x, _ in vectors[:STEADY]]
    for j in range(4):
        low, high = min(x[j] for x in learned), max(x[j] for x in learned)
        assert all(low <= x[j] <= high for x, _ in vectors[STEADY:])
    # Then the break scores above the alert threshold (but where the moved channel happens to
    # cross its old place: the mirror image of a load near 10 is that load), the readings before not
    detector = make_vector(name)
    scores = run_vector(detector, vectors)
    threshold = float(getattr(detector, "alert_threshold", 0.5))
    before, after = scores[STEADY - 100:STEADY], scores[STEADY:]
    assert sum(s >= threshold for s in after) >= 16
    assert max(before) < threshold
    # and the channel that broke away contributes most
    shares = detector.contributions(vectors[-1][0])
    assert max(range(4), key=shares.__getitem__) == 1
    assert sum(shares) == pytest.approx(1.0)


@pytest.mark.parametrize("name", VECTOR_NAMES)
def test_vector_detectors_do_not_share_state(name: str) -> None:
    a, b = make_vector(name), make_vector(name)
    run_vector(a, vector_stream(seed=1))
    assert run_vector(b, vector_stream(seed=2)) == run_vector(make_vector(name), vector_stream(seed=2))


def test_unknown_vector_names_list_the_known_ones() -> None:
    with pytest.raises(KeyError, match="known: .*pca_t2q"):
        make_vector_detector("no_such_detector")
