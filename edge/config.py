"""Edge configuration: ``edge.toml`` -> frozen dataclasses, or ConfigError lines ``file: key: problem``.

The keys of issue 2 (``[device] id zone``, ``[mqtt] host port``, ``[[sensors]] id kind
driver port baudrate columns``, optional ``low``/``high``) are public interface.
Drivers (``lines``, ``modbus-rtu``, ``vibration``) add their own keys, and a sensor
may start from a profile (``profile = "methane-lel-modbus"``, see edge/drivers/profiles.py).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge.drivers.frames import FEATURES, MAX_AXES, MAX_SAMPLES, feature_names
from edge.drivers.profiles import ProfileOrigin, apply_profile, blame_profile, default_profile_dirs
from edge.drivers.registers import DATA_TYPES, ORDERS, TABLES, RegisterSpec
from lifeline.kinds import kind_problem
from lifeline.metrics_config import MetricsConfig, parse_metrics
from lifeline.mqtt_config import MqttConfig, parse_mqtt
from lifeline.tomlconfig import ConfigError, Section, raise_if_problems, root
from lifeline.wire import FAMILIES

DRIVERS = ("lines", "modbus-rtu", "vibration")
# keys only one driver reads; another driver's sensor naming one is told so
DRIVER_KEYS = {
    "lines": ("columns", "format", "checksum"),
    "modbus-rtu": ("unit_id", "poll_s", "timeout_s", "registers"),
    "vibration": ("sample_rate_hz", "axes", "window_s", "sample_scale", "bands"),
}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_KIND = re.compile(r"^(water|gas|structure)\.[a-z][a-z0-9_]{0,31}$")


def _name_check(text: str) -> str | None:
    if _NAME.match(text):
        return None
    return f"{text!r} is not a valid name (letters, digits, '.', '_', '-'; at most 64)"


def _kind_check(text: str) -> str | None:
    if _KIND.match(text):
        return kind_problem(text)  # "water.presure": a typo of a known kind (lifeline/kinds.py)
    return (f"{text!r} is not family.quantity with family one of {', '.join(FAMILIES)} "
            "(e.g. 'water.pressure')")


@dataclass(frozen=True)
class DeviceConfig:
    id: str
    zone: str
    state_dir: Path | None = None


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
    range_min: float | None = None   # the instrument's measuring range: outside it is a fault
    range_max: float | None = None


@dataclass(frozen=True)
class ModbusConfig:
    """``modbus-rtu``: poll these registers of this unit."""

    unit_id: int
    registers: tuple[RegisterSpec, ...]
    poll_s: float = 1.0
    timeout_s: float = 0.5


@dataclass(frozen=True)
class VibrationConfig:
    """``vibration``: binary frames reduced to features per window and axis."""

    sample_rate_hz: int
    axes: tuple[str, ...] = ("x", "y", "z")
    window_s: float = 1.0
    sample_scale: float = 0.001
    bands: tuple[tuple[float, float], ...] = ()

    @property
    def window(self) -> int:
        return max(1, round(self.window_s * self.sample_rate_hz))


@dataclass(frozen=True)
class DetectionConfig:
    """How scores become alerts (see edge/decide.py)."""

    detector: str = "default"
    params: dict[str, Any] = field(default_factory=dict)
    threshold: float = 0.9
    clear_threshold: float = 0.6
    # readings in a row at or above threshold that start an alarm: one reading alone is never an
    # alarm (it is held back and learned if the next is normal; docs/detectors.md)
    min_readings: int = 2
    cooldown_s: float = 30.0
    repeat_s: float = 15.0
    # an anomaly that stays this long is accepted as the new normal (docs/detectors.md)
    accept_after_s: float = 21600.0
    # "auto": a multichannel detector on sensors with >= 3 numeric columns; "none": off
    multichannel: str = "auto"


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
    parity: str = "N"
    stopbits: int = 1
    bytesize: int = 8
    format: str = "csv"            # lines: csv | kv
    checksum: bool = False         # lines: require $...*HH
    modbus: ModbusConfig | None = None
    vibration: VibrationConfig | None = None
    profile: str | None = None     # the profile name this sensor started from
    profile_path: Path | None = None

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
    profile_dirs: tuple[Path, ...] = ()
    metrics: MetricsConfig = field(default_factory=MetricsConfig)


MULTICHANNEL = ("auto", "none")


def _detector_problems(name: str, params: dict[str, Any]) -> list[tuple[str, str]]:
    """(key, problem) for a detector name or parameters that would not build."""
    from edge.detectors import DEFAULT_DETECTOR, REGISTRY, make_detector, parameter_names

    if name != "default" and name not in REGISTRY:
        choices = ("default", *sorted(REGISTRY))
        close = difflib.get_close_matches(name, choices, n=1, cutoff=0.5)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return [("detector", f"{name!r} is not one of {', '.join(choices)}{hint}")]
    actual = DEFAULT_DETECTOR if name == "default" else name
    known = parameter_names(actual)
    unknown = [key for key in params if key not in known]
    if unknown:
        problems = []
        for key in unknown:
            close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            problems.append((f"params.{key}", f"is not a parameter of detector {actual!r}{hint}"))
        return problems
    try:
        make_detector(actual, params)
    except (TypeError, ValueError, KeyError) as exc:
        return [("params", f"detector {actual!r} cannot be built with these parameters: {exc}")]
    return []


def _detection(sec: Section, base: DetectionConfig) -> DetectionConfig:
    params = sec.data.get("params", {}) if isinstance(sec.data.get("params", {}), dict) else {}
    sec.read.add("params")
    if "params" in sec.data and not isinstance(sec.data["params"], dict):
        sec.problem("params", "expected a table of detector parameters")
    threshold = sec.float("threshold", base.threshold, min=0.0, max=1.0)
    clear = sec.float("clear_threshold", base.clear_threshold, min=0.0, max=1.0)
    if clear is not None and threshold is not None and clear > threshold:
        sec.problem("clear_threshold", f"{clear} must not exceed threshold {threshold}")
    detector = sec.str("detector", base.detector)
    # the sensor's own params belong to its own detector; inherited ones to the inherited one
    params = dict(params) if "params" in sec.data else (
        dict(base.params) if detector == base.detector else {})
    if isinstance(detector, str) and ("detector" in sec.data or "params" in sec.data):
        for key, problem in _detector_problems(detector, params):
            sec.problem(key, problem)
    detection = DetectionConfig(
        detector=detector,
        params=params,
        threshold=threshold,
        clear_threshold=clear,
        min_readings=sec.int("min_readings", base.min_readings, min=1, max=10_000),
        cooldown_s=sec.float("cooldown_s", base.cooldown_s, min=0.0),
        repeat_s=sec.float("repeat_s", base.repeat_s, min=1.0),
        accept_after_s=sec.float("accept_after_s", base.accept_after_s, min=1.0),
        multichannel=sec.str("multichannel", base.multichannel, choices=MULTICHANNEL),
    )
    sec.finish()
    return detection


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
        range_min=sec.float("range_min", d.range_min),
        range_max=sec.float("range_max", d.range_max),
    )
    if (channel.range_min is not None and channel.range_max is not None
            and channel.range_min >= channel.range_max):
        sec.problem("range_min", f"{channel.range_min} must be below range_max {channel.range_max}")
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


def _registers(sec: Section) -> tuple[RegisterSpec, ...]:
    specs: list[RegisterSpec] = []
    for reg in sec.sections("registers", required=True):
        name = reg.str("name", check=_name_check)
        address = reg.int("address", min=0, max=65535)
        type_ = reg.str("type", "uint16", choices=tuple(DATA_TYPES))
        table = reg.str("table", "holding", choices=TABLES)
        word_order = reg.str("word_order", "big", choices=ORDERS)
        byte_order = reg.str("byte_order", "big", choices=ORDERS)
        reg.finish()
        if name is None or address is None or type_ not in DATA_TYPES or table not in TABLES \
                or word_order not in ORDERS or byte_order not in ORDERS:
            continue
        if address + DATA_TYPES[type_][0] > 65536:
            reg.problem("address", f"{type_} at {address} runs past register 65535")
            continue
        specs.append(RegisterSpec(name, address, type_, table, word_order, byte_order))
    if not specs and "registers" in sec.data and not sec.problems:
        sec.problem("registers", "expected at least one [[sensors.registers]] table")
    return tuple(specs)


def _modbus(sec: Section) -> ModbusConfig | None:
    unit_id = sec.int("unit_id", 1, min=1, max=247)
    poll_s = sec.float("poll_s", 1.0, min=0.05, max=3600.0)
    timeout_s = sec.float("timeout_s", 0.5, min=0.05, max=10.0)
    registers = _registers(sec)
    names = [r.name for r in registers]
    if len(set(names)) != len(names):
        sec.problem("registers", "register names must be unique (each is a channel)")
    if timeout_s is not None and poll_s is not None and timeout_s > poll_s * 4:
        sec.problem("timeout_s", f"{timeout_s} s is more than 4 polls ({poll_s} s each)")
    if not registers:
        return None
    return ModbusConfig(unit_id=unit_id, registers=registers, poll_s=poll_s, timeout_s=timeout_s)


def _bands(sec: Section, rate: int | None) -> tuple[tuple[float, float], ...]:
    raw = sec.data.get("bands", [])
    sec.read.add("bands")
    bands: list[tuple[float, float]] = []
    if not isinstance(raw, list):
        sec.problem("bands", "expected an array of [low_hz, high_hz] pairs")
        return ()
    for index, band in enumerate(raw):
        if not (isinstance(band, list) and len(band) == 2
                and all(isinstance(v, int | float) and not isinstance(v, bool) for v in band)):
            sec.problem(f"bands[{index}]", f"expected [low_hz, high_hz], found {band!r}")
            continue
        low, high = float(band[0]), float(band[1])
        if not 0 <= low < high:
            sec.problem(f"bands[{index}]", f"[{low:g}, {high:g}] needs 0 <= low < high")
        elif rate is not None and high > rate / 2:
            sec.problem(f"bands[{index}]", f"{high:g} Hz is above the Nyquist frequency "
                        f"{rate / 2:g} Hz of sample_rate_hz {rate}")
        bands.append((low, high))
    return tuple(bands)


def _vibration(sec: Section) -> VibrationConfig | None:
    rate = sec.int("sample_rate_hz", min=1, max=65535)
    axes = sec.str_list("axes", ("x", "y", "z"), min_len=1)
    if axes is not None and len(axes) > MAX_AXES:
        sec.problem("axes", f"at most {MAX_AXES} axes (x, y, z)")
    window_s = sec.float("window_s", 1.0, min=0.05, max=60.0)
    scale = sec.float("sample_scale", 0.001)
    bands = _bands(sec, rate)
    if rate is None or axes is None:
        return None
    config = VibrationConfig(sample_rate_hz=rate, axes=axes, window_s=window_s,
                             sample_scale=scale, bands=bands)
    if config.window < 8:
        sec.problem("window_s", f"a window of {config.window} samples is too short for features")
    if config.window > 64 * MAX_SAMPLES:
        sec.problem("window_s", f"a window of {config.window} samples is too long")
    return config


def _driver_keys(sec: Section, driver: str) -> None:
    """Another driver's key is a mistake worth naming precisely."""
    for other, keys in DRIVER_KEYS.items():
        if other == driver:
            continue
        for key in keys:
            if key in sec.data and key not in DRIVER_KEYS.get(driver, ()):
                sec.read.add(key)
                sec.problem(key, f"is only used by driver {other!r}, not {driver!r}")


def _channel_names(sec: Section, driver: str | None) -> tuple[tuple[str, ...] | None,
                                                               ModbusConfig | None,
                                                               VibrationConfig | None]:
    if driver == "modbus-rtu":
        modbus = _modbus(sec)
        return (tuple(r.name for r in modbus.registers) if modbus else None), modbus, None
    if driver == "vibration":
        vibration = _vibration(sec)
        if vibration is None:
            return None, None, None
        return feature_names(vibration.axes, vibration.bands, FEATURES), None, vibration
    return sec.str_list("columns", min_len=1), None, None


def _feature_unit(channel: str, unit: str | None, vibration: VibrationConfig | None) -> str | None:
    """Vibration features: crest factor has no unit, band energies are in unit squared."""
    if vibration is None or unit is None:
        return unit
    if channel.endswith("_crest"):
        return None
    return f"{unit}²" if "_band_" in channel else unit


def _sensor(sec: Section, base: DetectionConfig,
            origin: ProfileOrigin | None = None) -> SensorConfig | None:
    sensor_id = sec.str("id", check=_name_check)
    kind = sec.str("kind", check=_kind_check)
    driver = sec.str("driver", choices=DRIVERS)
    port = sec.str("port")
    baudrate = sec.int("baudrate", 9600, min=50, max=4_000_000)
    parity = sec.str("parity", "N", choices=("N", "E", "O"))
    stopbits = sec.int("stopbits", 1, min=1, max=2)
    bytesize = sec.int("bytesize", 8, min=5, max=8)
    sec.str("profile", None)  # applied by apply_profile before we get here
    if driver in DRIVERS:
        _driver_keys(sec, driver)
    fmt = sec.str("format", "csv", choices=("csv", "kv")) if driver == "lines" else "csv"
    checksum = sec.bool("checksum", False) if driver == "lines" else False
    before = len(sec.problems)
    columns, modbus, vibration = _channel_names(sec, driver)
    # channel tables are checked against the channel names only when those are all known: a
    # bad register or axis must not also make its [channels.*] table "not a valid option"
    names_known = columns is not None and len(sec.problems) == before
    defaults = _limits(sec, None, "")
    per_channel = sec.section("channels", required=False)
    channels: list[ChannelConfig] = []
    for column in columns or ():
        if _name_check(column):
            sec.problem("columns", _name_check(column) or "")
        if column in per_channel.data:
            per_channel.read.add(column)
            own_channel = per_channel.section(column)
            channels.append(_limits(own_channel, defaults, column))
            own_channel.finish()  # "hihg" in [sensors.channels.x] is a mistake, not a no-op
        else:
            channels.append(ChannelConfig(**{**defaults.__dict__, "name": column,
                                             "unit": _feature_unit(column, defaults.unit,
                                                                   vibration)}))
    if names_known:
        per_channel.finish()
    if columns and len(set(columns)) != len(columns):
        sec.problem("columns", "column names must be unique")
    detection = _detection(sec.section("detection", required=False), base)
    silence_default = 10.0
    if modbus is not None:
        silence_default = max(10.0, 5 * modbus.poll_s)
    elif vibration is not None:
        silence_default = max(10.0, 3 * vibration.window_s)
    silence_s = sec.float("silence_s", silence_default, min=0.1)
    stuck_s = sec.float("stuck_s", 0.0, min=0.0)
    max_error_rate = sec.float("max_error_rate", 0.5, min=0.0, max=1.0)
    sec.finish()
    if sensor_id is None or kind is None or driver is None or port is None or columns is None:
        return None  # each was recorded as a problem, so the file is refused
    return SensorConfig(id=sensor_id, kind=kind, driver=driver, port=port, baudrate=baudrate,
                        channels=tuple(channels), detection=detection, silence_s=silence_s,
                        stuck_s=stuck_s, max_error_rate=max_error_rate, parity=parity,
                        stopbits=stopbits, bytesize=bytesize, format=fmt, checksum=checksum,
                        modbus=modbus, vibration=vibration,
                        profile=origin.name if origin else None,
                        profile_path=origin.path if origin else None)


def load_edge_config(path: str | Path) -> EdgeConfig:
    """Read and validate ``edge.toml``; raise ConfigError listing every problem found."""
    top = root(path)
    base = Path(path).resolve().parent
    profiles_dir = top.str("profiles_dir", None)
    profile_dirs = (base / profiles_dir,) if profiles_dir else default_profile_dirs()
    dev = top.section("device")
    device_id = dev.str("id", check=_name_check)
    zone = dev.str("zone", check=_name_check)
    state_dir = dev.str("state_dir", None)
    dev.finish()
    box = top.section("outbox", required=False)
    outbox_max_alerts = box.int("max_alerts", 100_000, min=10, max=10_000_000)
    box.finish()
    # every key has a default (docs/edge.md); the client id defaults to lifeline-edge-<id>
    mqtt = parse_mqtt(top.section("mqtt", required=False), Path(path).resolve().parent)
    detection = _detection(top.section("detection", required=False), DetectionConfig())
    metrics = parse_metrics(top.section("metrics", required=False), base)
    sensors: list[SensorConfig] = []
    paths: list[str] = []
    # a sensor is named by its id in errors (sensors['manhole-methane']), by index without one
    for own in top.sections("sensors", label_by="id"):
        sec, origin = apply_profile(own, profile_dirs)
        if origin is None and "profile" in own.data:
            continue  # the profile could not be applied: its one line says it all
        before = len(top.problems)
        sensor = _sensor(sec, detection, origin)
        blame_profile(top.problems, before, own.path, origin)
        if sensor is not None:
            sensors.append(sensor)
            paths.append(own.path)
    seen: set[str] = set()
    ports: dict[str, str] = {}
    for where, sensor in zip(paths, sensors, strict=True):
        if sensor.id in seen:
            top.problem(f"{where}.id", f"duplicate sensor id {sensor.id!r}")
        seen.add(sensor.id)
        if sensor.port in ports:
            top.problem(f"{where}.port", f"{sensor.port} is already read by sensor "
                        f"{ports[sensor.port]!r}: a port has one reader (several Modbus units "
                        "on one bus are not supported yet)")
        ports.setdefault(sensor.port, sensor.id)
    top.finish()
    raise_if_problems(top, lines=True)
    assert device_id is not None and zone is not None  # else a problem was raised just above
    return EdgeConfig(
        path=Path(path),
        device=DeviceConfig(id=device_id, zone=zone,
                            state_dir=(base / state_dir) if state_dir else None),
        mqtt=mqtt,
        sensors=tuple(sensors),
        detection=detection,
        outbox_max_alerts=outbox_max_alerts,
        profile_dirs=profile_dirs,
        metrics=metrics,
    )

def _channel_text(channel: ChannelConfig) -> str:
    parts = [channel.name]
    if channel.scale != 1.0 or channel.offset != 0.0:
        parts.append(f"= raw * {channel.scale:g} + {channel.offset:g}")
    if channel.unit:
        parts.append(channel.unit)
    if channel.range_min is not None or channel.range_max is not None:
        parts.append(f"range {channel.range_min if channel.range_min is not None else '-inf'}.."
                     f"{channel.range_max if channel.range_max is not None else 'inf'}")
    for key in ("low_critical", "low", "high", "high_critical"):
        value = getattr(channel, key)
        if value is not None:
            parts.append(f"{key} {value:g}")
    return " ".join(parts)


def describe(sensor: SensorConfig) -> list[str]:
    """The effective settings of one sensor (profile applied), as lines for a technician."""
    lines = [f"{sensor.id}: {sensor.kind} via {sensor.driver} on {sensor.port} @ {sensor.baudrate} "
             f"baud {sensor.bytesize}{sensor.parity}{sensor.stopbits}, "
             f"channels {', '.join(sensor.columns)}"]
    if sensor.profile:
        lines.append(f"  profile {sensor.profile} ({sensor.profile_path})")
    if sensor.driver == "lines":
        lines.append(f"  format {sensor.format}, checksum {'required' if sensor.checksum else 'if present'}")
    if sensor.modbus is not None:
        m = sensor.modbus
        lines.append(f"  unit {m.unit_id}, poll every {m.poll_s:g} s, timeout {m.timeout_s:g} s")
        for r in m.registers:
            order = f", word {r.word_order}, byte {r.byte_order}" if r.width > 1 or \
                r.byte_order != "big" else ""
            lines.append(f"  register {r.name}: {r.table} {r.address} {r.type}{order}")
    if sensor.vibration is not None:
        v = sensor.vibration
        bands = ", ".join(f"{lo:g}-{hi:g} Hz" for lo, hi in v.bands) or "none"
        lines.append(f"  {v.sample_rate_hz} Hz, axes {', '.join(v.axes)}, window {v.window_s:g} s "
                     f"({v.window} samples), {v.sample_scale:g} per count, bands {bands}")
    lines += [f"  channel {_channel_text(c)}" for c in sensor.channels]
    lines.append(f"  health: silent after {sensor.silence_s:g} s, stuck after "
                 f"{sensor.stuck_s:g} s (0 = off), garbled above {sensor.max_error_rate:g} bad reads")
    return lines


__all__ = ["ChannelConfig", "ConfigError", "DetectionConfig", "DeviceConfig", "EdgeConfig",
           "ModbusConfig", "MqttConfig", "SensorConfig", "VibrationConfig", "describe",
           "load_edge_config"]
