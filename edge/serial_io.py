"""Serial ports: open one the way every driver needs it, and say clearly why it failed.

The readers themselves live in ``edge/drivers/`` (one module per driver; the
streaming ones served by one thread, ``edge.drivers.stream.StreamMux``; Modbus a
``edge.drivers.base.ReaderThread`` per sensor: reopen with capped, jittered
backoff, heartbeat for the watchdog). ``LineEvent`` is the old name of
``edge.drivers.base.SensorEvent``.
"""

from __future__ import annotations

import serial

from edge.drivers.base import PortError, SensorEvent

LineEvent = SensorEvent


def open_serial(path: str, baudrate: int, *, parity: str = "N", stopbits: int = 1,
                bytesize: int = 8, timeout: float = 0.5) -> serial.Serial:
    """Open ``path``; a missing or refused device raises PortError naming it."""
    try:
        return serial.Serial(path, baudrate, bytesize=bytesize, parity=parity,
                             stopbits=stopbits, timeout=timeout)
    except (serial.SerialException, OSError, ValueError) as exc:
        raise PortError(f"cannot open {path}: {exc}") from exc


__all__ = ["LineEvent", "PortError", "SensorEvent", "open_serial"]
