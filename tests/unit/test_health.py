"""Sensor health faults start and clear with the sensor, from reported events only."""

from __future__ import annotations

from edge.health import HealthMonitor


def faults(monitor: HealthMonitor, now: float) -> list[tuple[str, bool]]:
    return [(c.fault, c.active) for c in monitor.evaluate(now)]


def test_silence_raises_once_and_clears_on_next_reading() -> None:
    monitor = HealthMonitor(silence_s=5.0, stuck_s=0.0, max_error_rate=0.5, started_at=0.0)
    monitor.reading(1.0, (1.0,))
    assert faults(monitor, 5.0) == []
    assert faults(monitor, 6.5) == [("silent", True)]
    assert faults(monitor, 7.0) == []  # still silent: no repeat
    monitor.reading(8.0, (2.0,))
    assert faults(monitor, 8.0) == [("silent", False)]


def test_garbled_lines_above_rate_raise_a_fault() -> None:
    monitor = HealthMonitor(silence_s=60.0, stuck_s=0.0, max_error_rate=0.5, started_at=0.0)
    for i in range(12):
        monitor.bad_line(float(i), "not_number")
    assert faults(monitor, 12.0) == [("garbled", True)]
    assert monitor.counters == {"not_number": 12}
    for i in range(20):
        monitor.reading(13.0 + i, (float(i),))
    assert faults(monitor, 40.0) == [("garbled", False)]


def test_stuck_value_only_when_enabled() -> None:
    monitor = HealthMonitor(silence_s=60.0, stuck_s=10.0, max_error_rate=0.5, started_at=0.0)
    for t in range(0, 12):
        monitor.reading(float(t), (3.0,))
    assert faults(monitor, 11.0) == [("stuck", True)]
    monitor.reading(12.0, (3.1,))
    assert faults(monitor, 12.0) == [("stuck", False)]


def test_port_error_until_port_ok() -> None:
    monitor = HealthMonitor(silence_s=60.0, stuck_s=0.0, max_error_rate=0.5, started_at=0.0)
    monitor.port_error(1.0, "No such file")
    assert faults(monitor, 1.0) == [("port", True)]
    monitor.port_ok(2.0)
    assert faults(monitor, 2.0) == [("port", False)]


def test_a_reading_outside_the_measuring_range_is_a_fault_not_a_value() -> None:
    from edge.health import ChannelRange

    monitor = HealthMonitor(silence_s=60.0, stuck_s=0.0, max_error_rate=0.5, started_at=0.0,
                            ranges=[ChannelRange("p", scale=0.0625, offset=-250.0, low=-25.0,
                                                 high=1062.5, unit="kPa")])
    assert monitor.reading(1.0, (8000.0,))          # 250 kPa: fine
    assert not monitor.reading(2.0, (3000.0,))      # 2.9 mA: a broken loop
    assert faults(monitor, 2.0) == [("range", True)]
    assert "p=-62.5 kPa is below the measuring range -25" in monitor.active_faults["range"]
    assert monitor.reading(3.0, (8000.0,))
    assert faults(monitor, 3.0) == [("range", False)]
    assert monitor.counters == {"out_of_range": 1}


def test_garbled_message_counts_reasons() -> None:
    monitor = HealthMonitor(silence_s=60.0, stuck_s=0.0, max_error_rate=0.5, started_at=0.0)
    for i in range(8):
        monitor.bad_read(float(i), "timeout")
    for i in range(4):
        monitor.bad_read(float(i), "crc")
    (change,) = monitor.evaluate(12.0)
    assert change.fault == "garbled" and "(timeout 8, crc 4)" in change.message


def test_a_non_finite_calibrated_value_is_a_bad_read_and_garbled_if_it_persists() -> None:
    # Given a channel whose scale turns 1e308 into infinity, and a scale-1 one
    from edge.health import ChannelRange

    ranges = (ChannelRange("p", scale=10.0), ChannelRange("q"))
    monitor = HealthMonitor(silence_s=60.0, stuck_s=0.0, max_error_rate=0.5, started_at=0.0,
                            ranges=ranges)
    assert monitor.reading(1.0, (30.0, 300.0))
    # When p reads 1e308 (inf once calibrated), or q reads nan
    assert not monitor.reading(2.0, (1e308, 300.0))
    assert not monitor.reading(3.0, (30.0, float("nan")))
    assert monitor.reading(4.0, (30.0, 1e308))  # finite: a reading (the detector judges it)
    # Then each is a counted bad read, not a reading
    assert monitor.counters == {"non_finite": 2}
    assert monitor.non_finite((1e308, 1.0)) == "p: raw 1e+308 calibrates to inf, not a finite number"
    # And when they persist, the sensor is garbled
    for t in range(5, 25):
        monitor.reading(float(t), (1e308, 300.0))
    assert [c.fault for c in monitor.evaluate(25.0)] == ["garbled"]


def test_the_pipeline_ignores_a_non_finite_value() -> None:
    from edge.config import ChannelConfig, DetectionConfig, SensorConfig
    from edge.detectors import make_detector
    from edge.pipeline import ChannelPipeline

    channel = ChannelConfig(name="p", scale=10.0)
    sensor = SensorConfig(id="s", kind="water.pressure", driver="lines", port="-", baudrate=9600,
                          channels=(channel,), detection=DetectionConfig())
    pipeline = ChannelPipeline(sensor, channel, make_detector("profile_novelty", {}))
    for i in range(300):
        pipeline.process(1.7e9 + i, 30.0 + (i % 5) * 0.01)
    before = pipeline.detector.state()
    # When a raw 1e308 becomes inf, Then no alert, no context value, no learning
    assert pipeline.process(1.7e9 + 300, 1e308) is None
    assert pipeline.detector.state() == before and 1e309 not in pipeline.context
