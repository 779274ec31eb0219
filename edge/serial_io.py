"""Serial I/O: one thread per sensor reads lines with pyserial and hands them to the agent.

The thread never parses or decides; it reports what the line gave it (a raw
line, a port error, the port back) with the time it happened. A port that
vanishes (USB unplugged, pseudo-terminal closed) is reopened with capped,
jittered backoff; the agent turns the reports into sensor health.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
from dataclasses import dataclass

import serial

log = logging.getLogger(__name__)

MAX_BACKOFF_S = 5.0


@dataclass(frozen=True, slots=True)
class LineEvent:
    """``kind`` is ``line`` (payload = raw bytes), ``port_error`` (payload = detail) or ``port_ok``."""

    sensor: str
    kind: str
    ts: float
    payload: bytes | str


class LineReader(threading.Thread):
    def __init__(self, sensor: str, port: str, baudrate: int, out: queue.Queue[LineEvent],
                 stop: threading.Event) -> None:
        super().__init__(name=f"serial-{sensor}", daemon=True)
        self.sensor = sensor
        self.port = port
        self.baudrate = baudrate
        self.out = out
        self.stop = stop
        # Last time this thread made progress; the agent stops feeding the systemd watchdog
        # when a reader hangs (a blocked read must not look healthy).
        self.heartbeat = time.monotonic()

    def run(self) -> None:
        backoff = 0.2
        while not self.stop.is_set():
            self.heartbeat = time.monotonic()
            try:
                with serial.Serial(self.port, self.baudrate, timeout=0.5) as line:
                    log.info("serial port open sensor=%s port=%s", self.sensor, self.port)
                    self.out.put(LineEvent(self.sensor, "port_ok", time.time(), ""))
                    backoff = 0.2
                    self._read(line)
            except (serial.SerialException, OSError) as exc:
                log.warning("serial port error sensor=%s port=%s: %s", self.sensor, self.port, exc)
                self.out.put(LineEvent(self.sensor, "port_error", time.time(), str(exc)))
                self.stop.wait(backoff * (0.5 + random.random()))
                backoff = min(backoff * 2, MAX_BACKOFF_S)

    def _read(self, line: serial.Serial) -> None:
        pending = b""
        while not self.stop.is_set():
            self.heartbeat = time.monotonic()
            chunk = line.readline()
            if not chunk:
                continue
            pending += chunk
            if not pending.endswith(b"\n"):
                if len(pending) > 4096:  # a line that never ends is garbage, not a reading
                    self.out.put(LineEvent(self.sensor, "line", time.time(), pending))
                    pending = b""
                continue
            self.out.put(LineEvent(self.sensor, "line", time.time(), pending))
            pending = b""
