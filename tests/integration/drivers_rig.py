"""A reader thread feeding a HealthMonitor, as the agent does: the driver tests' harness."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable

from edge.config import SensorConfig
from edge.drivers import SensorEvent, make_reader
from edge.health import HealthMonitor


class Rig:
    """A reader thread on ``port`` feeding a HealthMonitor, as the agent does."""

    def __init__(self, sensor: SensorConfig) -> None:
        self.events: queue.Queue[SensorEvent] = queue.Queue()
        self.health = HealthMonitor.for_sensor(sensor, time.time())
        self.reader = make_reader(sensor, self.events, threading.Event())
        self.seen: list[SensorEvent] = []
        self.faults: list[tuple[str, bool]] = []
        self.reader.start()

    def pump(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                event = self.events.get(timeout=0.05)
            except queue.Empty:
                continue
            self.seen.append(event)
            if event.kind == "reading":
                self.health.reading(event.ts, event.values)
            elif event.kind == "bad":
                self.health.bad_read(event.ts, event.reason)
            elif event.kind == "port_error":
                self.health.port_error(event.ts, event.detail)
            else:
                self.health.port_ok(event.ts)
            self.faults += [(c.fault, c.active) for c in self.health.evaluate(time.time())]
        self.faults += [(c.fault, c.active) for c in self.health.evaluate(time.time())]

    def until(self, what: str, check: Callable[[], object], timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.pump(0.1)
            if check():
                return
        raise AssertionError(f"timed out waiting for {what}; faults {self.faults}, "
                             f"last events {self.seen[-5:]}")

    def readings(self) -> list[tuple[float, ...]]:
        return [e.values for e in self.seen if e.kind == "reading"]

    def reasons(self) -> list[str]:
        return [e.reason for e in self.seen if e.kind == "bad"]

    def close(self) -> None:
        self.reader.stop.set()
        self.reader.join(timeout=3)


