"""Edge configuration: ``edge.toml`` -> frozen dataclasses, or ConfigError lines ``file: key: problem``.

The keys of issue 2 (``[device] id zone``, ``[mqtt] host port``, ``[[sensors]] id kind
driver port baudrate columns``, optional ``low``/``high``) are public interface.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lifeline.tomlconfig import ConfigError, Section, raise_if_problems, root
from lifeline.wire import FAMILIES

DRIVERS = ("lines",)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_KIND = re.compile(r"^(water|gas|structure)\.[a-z][a-z0-9_]{0,31}$")


def _name_check(text: str) -> str | None:
    if _NAME.match(text):
        return None
    return f"{text!r} is not a valid name (letters, digits, '.', '_', '-'; at most 64)"


def _kind_check(text: str) -> str | None:
    if _KIND.match(text):
        return None
    return (f"{text!r} is not family.quantity with family one of {', '.join(FAMILIES)} "
            "(e.g. 'water.pressure')")


@dataclass(frozen=True)
class DeviceConfig:
    id: str
    zone: str
    state_dir: Path | None = None


@dataclass(frozen=True)
class MqttConfig:
    host: str = "127.0.0.1"
    port: int = 1883
    client_id: str = ""
    keepalive: int = 30


@dataclass(frozen=True)
class ChannelConfig:
    """One column of a sensor: calibration, unit and physical limits."""

    name: str
    unit: str | None = None
    scale: float = 1.0
    offset: float = 0.0
    low: float | None = None
    high: float | None = None
    low_critical: float | None = None
    high_critical: float | None = None


@dataclass(frozen=True)
class DetectionConfig:
    """How scores become alerts (see edge/decide.py)."""

    detector: str = "default"
    params: dict[str, Any] = field(default_factory=dict)
    threshold: float = 0.9
    clear_threshold: float = 0.6
    min_readings: int = 2
    cooldown_s: float = 30.0
    repeat_s: float = 15.0


@dataclass(frozen=True)
class SensorConfig:
    id: str
    kind: str
    driver: str
    port: str
    baudrate: int
    channels: tuple[ChannelConfig, ...]
    detection: DetectionConfig
    silence_s: float = 10.0
    stuck_s: float = 0.0
    max_error_rate: float = 0.5

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.channels)

    @property
    def family(self) -> str:
        return self.kind.split(".", 1)[0]


@dataclass(frozen=True)
class EdgeConfig:
    path: Path
    device: DeviceConfig
    mqtt: MqttConfig
    sensors: tuple[SensorConfig, ...]
    detection: DetectionConfig
    outbox_max_alerts: int = 100_000


def _detection(sec: Section, base: DetectionConfig) -> DetectionConfig:
    params = sec.data.get("params", {}) if isinstance(sec.data.get("params", {}), dict) else {}
    sec.read.add("params")
    if "params" in sec.data and not isinstance(sec.data["params"], dict):
        sec.problem("params", "expected a table of detector parameters")
    threshold = sec.float("threshold", base.threshold, min=0.0, max=1.0)
    clear = sec.float("clear_threshold", base.clear_threshold, min=0.0, max=1.0)
    if clear is not None and threshold is not None and clear > threshold:
        sec.problem("clear_threshold", f"{clear} must not exceed threshold {threshold}")
    return DetectionConfig(
        detector=sec.str("detector", base.detector),
        params=dict(params) or dict(base.params),
        threshold=threshold,
        clear_threshold=clear,
        min_readings=sec.int("min_readings", base.min_readings, min=1, max=10_000),
        cooldown_s=sec.float("cooldown_s", base.cooldown_s, min=0.0),
        repeat_s=sec.float("repeat_s", base.repeat_s, min=1.0),
    )


def _limits(sec: Section, defaults: ChannelConfig | None, name: str) -> ChannelConfig:
    d = defaults or ChannelConfig(name=name)
    channel = ChannelConfig(
        name=name,
        unit=sec.str("unit", d.unit),
        scale=sec.float("scale", d.scale),
        offset=sec.float("offset", d.offset),
        low=sec.float("low", d.low),
        high=sec.float("high", d.high),
        low_critical=sec.float("low_critical", d.low_critical),
        high_critical=sec.float("high_critical", d.high_critical),
    )
    if channel.low is not None and channel.high is not None and channel.low >= channel.high:
        sec.problem("low", f"{channel.low} must be below high {channel.high}")
    if (channel.low_critical is not None and channel.low is not None
            and channel.low_critical > channel.low):
        sec.problem("low_critical", f"{channel.low_critical} must not be above low {channel.low}")
    if (channel.high_critical is not None and channel.high is not None
            and channel.high_critical < channel.high):
        sec.problem("high_critical",
                    f"{channel.high_critical} must not be below high {channel.high}")
    return channel


def _sensor(sec: Section, base: DetectionConfig) -> SensorConfig | None:
    sensor_id = sec.str("id", check=_name_check)
    kind = sec.str("kind", check=_kind_check)
    driver = sec.str("driver", choices=DRIVERS)
    port = sec.str("port")
    baudrate = sec.int("baudrate", 9600, min=50, max=4_000_000)
    columns = sec.str_list("columns", min_len=1)
    defaults = _limits(sec, None, "")
    per_channel = sec.section("channels", required=False)
    channels: list[ChannelConfig] = []
    for column in columns or ():
        if _name_check(column):
            sec.problem("columns", _name_check(column) or "")
        if column in per_channel.data:
            per_channel.read.add(column)
            channels.append(_limits(per_channel.section(column), defaults, column))
        else:
            channels.append(ChannelConfig(**{**defaults.__dict__, "name": column}))
    per_channel.finish()
    if columns and len(set(columns)) != len(columns):
        sec.problem("columns", "column names must be unique")
    detection = _detection(sec.section("detection", required=False), base)
    silence_s = sec.float("silence_s", 10.0, min=0.1)
    stuck_s = sec.float("stuck_s", 0.0, min=0.0)
    max_error_rate = sec.float("max_error_rate", 0.5, min=0.0, max=1.0)
    sec.finish()
    if None in (sensor_id, kind, driver, port, columns):
        return None
    return SensorConfig(id=sensor_id, kind=kind, driver=driver, port=port, baudrate=baudrate,
                        channels=tuple(channels), detection=detection, silence_s=silence_s,
                        stuck_s=stuck_s, max_error_rate=max_error_rate)


def load_edge_config(path: str | Path) -> EdgeConfig:
    """Read and validate ``edge.toml``; raise ConfigError listing every problem found."""
    top = root(path)
    dev = top.section("device")
    device_id = dev.str("id", check=_name_check)
    zone = dev.str("zone", check=_name_check)
    state_dir = dev.str("state_dir", None)
    dev.finish()
    box = top.section("outbox", required=False)
    outbox_max_alerts = box.int("max_alerts", 100_000, min=10, max=10_000_000)
    box.finish()
    mq = top.section("mqtt")
    mqtt = MqttConfig(
        host=mq.str("host", "127.0.0.1"),
        port=mq.int("port", 1883, min=1, max=65535),
        client_id=mq.str("client_id", ""),
        keepalive=mq.int("keepalive", 30, min=5, max=3600),
    )
    mq.finish()
    detection = _detection(top.section("detection", required=False), DetectionConfig())
    sensors = [s for s in (_sensor(sec, detection) for sec in top.sections("sensors")) if s]
    seen: set[str] = set()
    for index, sensor in enumerate(sensors):
        if sensor.id in seen:
            top.problem(f"sensors[{index}].id", f"duplicate sensor id {sensor.id!r}")
        seen.add(sensor.id)
    top.finish()
    raise_if_problems(top)
    base = Path(path).resolve().parent
    return EdgeConfig(
        path=Path(path),
        device=DeviceConfig(id=device_id, zone=zone,
                            state_dir=(base / state_dir) if state_dir else None),
        mqtt=mqtt,
        sensors=tuple(sensors),
        detection=detection,
        outbox_max_alerts=outbox_max_alerts,
    )



__all__ = ["ChannelConfig", "ConfigError", "DetectionConfig", "DeviceConfig", "EdgeConfig",
           "MqttConfig", "SensorConfig", "load_edge_config"]
