"""Vibration frames: the binary wire format of a high-rate accelerometer, and its channels.

Frame format, version 1 (all integers little-endian)::

    offset  size        field
    0       2           sync word: bytes A5 5A
    2       1           version: 1
    3       1           axes: 1..3 (x, y, z in that order)
    4       2           n: samples per axis in this frame, 1..1024 (uint16)
    6       2           sample rate in Hz (uint16)
    8       4           sequence number, +1 per frame, wraps at 2**32 (uint32)
    12      2 * n * a   samples, int16 counts, interleaved: x0 y0 z0 x1 y1 z1 ...
    12+2na  2           CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF) of bytes 2..12+2na

Pure: ``FrameDecoder.feed(bytes)`` returns whole frames and ``DecodeError``\\ s
(``sync``, ``bad_header``, ``crc``, ``frame_gap``); it resynchronises on the
next sync word after any error. No numpy here: features live in features.py.
"""

from __future__ import annotations

import binascii
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from edge.drivers.base import DecodeError

SYNC = b"\xa5\x5a"
VERSION = 1
HEADER = struct.Struct("<2sBBHHI")  # sync, version, axes, n, rate, seq
MAX_SAMPLES = 1024
MAX_AXES = 3
FEATURES = ("rms", "peak", "crest")


def crc16(data: bytes) -> int:
    """CRC-16/CCITT-FALSE; ``crc16(b"123456789") == 0x29B1``."""
    return binascii.crc_hqx(data, 0xFFFF)


@dataclass(frozen=True, slots=True)
class Frame:
    seq: int
    rate_hz: int
    axes: int
    samples: bytes  # n * axes int16 little-endian counts, interleaved

    @property
    def n(self) -> int:
        return len(self.samples) // (2 * self.axes)


def encode_frame(seq: int, rate_hz: int, samples: Sequence[Sequence[int]]) -> bytes:
    """A frame of ``samples`` (one row of counts per sample, one count per axis)."""
    axes = len(samples[0])
    body = HEADER.pack(SYNC, VERSION, axes, len(samples), rate_hz, seq & 0xFFFFFFFF)[2:]
    body += struct.pack(f"<{len(samples) * axes}h", *(c for row in samples for c in row))
    return SYNC + body + struct.pack("<H", crc16(body))


class FrameDecoder:
    """Bytes in, frames and counted errors out; resynchronises after garbage."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._last_seq: int | None = None

    def feed(self, data: bytes) -> list[Frame | DecodeError]:
        self._buffer += data
        out: list[Frame | DecodeError] = []
        while True:
            start = self._buffer.find(SYNC)
            if start < 0:  # keep a trailing A5: it may be the first half of a sync word
                junk = len(self._buffer) - (1 if self._buffer.endswith(SYNC[:1]) else 0)
                if junk:
                    out.append(DecodeError("sync", f"skipped {junk} byte(s) without a sync word"))
                    del self._buffer[:junk]
                return out
            if start > 0:
                out.append(DecodeError("sync", f"skipped {start} byte(s) before a sync word"))
                del self._buffer[:start]
            if len(self._buffer) < HEADER.size:
                return out
            _, version, axes, n, rate, seq = HEADER.unpack_from(self._buffer)
            if version != VERSION or not 1 <= axes <= MAX_AXES or not 1 <= n <= MAX_SAMPLES:
                out.append(DecodeError("bad_header", f"frame header version={version} "
                                       f"axes={axes} n={n} is not valid"))
                del self._buffer[:2]
                continue
            size = HEADER.size + 2 * n * axes + 2
            if len(self._buffer) < size:
                return out
            body = bytes(self._buffer[2:size - 2])
            (given,) = struct.unpack_from("<H", self._buffer, size - 2)
            if crc16(body) != given:
                out.append(DecodeError("crc", f"frame seq={seq} CRC {given:04X} does not match "
                                       f"{crc16(body):04X}"))
                del self._buffer[:2]
                continue
            del self._buffer[:size]
            if self._last_seq is not None and seq != (self._last_seq + 1) & 0xFFFFFFFF:
                lost = (seq - self._last_seq - 1) & 0xFFFFFFFF
                out.append(DecodeError("frame_gap", f"{lost} frame(s) lost before seq={seq}"))
            self._last_seq = seq
            out.append(Frame(seq, rate, axes, body[HEADER.size - 2:]))


def band_name(band: tuple[float, float]) -> str:
    return f"band_{band[0]:g}_{band[1]:g}"


def feature_names(axes: Sequence[str], bands: Sequence[tuple[float, float]],
                  features: Sequence[str] = FEATURES) -> tuple[str, ...]:
    """The channels a vibration sensor yields, in order: per axis, features then bands.

    >>> feature_names(["x"], [(10, 50)])
    ('x_rms', 'x_peak', 'x_crest', 'x_band_10_50')
    """
    return tuple(f"{axis}_{name}" for axis in axes
                 for name in (*features, *(band_name(b) for b in bands)))
