"""The contract every registered detector keeps (edge/detectors/base.py), checked over all of them."""

from __future__ import annotations

import json
import math
import random
import statistics

import pytest

from edge.detectors import DEFAULT_DETECTOR, REGISTRY, Detector, make_detector

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
