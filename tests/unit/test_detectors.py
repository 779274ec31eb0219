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


def run_gated(detector: Detector, readings: list[tuple[float, float]],
              clear: float = 0.6) -> list[float]:
    """Score every reading, learn only those scoring below ``clear``: how the pipeline uses it."""
    scores = []
    for v, t in readings:
        scores.append(detector.score(v, t))
        if scores[-1] < clear:
            detector.learn(v, t)
    return scores


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
    # As the pipeline runs it (learning only what scores below the clear threshold); river's
    # HalfSpaceTrees, a baseline, scores most normal readings above 0.9, so it gets every one
    scores = run(detector, readings) if name == "half_space_trees" else run_gated(detector, readings)
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
    """Alarm onsets of the default detector and decider (a pipeline) on Gaussian noise."""
    from edge.config import ChannelConfig, DetectionConfig, SensorConfig
    from edge.pipeline import ChannelPipeline

    rng = random.Random(1)
    channel = ChannelConfig(name="p")
    sensor = SensorConfig(id="s", kind="water.pressure", driver="lines", port="-", baudrate=9600,
                          channels=(channel,), detection=DetectionConfig())
    pipeline = ChannelPipeline(sensor, channel, make_detector(DEFAULT_DETECTOR, {}))
    n = int(rate_hz * seconds)
    episodes, alarming = 0, False
    for i in range(n):
        value = 300.0 + rng.gauss(0.0, 1.0) + (step if i > n // 2 else 0.0)
        pipeline.process_value(1.7e9 + i / rate_hz, value)
        episodes += pipeline.alarming and not alarming
        alarming = pipeline.alarming
    return episodes


def test_fast_stationary_noise_is_not_an_event() -> None:
    # Given a 10 Hz channel of pure noise for half an hour (18,000 readings)
    # Then no alarm: a one-sample spike at 10 Hz is not a hazard (the decider wants 0.5 s of
    # it on a fast channel; before the time-based forgetting this raised ~50 alarm episodes
    # an hour)
    assert _alarm_episodes(10.0, 1800.0) == 0


def test_fast_channel_still_sees_a_real_step() -> None:
    # Given the same channel stepping up by ten sigma half way, Then it alarms
    assert _alarm_episodes(10.0, 1800.0, step=10.0) >= 1


def test_a_checkpoint_from_before_per_view_recovery_restores() -> None:
    # Given a checkpoint written when the recovery tolerance was one number for every view
    detector = make_detector(DEFAULT_DETECTOR, {})
    run(detector, stream())
    old = {**detector.state(), "mute": 0.0, "excursion": 0, "boost": 0.05, "held": 0.0, "pending": 0}
    del old["slot_counts"], old["dt"]
    # When a fresh detector restores it, Then it carries on from what it had learned (the alarm
    # bookkeeping of the old update() now lives in the pipeline and is ignored)
    fresh = make_detector(DEFAULT_DETECTOR, detector.params())
    fresh.restore(old)
    assert {k: v for k, v in fresh.state().items() if k not in ("slot_counts", "dt")} == {
        k: v for k, v in detector.state().items() if k not in ("slot_counts", "dt")}
    assert all(0.0 <= s <= 1.0 for s in run(fresh, stream(seed=3)))


@pytest.mark.parametrize("name", NAMES)
def test_score_changes_no_state(name: str, readings: list[tuple[float, float]]) -> None:
    # Given a detector at several points of a stream (cold, warm, during the step)
    detector = make_detector(name)
    for i, (value, ts) in enumerate(readings):
        if i % 97 == 0 or i >= STEADY:
            before = json.dumps(detector.state(), sort_keys=True)
            # When it scores the reading (and a wild one) without learning
            first = detector.score(value, ts)
            detector.score(value * 50.0 + 1e6, ts)
            # Then its state is untouched and scoring again gives the same answer
            assert json.dumps(detector.state(), sort_keys=True) == before
            assert detector.score(value, ts) == first
        detector.learn(value, ts)


class SpyDetector(Detector):
    """A real detector that records which readings it was taught."""

    name = "spy"

    def __init__(self, inner: Detector) -> None:
        self.inner = inner
        self.learned: list[float] = []

    def score(self, value: float, ts: float) -> float:
        return self.inner.score(value, ts)

    def learn(self, value: float, ts: float) -> None:
        self.learned.append(ts)
        self.inner.learn(value, ts)

    @property
    def warm(self) -> bool:
        return self.inner.warm

    def params(self) -> dict[str, object]:
        return self.inner.params()

    def state(self) -> dict[str, object]:
        return self.inner.state()

    def restore(self, state: dict[str, object]) -> None:
        self.inner.restore(state)


@pytest.mark.parametrize("name", [n for n in NAMES if n != "half_space_trees"])  # scores ~0.95
def test_the_pipeline_never_teaches_a_reading_taken_while_alarming(name: str) -> None:
    from edge.config import ChannelConfig, DetectionConfig, SensorConfig
    from edge.pipeline import ChannelPipeline

    # Given a pipeline over a spy around each detector, on a level that steps up for 20
    # readings, comes back, and steps again 200 readings later
    channel = ChannelConfig(name="p")
    sensor = SensorConfig(id="s", kind="water.pressure", driver="lines", port="-", baudrate=9600,
                          channels=(channel,), detection=DetectionConfig(
                              threshold=0.9999 if name == "windowed_gaussian" else 0.9,
                              clear_threshold=0.999 if name == "windowed_gaussian" else 0.6,
                              accept_after_s=1e9))
    spy = SpyDetector(make_detector(name))
    pipeline = ChannelPipeline(sensor, channel, spy)
    rng = random.Random(5)
    alarming: set[float] = set()
    onsets = 0
    for i in range(1200):
        step = 20.0 if 700 <= i < 720 or 920 <= i < 940 else 0.0
        ts = 1.7e9 + 60.0 * i
        was = pipeline.alarming
        pipeline.process_value(ts, 10.0 + rng.gauss(0.0, 1.0) + step)
        if pipeline.alarming:
            alarming.add(ts)
            onsets += not was
    # Then no reading taken while the alarm was up was ever learned
    assert alarming and not alarming & set(spy.learned)
    # And both steps alarmed; the likelihood detector's score rises over `short` readings, so it
    # learns the first readings of a step and its alarm then stays up (a known limitation)
    assert onsets >= (1 if name == "likelihood" else 2)
    # And normal readings were learned (the model of normal keeps up)
    assert len(spy.learned) > (700 if name == "likelihood" else 800)


BAD_VALUES = (math.inf, -math.inf, math.nan, 1e308, -1e308, 1.7e308)


@pytest.mark.parametrize("name", NAMES)
def test_the_state_never_takes_a_non_finite_value(name: str, readings: list[tuple[float, float]]) -> None:
    # Given a warm detector
    detector = make_detector(name)
    run(detector, readings[:400])
    # When it is fed NaN, infinities and the largest floats of both signs, learning every one
    for i, bad in enumerate(BAD_VALUES * 3):
        score = detector.update(bad, readings[400][1] + i)
        # Then every score is in [0, 1], and a checkpoint can always be written as JSON
        assert 0.0 <= score <= 1.0
        json.dumps(detector.state(), allow_nan=False)
    # And it still scores normal readings
    assert all(0.0 <= s <= 1.0 for s in run(detector, readings[400:450]))


def non_default_params(name: str) -> dict[str, object]:
    """Every numeric hyper-parameter of ``name`` moved off its default, where the detector
    accepts the new value (each is tried alone first, so one refusal does not hide the rest)."""
    import inspect

    from edge.detectors import detector_class

    cls = detector_class(name)
    chosen: dict[str, object] = {}
    for parameter in inspect.signature(cls).parameters.values():
        default = parameter.default
        if isinstance(default, bool) or not isinstance(default, int | float):
            continue
        value: object = default + 1 if isinstance(default, int) else (default * 1.25 or 0.01)
        try:
            cls(**{**chosen, parameter.name: value})
        except (ValueError, TypeError):
            continue
        chosen[parameter.name] = value
    return chosen


@pytest.mark.parametrize("name", NAMES)
def test_params_rebuild_a_detector_with_non_default_parameters(
        name: str, readings: list[tuple[float, float]]) -> None:
    # Given a detector built with every numeric parameter off its default
    given = non_default_params(name)
    assert given, f"{name}: no parameter could be moved off its default"
    first = make_detector(name, given)
    # Then params() (derived from the constructor's signature) names each as given
    assert {k: first.params()[k] for k in given} == given
    # and a clone from params() scores the same
    clone = make_detector(name, first.params())
    assert clone.params() == first.params()
    assert run(first, readings[:300]) == run(clone, readings[:300])


# --- the same contract over every vector detector (edge/detectors/multichannel.py) -------------

VECTOR_NAMES = sorted(VECTOR_REGISTRY)
# Shorter than the shipped day of warm-up, so a test stream of 700 readings a minute apart warms;
# the slow residual on (off by default), so that its state goes through the contract too.
VECTOR_PARAMS: dict[str, dict[str, Any]] = {"pca_t2q": {"warmup_s": 3600.0, "slow": 30}}


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
    """Observe and score every vector; learn it when it scores below 0.9 (as the device pipeline
    does)."""
    scores = []
    for x, ts in readings:
        detector.observe(x, ts)
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



def _evening_detector(slot_lo: float) -> Detector:
    """The default detector after ten days of a 5-minute channel around 32 (29..100 with its
    spikes), whose 20:00 hour has a usual value of 54 (pulled up by the spikes of that hour)
    and has read from ``slot_lo`` to 100; deviations from the hour's usual value went from -11
    to +70."""
    detector = make_detector(DEFAULT_DETECTOR, {})
    start = 1_767_225_600.0
    for i in range(2880):
        detector.learn(32.0 + (i % 7) * 0.5, start + 300.0 * i)
    state = detector.state()
    state["profile"][20] = 54.0
    state["slot_lo"] = [29.0] * 24
    state["slot_lo"][20] = slot_lo
    state["slot_hi"] = [100.0] * 24
    state["lo"][0], state["hi"][0] = 29.0, 100.0
    state["lo"][2], state["hi"][2] = -11.0, 70.0
    detector.restore(json.loads(json.dumps(state)))
    return detector


def test_a_reading_inside_what_its_hour_has_done_is_not_a_profile_anomaly() -> None:
    # Given an hour whose usual value is pulled up by its spikes, and whose readings went as
    # low as 29: an ordinary 32 at 20:19 deviates -22 from the usual, beyond the -11 learned
    start = 1_767_225_600.0 + 300.0 * 2880
    ts = start - start % 86400.0 + 20 * 3600.0 + 19 * 60.0
    # Then it is no anomaly: the hour has done it before (before the hour slots kept a range
    # it scored 1.0, alarmed, was never learned, and alarmed again every evening: NAB's
    # cpu_utilization_asg_misconfiguration, 57 alarms)
    assert _evening_detector(slot_lo=29.0).score(32.0, ts) == 0.0
    # And the same reading in an hour that never went below 50 is one
    assert _evening_detector(slot_lo=50.0).score(32.0, ts) >= 0.9
