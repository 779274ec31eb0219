"""Sensor health: is this sensor still telling us about the world?

Faults are about the instrument, never the hazard: they become ``sensor_fault``
alerts (maintenance work at the hub) and clear themselves on recovery.

* ``silent``  – no valid reading for ``silence_s`` seconds;
* ``port``    – the serial device cannot be opened or read (unplugged);
* ``garbled`` – more than ``max_error_rate`` of the last ``ERROR_WINDOW`` reads were invalid
  (bad lines, checksum or CRC failures, Modbus timeouts and exception replies ...);
* ``stuck``   – every channel unchanged for ``stuck_s`` seconds (0 disables);
* ``range``   – the last reading lies outside a channel's physical measuring range
  (``range_min``/``range_max``): the instrument is lying, so the reading is not used.

A reading whose calibrated value is not a finite number (``inf``, ``nan``, or ``1e308`` times
a ``scale`` of 10) is a bad read like a garbled line (reason ``non_finite``): counted, never
passed on, and a ``garbled`` fault if it persists.

Pure: the I/O layer reports what happened and when; ``evaluate(now)`` says what changed.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass

from edge.config import SensorConfig

ERROR_WINDOW = 20


@dataclass(frozen=True, slots=True)
class FaultChange:
    fault: str
    active: bool
    message: str


@dataclass(frozen=True, slots=True)
class ChannelRange:
    """A channel's calibration and physical measuring range (None = unbounded)."""

    name: str
    scale: float = 1.0
    offset: float = 0.0
    low: float | None = None
    high: float | None = None
    unit: str | None = None

    def value(self, raw: float) -> float:
        return raw * self.scale + self.offset

    def check(self, raw: float) -> str | None:
        value = self.value(raw)
        unit = f" {self.unit}" if self.unit else ""
        if self.low is not None and value < self.low:
            return f"{self.name}={value:g}{unit} is below the measuring range {self.low:g}"
        if self.high is not None and value > self.high:
            return f"{self.name}={value:g}{unit} is above the measuring range {self.high:g}"
        return None


class HealthMonitor:
    def __init__(self, silence_s: float, stuck_s: float, max_error_rate: float,
                 started_at: float, ranges: Sequence[ChannelRange] = ()) -> None:
        self.silence_s = silence_s
        self.stuck_s = stuck_s
        self.max_error_rate = max_error_rate
        self.ranges = tuple(ranges)
        self._last_reading = started_at
        self._last_values: tuple[float, ...] | None = None
        self._unchanged_since = started_at
        self._outcomes: deque[str | None] = deque(maxlen=ERROR_WINDOW)  # None = good
        self._port_error: str | None = None
        self._out_of_range: str | None = None
        self._active: dict[str, str] = {}
        self.counters: dict[str, int] = {}

    @classmethod
    def for_sensor(cls, sensor: SensorConfig, started_at: float) -> HealthMonitor:
        ranges = [ChannelRange(c.name, c.scale, c.offset, c.range_min, c.range_max, c.unit)
                  for c in sensor.channels]
        return cls(sensor.silence_s, sensor.stuck_s, sensor.max_error_rate, started_at, ranges)

    @property
    def active_faults(self) -> dict[str, str]:
        return dict(self._active)

    def _count(self, reason: str) -> None:
        self.counters[reason] = self.counters.get(reason, 0) + 1

    def non_finite(self, values: tuple[float, ...]) -> str | None:
        """What is wrong with a reading whose calibrated values are not all finite, else None."""
        for index, raw in enumerate(values):
            check = self.ranges[index] if index < len(self.ranges) else None
            value = check.value(raw) if check is not None else raw
            if not math.isfinite(value):
                name = check.name if check is not None else f"column {index + 1}"
                return f"{name}: raw {raw!r} calibrates to {value!r}, not a finite number"
        return None

    def reading(self, ts: float, values: tuple[float, ...]) -> bool:
        """Record a decoded reading; False when it is not to be used: a calibrated value that is
        not finite (a bad read, reason ``non_finite``) or outside the physical range (a fault)."""
        if self.non_finite(values) is not None:
            self.bad_line(ts, "non_finite")
            return False
        self._last_reading = ts
        self._outcomes.append(None)
        self._port_error = None
        if values != self._last_values:
            self._last_values = values
            self._unchanged_since = ts
        self._out_of_range = None
        for check, raw in zip(self.ranges, values, strict=False):
            if check.low is None and check.high is None:
                continue
            complaint = check.check(raw)
            if complaint is not None:
                self._out_of_range = complaint
                self._count("out_of_range")
                return False
        return True

    def bad_line(self, ts: float, reason: str) -> None:
        """Record a read that gave no reading (bad line, checksum, CRC, timeout ...)."""
        self._outcomes.append(reason)
        self._count(reason)

    bad_read = bad_line

    def port_error(self, ts: float, detail: str) -> None:
        self._port_error = detail
        self._count("port_error")

    def port_ok(self, ts: float) -> None:
        self._port_error = None

    def _current(self, now: float) -> dict[str, str]:
        faults: dict[str, str] = {}
        if self._port_error is not None:
            faults["port"] = f"serial port unavailable: {self._port_error}"
        if now - self._last_reading >= self.silence_s:
            faults["silent"] = f"no valid reading for {now - self._last_reading:.0f} s"
        errors = Counter(r for r in self._outcomes if r is not None)
        total = sum(errors.values())
        if len(self._outcomes) >= ERROR_WINDOW // 2 and total / len(self._outcomes) > \
                self.max_error_rate:
            detail = ", ".join(f"{reason} {n}" for reason, n in errors.most_common())
            faults["garbled"] = (f"{total} of the last {len(self._outcomes)} reads were invalid "
                                 f"({detail})")
        if self.stuck_s > 0 and self._last_values is not None and \
                self._last_reading - self._unchanged_since >= self.stuck_s:
            faults["stuck"] = (f"value stuck at {','.join(f'{v:g}' for v in self._last_values)}"
                               f" for {self._last_reading - self._unchanged_since:.0f} s")
        if self._out_of_range is not None:
            faults["range"] = self._out_of_range
        return faults

    def evaluate(self, now: float) -> list[FaultChange]:
        """Faults that started or ended since the last call."""
        current = self._current(now)
        changes = [FaultChange(f, True, m) for f, m in current.items() if f not in self._active]
        changes += [FaultChange(f, False, f"recovered: {m}") for f, m in self._active.items()
                    if f not in current]
        self._active = current
        return changes
