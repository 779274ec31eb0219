"""Scores and values into alert decisions: limits at once, anomalies with hysteresis."""

from __future__ import annotations

import pytest

from edge.config import ChannelConfig, DetectionConfig
from edge.decide import ChannelDecider, limit_grade
from lifeline.grades import Grade
from lifeline.wire import Reason

PRESSURE = ChannelConfig(name="p", unit="kPa", low=250.0, low_critical=150.0, high=600.0)
DETECTION = DetectionConfig(threshold=0.9, clear_threshold=0.6, min_readings=2, cooldown_s=30.0,
                            repeat_s=15.0)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(300.0, None), (250.0, None), (249.9, Grade.ORANGE), (149.0, Grade.RED),
     (600.1, Grade.ORANGE)],
)
def test_limit_grade(value: float, expected: Grade | None) -> None:
    result = limit_grade(PRESSURE, value)
    assert (result[0] if result else None) == expected


def test_limit_breach_alerts_at_once_and_repeats_only_when_due_or_worse() -> None:
    decider = ChannelDecider(PRESSURE, DETECTION)
    first = decider.decide(0.0, 240.0, 0.0)
    assert first is not None and first.reason is Reason.LIMIT and first.grade is Grade.ORANGE
    assert decider.decide(1.0, 239.0, 0.0) is None  # same grade, not yet due
    worse = decider.decide(2.0, 140.0, 0.0)
    assert worse is not None and worse.grade is Grade.RED
    assert decider.decide(3.0, 141.0, 0.0) is None
    assert decider.decide(17.5, 141.0, 0.0) is not None  # repeat_s elapsed
    assert decider.decide(18.0, 300.0, 0.0) is None  # back inside: one reading is not enough
    cleared = decider.decide(19.0, 300.0, 0.0)  # min_readings (2) inside: the breach is over
    assert cleared is not None and cleared.cleared and cleared.reason is Reason.LIMIT
    assert cleared.grade is Grade.RED and "back to normal at 300 kPa" in cleared.message
    assert not decider.active
    assert decider.decide(20.0, 300.0, 0.0) is None  # cleared once


def test_anomaly_needs_min_readings_then_holds_until_clear_threshold() -> None:
    decider = ChannelDecider(PRESSURE, DETECTION)
    assert decider.decide(0.0, 300.0, 0.95) is None  # one reading is not enough
    raised = decider.decide(1.0, 300.0, 0.95)
    assert raised is not None and raised.reason is Reason.ANOMALY and raised.grade is Grade.BLUE
    assert decider.decide(2.0, 300.0, 0.7) is None  # between thresholds: still active, no repeat
    assert decider.active
    assert decider.decide(3.0, 300.0, 0.5) is None  # below clear_threshold once: not yet
    assert decider.active
    cleared = decider.decide(4.0, 300.0, 0.5)  # twice (min_readings): the alarm's lifetime ends
    assert cleared is not None and cleared.cleared and cleared.reason is Reason.ANOMALY
    assert "after 3 s of anomaly" in cleared.message
    assert not decider.active


def test_cooldown_blocks_a_new_anomaly_alert_right_after_clearing() -> None:
    decider = ChannelDecider(PRESSURE, DETECTION)
    decider.decide(0.0, 300.0, 0.95)
    assert decider.decide(1.0, 300.0, 0.95) is not None
    decider.decide(2.0, 300.0, 0.1)
    assert decider.decide(2.5, 300.0, 0.1) is not None  # cleared
    assert decider.decide(3.0, 300.0, 0.95) is None
    assert decider.decide(4.0, 300.0, 0.95) is None  # within cooldown_s
    # the run of high scores continued through the cooldown, so it alerts once it ends
    assert decider.decide(40.0, 300.0, 0.95) is not None


def test_anomaly_grade_grows_with_duration_but_never_reaches_red() -> None:
    decider = ChannelDecider(PRESSURE, DETECTION)
    grades = [d.grade for t in range(0, 1300, 5) if (d := decider.decide(float(t), 300.0, 0.95))]
    assert grades[0] is Grade.BLUE
    assert Grade.YELLOW in grades and grades[-1] is Grade.ORANGE
    assert Grade.RED not in grades


def test_limit_takes_precedence_over_anomaly_for_the_same_reading() -> None:
    decider = ChannelDecider(PRESSURE, DETECTION)
    decider.decide(0.0, 300.0, 0.99)
    decision = decider.decide(1.0, 200.0, 0.99)
    assert decision is not None and decision.reason is Reason.LIMIT


def _spikes(detection: DetectionConfig, spike: range) -> list[tuple[int, Reason, bool]]:
    """Alerts of the default pipeline, warmed up on a noisy level (one reading a minute), when
    the readings of ``spike`` jump far out of the usual range."""
    import random

    from edge.config import SensorConfig
    from edge.detectors import DEFAULT_DETECTOR, make_detector
    from edge.pipeline import ChannelPipeline

    channel = ChannelConfig(name="p")
    sensor = SensorConfig(id="s", kind="water.pressure", driver="lines", port="-", baudrate=9600,
                          channels=(channel,), detection=detection)
    pipeline = ChannelPipeline(sensor, channel, make_detector(DEFAULT_DETECTOR, {}))
    rng = random.Random(3)
    alerts = []
    for i in range(1000):
        value = 40.0 if i in spike else rng.uniform(9.0, 11.0)
        draft = pipeline.process_value(1.7e9 + 60.0 * i, value)
        if draft is not None:
            alerts.append((i, draft.reason, draft.cleared))
    return alerts


def test_with_min_readings_1_a_one_reading_spike_is_one_alarm_that_clears() -> None:
    # Given min_readings = 1, When one reading spikes, Then the alarm starts at the spike and
    # clears on the next reading, and nothing else alerts
    alerts = _spikes(DetectionConfig(min_readings=1), range(800, 801))
    assert alerts == [(800, Reason.ANOMALY, False), (801, Reason.ANOMALY, True)]


def test_by_default_one_reading_alone_is_no_alarm_but_two_are() -> None:
    # Given the shipped settings, When one reading spikes, Then nothing alerts
    assert _spikes(DetectionConfig(), range(800, 801)) == []
    # When two readings in a row spike, Then the alarm starts at the second and clears after
    alerts = _spikes(DetectionConfig(), range(800, 802))
    assert alerts == [(801, Reason.ANOMALY, False), (803, Reason.ANOMALY, True)]
