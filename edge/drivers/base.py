"""The contract every driver shares: what a reader thread reports, and how it keeps a port open.

A driver is two halves. A **pure decoder** turns bytes (or Modbus registers)
into a tuple of channel values, or raises ``DecodeError`` with a short, stable
``reason`` that health counts (``checksum``, ``timeout``, ``crc`` ...). A thin
**reader thread** (a ``ReaderThread`` subclass) owns the port: it opens it,
feeds the decoder, and puts ``SensorEvent``\\ s on the agent's queue:

* ``reading``    – ``values`` holds one decoded value per channel, in channel order;
* ``bad``        – ``reason`` and ``detail`` say why bytes were not a reading;
* ``port_error`` – the port could not be opened or read (``detail``);
* ``port_ok``    – the port is open (again).

A port that vanishes is reopened with capped, jittered backoff; ``heartbeat``
tells the agent's watchdog that the thread is still making progress.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
from dataclasses import dataclass

log = logging.getLogger(__name__)

MIN_BACKOFF_S = 0.2
MAX_BACKOFF_S = 5.0


class DecodeError(ValueError):
    """Bytes that are not a reading; ``reason`` is a short token for counters."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


class PortError(OSError):
    """The port cannot be used (gone, unplugged, refused); the reader reopens it with backoff."""


@dataclass(frozen=True, slots=True)
class SensorEvent:
    """What a reader thread saw, and when (wall-clock seconds)."""

    sensor: str
    kind: str  # reading | bad | port_error | port_ok
    ts: float
    values: tuple[float, ...] = ()
    reason: str = ""
    detail: str = ""

    def __post_init__(self) -> None:
        if self.kind not in ("reading", "bad", "port_error", "port_ok"):
            raise ValueError(f"unknown sensor event kind {self.kind!r}")


class ReaderThread(threading.Thread):
    """One thread per sensor: keep the port open, report readings and errors, never decide."""

    def __init__(self, sensor: str, port: str, out: queue.Queue[SensorEvent],
                 stop: threading.Event) -> None:
        super().__init__(name=f"reader-{sensor}", daemon=True)
        self.sensor = sensor
        self.port = port
        self.out = out
        self.stop = stop
        # Last time this thread made progress; the agent stops feeding the systemd watchdog
        # when a reader hangs (a blocked read must not look healthy).
        self.heartbeat = time.monotonic()
        self.dropped = 0
        self._backoff = MIN_BACKOFF_S

    # -- reporting (used by subclasses) -------------------------------------------------
    def emit(self, event: SensorEvent) -> None:
        """Queue an event; a full queue drops it (counted) rather than blocking the reader."""
        try:
            self.out.put_nowait(event)
        except queue.Full:
            self.dropped += 1
            if self.dropped in (1, 10, 100) or self.dropped % 1000 == 0:
                log.warning("event queue full: dropped %d event(s) sensor=%s", self.dropped,
                            self.sensor)

    def reading(self, values: tuple[float, ...], ts: float | None = None) -> None:
        self.emit(SensorEvent(self.sensor, "reading", time.time() if ts is None else ts,
                              values=values))

    def bad(self, error: DecodeError, ts: float | None = None) -> None:
        self.emit(SensorEvent(self.sensor, "bad", time.time() if ts is None else ts,
                              reason=error.reason, detail=str(error)))

    def beat(self) -> None:
        self.heartbeat = time.monotonic()

    # -- the loop -------------------------------------------------------------------------
    def session(self) -> None:
        """Open the port, report ``port_ok`` via ``opened()``, read until stopped or failed.

        Raise ``PortError`` or ``OSError`` when the port fails; the loop reopens it.
        """
        raise NotImplementedError

    def opened(self) -> None:
        log.info("port open sensor=%s port=%s", self.sensor, self.port)
        self.emit(SensorEvent(self.sensor, "port_ok", time.time()))
        self._backoff = MIN_BACKOFF_S

    def run(self) -> None:
        while not self.stop.is_set():
            self.beat()
            try:
                self.session()
            except OSError as exc:  # PortError, serial.SerialException (an IOError) and OS errors
                log.warning("port error sensor=%s port=%s: %s", self.sensor, self.port, exc)
                self.emit(SensorEvent(self.sensor, "port_error", time.time(), detail=str(exc)))
            if self.stop.is_set():
                return
            self.pause(self._backoff * (0.5 + random.random()))
            self._backoff = min(self._backoff * 2, MAX_BACKOFF_S)

    def pause(self, seconds: float) -> None:
        """Wait before reopening, beating meanwhile: waiting out a backoff is not hanging."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0 and not self.stop.is_set():
            self.beat()
            self.stop.wait(min(left, 0.5))
