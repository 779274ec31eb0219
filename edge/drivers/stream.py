"""One thread for every streaming serial port (the ``lines`` and ``vibration`` drivers).

Why: with a thread per port, every line woke its own thread, which took the
interpreter lock and made its own ``select`` and ``read`` calls; under the field
load (16 line sensors at 10 Hz and an accelerometer) the 17 reader threads used
more CPU than everything else in the agent. A ``StreamMux`` instead waits in one
``select`` on every open port, reads what each has waiting with one ``os.read``,
hands the bytes to that sensor's pure decoder and queues what comes out.

Per port it keeps what a ``ReaderThread`` does: a port that cannot be opened, or
that fails (end of file, EIO: unplugged), is reported (``port_error``), closed and
reopened with capped, jittered backoff; every opening reports ``port_ok`` and
starts a fresh decoder. Each sensor is a ``StreamReader``: to the agent it looks
like a reader thread (``start``, ``stop``, ``heartbeat``, ``is_alive``), its
heartbeat being the shared thread's. Request/response drivers (Modbus) keep a
thread of their own: they wait on each reply, not on bytes arriving.
"""

from __future__ import annotations

import logging
import os
import queue
import selectors
import threading
import time
from collections import Counter
from typing import TYPE_CHECKING, Protocol

import serial

from edge.drivers.base import (
    MAX_BACKOFF_S,
    MIN_BACKOFF_S,
    DecodeError,
    Emitter,
    SensorEvent,
    backoff_delay,
    put_batch,
)
from edge.serial_io import open_serial

if TYPE_CHECKING:
    from edge.config import SensorConfig

log = logging.getLogger(__name__)

IDLE_S = 1.0  # longest wait in select: the heartbeat's pace when no port has bytes
READ_BYTES = 65536
NO_DATA = ("device reports readiness to read but returned no data "
           "(device disconnected or multiple access on port?)")


class StreamDecoder(Protocol):
    """Pure: bytes as they arrive in, readings and counted errors out, in order."""

    def feed(self, data: bytes) -> list[tuple[float, ...] | DecodeError]: ...


class StreamReader(Emitter):
    """One streaming sensor, served by a ``StreamMux`` (its own, unless one is given).

    Subclasses say how to decode (``new_decoder``). The port's state belongs to the mux
    thread; other threads only ``start`` the reader and set ``stop``. Events wait in
    ``batch`` until the mux queues everything one wake-up produced at once.
    """

    def __init__(self, sensor: SensorConfig, out: queue.Queue[SensorEvent],
                 stop: threading.Event, mux: StreamMux | None = None) -> None:
        self.config = sensor
        self.sensor = sensor.id
        self.port = sensor.port
        self.out = out
        self.stop = stop
        self.dropped = 0
        self.mux = mux if mux is not None else StreamMux(f"reader-{sensor.id}", private=True)
        # owned by the mux thread:
        self.serial: serial.Serial | None = None
        self.decoder: StreamDecoder | None = None
        self.retry_at = 0.0  # monotonic time of the next attempt to open; 0: at once
        self.backoff = MIN_BACKOFF_S
        self.batch: list[SensorEvent] = []

    def emit(self, event: SensorEvent) -> None:
        self.batch.append(event)  # queued by StreamMux.flush, in order

    def new_decoder(self) -> StreamDecoder:
        """A decoder for a fresh opening of the port (a reopened port starts a new stream)."""
        raise NotImplementedError

    # -- the Reader contract ----------------------------------------------------------------
    @property
    def heartbeat(self) -> float:
        return self.mux.heartbeat

    def start(self) -> None:
        self.mux.add(self)

    def is_alive(self) -> bool:
        return self.mux.is_alive()

    def join(self, timeout: float | None = None) -> None:
        """Wait for a private mux to end (after ``stop``); a shared one ends with its owner."""
        if self.mux.private:
            self.mux.join(timeout)

    # -- the port, in the mux thread ---------------------------------------------------------
    def open(self) -> int:
        """Open the port and report it; return its file descriptor. PortError if it fails."""
        c = self.config
        self.serial = open_serial(c.port, c.baudrate, parity=c.parity, stopbits=c.stopbits,
                                  bytesize=c.bytesize, timeout=0)
        self.decoder = self.new_decoder()
        self.backoff = MIN_BACKOFF_S
        log.info("port open sensor=%s port=%s", self.sensor, self.port)
        self.emit(SensorEvent(self.sensor, "port_ok", time.time()))
        fd: int = self.serial.fileno()
        return fd

    def close(self) -> None:
        if self.serial is not None:
            try:
                self.serial.close()
            except (OSError, serial.SerialException):
                pass  # a port that is gone cannot be closed cleanly; its descriptor is freed
            self.serial = None
        self.decoder = None

    def failed(self, detail: str, mono: float) -> None:
        """Report a port that could not be opened or read; try again after the backoff."""
        self.close()
        log.warning("port error sensor=%s port=%s: %s", self.sensor, self.port, detail)
        self.emit(SensorEvent(self.sensor, "port_error", time.time(), detail=detail))
        self.retry_at = mono + backoff_delay(self.backoff)
        self.backoff = min(self.backoff * 2, MAX_BACKOFF_S)

    def take(self, data: bytes, ts: float) -> None:
        """Decode bytes read at ``ts`` and queue the readings and errors, in order."""
        assert self.decoder is not None
        for item in self.decoder.feed(data):
            if isinstance(item, DecodeError):
                self.bad(item, ts)
            else:
                self.emit(SensorEvent(self.sensor, "reading", ts, values=item))


class StreamMux(threading.Thread):
    """The thread that serves many ``StreamReader``\\ s: one ``select`` over their open ports.

    A private mux (a reader's own) ends once its readers are stopped; the agent's shared
    one ends when ``stop`` is set.
    """

    def __init__(self, name: str = "reader-streams", private: bool = False) -> None:
        super().__init__(name=name, daemon=True)
        self.private = private
        self.stop = threading.Event()
        self.heartbeat = time.monotonic()
        # Reentrant: the agent's SIGTERM handler wakes the mux, and may interrupt the main
        # thread inside add() or wake().
        self._lock = threading.RLock()
        self._added: list[StreamReader] = []
        self._readers: list[StreamReader] = []  # owned by the thread
        # Made when the thread starts, so a mux that never runs holds no descriptors.
        self._selector: selectors.BaseSelector | None = None
        self._wake_r = self._wake_w = -1

    def add(self, reader: StreamReader) -> None:
        """Serve ``reader`` from now on (its port opens at once); starts the thread if needed."""
        with self._lock:
            self._added.append(reader)
            if self._selector is None:
                self._selector = selectors.DefaultSelector()
                self._wake_r, self._wake_w = os.pipe()
                os.set_blocking(self._wake_r, False)
                os.set_blocking(self._wake_w, False)
                self._selector.register(self._wake_r, selectors.EVENT_READ, None)
                self.start()
        self.wake()

    def wake(self) -> None:
        """Make the thread look at its readers now (one added or stopped), not at its next beat."""
        with self._lock:
            if self._wake_w < 0:
                return  # not started, or ended
            try:
                os.write(self._wake_w, b"\0")
            except BlockingIOError:
                pass  # the pipe is full: a wake-up is pending anyway

    def shutdown(self) -> None:
        self.stop.set()
        self.wake()

    def run(self) -> None:
        selector = self._selector
        assert selector is not None
        try:
            while not self.stop.is_set():
                mono = time.monotonic()
                self.heartbeat = mono
                timeout = self._tend(mono, selector)
                if self.private and not self._readers:
                    return
                self.flush()
                ready = selector.select(timeout)
                if ready:
                    self._read(ready, selector)
                    self.flush()
        finally:
            for reader in self._readers:
                reader.close()
            with self._lock:
                selector.close()
                os.close(self._wake_r)
                os.close(self._wake_w)
                self._wake_r = self._wake_w = -1

    def flush(self) -> None:
        """Queue what the readers have gathered: one batch per queue (the agent has one), so
        its loop wakes once per wake-up of this thread, not once per reading."""
        batches: dict[int, tuple[queue.Queue[SensorEvent], list[SensorEvent]]] = {}
        for reader in self._readers:
            if reader.batch:
                batches.setdefault(id(reader.out), (reader.out, []))[1].extend(reader.batch)
                reader.batch.clear()
        for out, events in batches.values():
            dropped = Counter(e.sensor for e in put_batch(out, events))  # full: drop, never block
            for reader in self._readers:
                if reader.out is out and reader.sensor in dropped:
                    reader.lost(dropped.pop(reader.sensor))

    def _tend(self, mono: float, selector: selectors.BaseSelector) -> float:
        """Take new readers, drop stopped ones, open ports that are due; return how long
        select may wait (until the next reopen, at most ``IDLE_S``)."""
        with self._lock:
            added, self._added = self._added, []
        self._readers += added
        timeout = IDLE_S
        keep = []
        for reader in self._readers:
            if reader.stop.is_set():
                if reader.serial is not None:
                    selector.unregister(reader.serial.fileno())
                reader.close()
                continue
            keep.append(reader)
            if reader.serial is None:
                if mono >= reader.retry_at:
                    try:
                        selector.register(reader.open(), selectors.EVENT_READ, reader)
                    except OSError as exc:  # PortError: cannot open
                        reader.failed(str(exc), mono)
                if reader.serial is None:
                    timeout = min(timeout, max(0.0, reader.retry_at - mono))
        self._readers = keep
        return timeout

    def _read(self, ready: list[tuple[selectors.SelectorKey, int]],
              selector: selectors.BaseSelector) -> None:
        for key, _ in ready:
            reader: StreamReader | None = key.data
            if reader is None:  # the wake-up pipe
                try:
                    os.read(self._wake_r, 4096)
                except BlockingIOError:
                    pass
                continue
            if reader.serial is None or reader.stop.is_set():
                continue  # stopped meanwhile: _tend closes it
            try:
                data = os.read(key.fd, READ_BYTES)
            except BlockingIOError:
                continue
            except OSError as exc:  # EIO: the device is gone (a USB adapter unplugged)
                detail = f"read failed: {exc}"
            else:
                if data:  # one clock read per read: these bytes arrived together
                    reader.take(data, time.time())
                    continue
                detail = NO_DATA  # end of file: the other end is gone
            selector.unregister(key.fd)
            reader.failed(detail, time.monotonic())
