"""The ``lines`` driver: one reading per text line (csv or key=value, optional NMEA checksum).

The thread reads lines with pyserial and hands each to the pure parser in
edge/lines.py; it never decides anything.
"""

from __future__ import annotations

import queue
import threading
import time

import serial

from edge.config import SensorConfig
from edge.drivers.base import DecodeError, ReaderThread, SensorEvent
from edge.lines import LineError, parse_line
from edge.serial_io import open_serial

MAX_PENDING = 4096


class LinesDecoder:
    """Pure: a raw line in, the sensor's values (or None for a blank line) out."""

    def __init__(self, sensor: SensorConfig) -> None:
        self.columns = sensor.columns
        self.keys = sensor.columns if sensor.format == "kv" else None
        self.checksum = sensor.checksum

    def decode(self, raw: bytes) -> tuple[float, ...] | None:
        return parse_line(raw, len(self.columns), keys=self.keys, checksum=self.checksum)


class LinesReader(ReaderThread):
    def __init__(self, sensor: SensorConfig, out: queue.Queue[SensorEvent],
                 stop: threading.Event) -> None:
        super().__init__(sensor.id, sensor.port, out, stop)
        self.config = sensor
        self.decoder = LinesDecoder(sensor)

    def session(self) -> None:
        c = self.config
        with open_serial(c.port, c.baudrate, parity=c.parity, stopbits=c.stopbits,
                         bytesize=c.bytesize, timeout=0.5) as port:
            self.opened()
            self._read(port)

    def _read(self, port: serial.Serial) -> None:
        """Take whatever bytes are waiting (at least one, within the port's timeout) and cut
        them into lines. pyserial's ``readline`` costs a system call per byte, which capped
        a sensor at what a bare readline loop manages."""
        pending = b""
        while not self.stop.is_set():
            self.beat()
            chunk = port.read(max(1, port.in_waiting))
            if not chunk:
                continue
            pending += chunk
            if b"\n" in chunk:
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    self.handle(line + b"\n")
            if len(pending) > MAX_PENDING:  # a line that never ends is garbage, not a reading
                self.handle(pending)
                pending = b""

    def handle(self, raw: bytes) -> None:
        ts = time.time()
        try:
            values = self.decoder.decode(raw)
        except (LineError, DecodeError) as exc:
            self.bad(exc, ts)
            return
        if values is not None:
            self.reading(values, ts)
