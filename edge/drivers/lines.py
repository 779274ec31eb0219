"""The ``lines`` driver: one reading per text line (csv or key=value, optional NMEA checksum).

The shared stream thread (edge/drivers/stream.py) reads whatever bytes the port
has; ``LinesDecoder`` cuts them into lines and hands each to the pure parser in
edge/lines.py. Nothing here decides anything.
"""

from __future__ import annotations

from edge.config import SensorConfig
from edge.drivers.base import DecodeError
from edge.drivers.stream import StreamReader
from edge.lines import parse_line

MAX_PENDING = 4096


class LinesDecoder:
    """Pure: bytes as they arrive in, one reading (or error) per complete line out.

    Lines are cut here rather than with pyserial's ``readline``, which costs a system call
    per byte. Blank lines give nothing; a line that never ends (``MAX_PENDING`` bytes without
    a newline) is garbage, handed to the parser as it is so that it is counted.
    """

    def __init__(self, sensor: SensorConfig) -> None:
        self.columns = sensor.columns
        self.keys = sensor.columns if sensor.format == "kv" else None
        self.checksum = sensor.checksum
        self.pending = b""

    def decode(self, raw: bytes) -> tuple[float, ...] | None:
        return parse_line(raw, len(self.columns), keys=self.keys, checksum=self.checksum)

    def feed(self, data: bytes) -> list[tuple[float, ...] | DecodeError]:
        out: list[tuple[float, ...] | DecodeError] = []
        pending = self.pending + data
        if b"\n" in data:
            *lines, pending = pending.split(b"\n")
            for line in lines:
                self._one(line + b"\n", out)
        if len(pending) > MAX_PENDING:
            self._one(pending, out)
            pending = b""
        self.pending = pending
        return out

    def _one(self, raw: bytes, out: list[tuple[float, ...] | DecodeError]) -> None:
        try:
            values = self.decode(raw)
        except DecodeError as exc:  # LineError: a reason the health monitor counts
            out.append(exc)
            return
        if values is not None:
            out.append(values)


class LinesReader(StreamReader):
    def new_decoder(self) -> LinesDecoder:
        return LinesDecoder(self.config)
