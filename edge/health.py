"""Sensor health: is this sensor still telling us about the world?

Faults are about the instrument, never the hazard: they become ``sensor_fault``
alerts (maintenance work at the hub) and clear themselves on recovery.

* ``silent``  – no valid reading for ``silence_s`` seconds;
* ``port``    – the serial device cannot be opened or read (unplugged);
* ``garbled`` – more than ``max_error_rate`` of the last ``ERROR_WINDOW`` lines were invalid;
* ``stuck``   – every channel unchanged for ``stuck_s`` seconds (0 disables).

Pure: the I/O layer reports what happened and when; ``evaluate(now)`` says what changed.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

ERROR_WINDOW = 20


@dataclass(frozen=True, slots=True)
class FaultChange:
    fault: str
    active: bool
    message: str


class HealthMonitor:
    def __init__(self, silence_s: float, stuck_s: float, max_error_rate: float,
                 started_at: float) -> None:
        self.silence_s = silence_s
        self.stuck_s = stuck_s
        self.max_error_rate = max_error_rate
        self._last_reading = started_at
        self._last_values: tuple[float, ...] | None = None
        self._unchanged_since = started_at
        self._outcomes: deque[bool] = deque(maxlen=ERROR_WINDOW)
        self._port_error: str | None = None
        self._active: dict[str, str] = {}
        self.counters: dict[str, int] = {}

    @property
    def active_faults(self) -> dict[str, str]:
        return dict(self._active)

    def reading(self, ts: float, values: tuple[float, ...]) -> None:
        self._last_reading = ts
        self._outcomes.append(True)
        self._port_error = None
        if values != self._last_values:
            self._last_values = values
            self._unchanged_since = ts

    def bad_line(self, ts: float, reason: str) -> None:
        self._outcomes.append(False)
        self.counters[reason] = self.counters.get(reason, 0) + 1

    def port_error(self, ts: float, detail: str) -> None:
        self._port_error = detail
        self.counters["port_error"] = self.counters.get("port_error", 0) + 1

    def port_ok(self, ts: float) -> None:
        self._port_error = None

    def _current(self, now: float) -> dict[str, str]:
        faults: dict[str, str] = {}
        if self._port_error is not None:
            faults["port"] = f"serial port unavailable: {self._port_error}"
        if now - self._last_reading >= self.silence_s:
            faults["silent"] = f"no valid reading for {now - self._last_reading:.0f} s"
        errors = self._outcomes.count(False)
        if len(self._outcomes) >= ERROR_WINDOW // 2 and errors / len(self._outcomes) > \
                self.max_error_rate:
            faults["garbled"] = f"{errors} of the last {len(self._outcomes)} lines were invalid"
        if self.stuck_s > 0 and self._last_values is not None and \
                self._last_reading - self._unchanged_since >= self.stuck_s:
            faults["stuck"] = (f"value stuck at {','.join(f'{v:g}' for v in self._last_values)}"
                               f" for {self._last_reading - self._unchanged_since:.0f} s")
        return faults

    def evaluate(self, now: float) -> list[FaultChange]:
        """Faults that started or ended since the last call."""
        current = self._current(now)
        changes = [FaultChange(f, True, m) for f, m in current.items() if f not in self._active]
        changes += [FaultChange(f, False, f"recovered: {m}") for f, m in self._active.items()
                    if f not in current]
        self._active = current
        return changes
