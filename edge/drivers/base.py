"""The contract every driver shares: what a reader reports, and how it keeps a port open.

A driver is two halves. A **pure decoder** turns bytes (or Modbus registers)
into a tuple of channel values, or raises ``DecodeError`` with a short, stable
``reason`` that health counts (``checksum``, ``timeout``, ``crc`` ...). A thin
**reader** owns the port: it opens it, feeds the decoder, and puts
``SensorEvent``\\ s on the agent's queue:

* ``reading``    – ``values`` holds one decoded value per channel, in channel order;
* ``bad``        – ``reason`` and ``detail`` say why bytes were not a reading;
* ``port_error`` – the port could not be opened or read (``detail``);
* ``port_ok``    – the port is open (again).

A port that vanishes is reopened with capped, jittered backoff; ``heartbeat``
tells the agent's watchdog that the thread serving the sensor is still making
progress. Streaming drivers (``lines``, ``vibration``) share one thread for all
their ports (edge/drivers/stream.py); a request/response driver (``modbus-rtu``)
is a ``ReaderThread``, one thread per sensor. The agent sees either as a ``Reader``.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
from dataclasses import dataclass
from typing import Protocol

from lifeline.errors import EdgeError

log = logging.getLogger(__name__)

MIN_BACKOFF_S = 0.2
MAX_BACKOFF_S = 5.0


class DecodeError(EdgeError, ValueError):
    """Bytes that are not a reading; ``reason`` is a short token for counters."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


class PortError(EdgeError, OSError):
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


class Reader(Protocol):
    """What the agent and the probe hold per sensor: start it, stop it, watch its progress."""

    sensor: str
    port: str
    stop: threading.Event  # set: this sensor's port is closed and no longer read

    @property
    def heartbeat(self) -> float:
        """Last time (monotonic) the thread serving this sensor made progress."""
        ...

    def start(self) -> None: ...

    def is_alive(self) -> bool: ...

    def join(self, timeout: float | None = None) -> None: ...


def backoff_delay(backoff: float) -> float:
    """The wait before reopening a port: ``backoff`` with +-50 % jitter (ports unplugged
    together must not all retry at once)."""
    return backoff * (0.5 + random.random())


def put_batch(out: queue.Queue[SensorEvent], events: list[SensorEvent]) -> list[SensorEvent]:
    """Queue as many of ``events`` as fit, in order, taking the queue's lock and waking its
    consumer once; return those that did not fit.

    Why: a reader that put its readings one by one woke the agent's loop on the first,
    and the two threads then traded the interpreter lock back and forth for the rest.
    """
    with out.not_full:  # the queue's own lock, as put() takes it
        room = out.maxsize - out._qsize() if out.maxsize > 0 else len(events)
        taken = events[:max(room, 0)]
        for event in taken:
            out._put(event)  # the hook put() calls (subclasses such as PriorityQueue keep working)
        out.unfinished_tasks += len(taken)
        if taken:
            out.not_empty.notify(len(taken))
    return events[len(taken):]


class Emitter:
    """Queue events for one sensor without ever blocking its reader (``out``, ``sensor`` and
    ``dropped`` are set by the subclass)."""

    sensor: str
    out: queue.Queue[SensorEvent]
    dropped: int

    def emit(self, event: SensorEvent) -> None:
        """Queue an event; a full queue drops it (counted) rather than blocking the reader."""
        try:
            self.out.put_nowait(event)
        except queue.Full:
            self.lost(1)

    def lost(self, count: int) -> None:
        """Count events a full queue dropped; log the 1st, 10th, 100th and every 1000th."""
        for _ in range(count):
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


class ReaderThread(threading.Thread, Emitter):
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
            self.pause(backoff_delay(self._backoff))
            self._backoff = min(self._backoff * 2, MAX_BACKOFF_S)

    def pause(self, seconds: float) -> None:
        """Wait before reopening, beating meanwhile: waiting out a backoff is not hanging."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0 and not self.stop.is_set():
            self.beat()
            self.stop.wait(min(left, 0.5))
