"""Serial ports: open one the way every driver needs it, and say clearly why it failed.

The readers themselves live in ``edge/drivers/`` (one module per driver; the
streaming ones served by one thread, ``edge.drivers.stream.StreamMux``; Modbus a
``edge.drivers.base.ReaderThread`` per sensor: reopen with capped, jittered
backoff, heartbeat for the watchdog). ``LineEvent`` is the old name of
``edge.drivers.base.SensorEvent``.
"""

from __future__ import annotations

import errno
import fcntl
import os

import serial

from edge.drivers.base import PortError, SensorEvent

LineEvent = SensorEvent
_HELD = (errno.EAGAIN, errno.EWOULDBLOCK, errno.EACCES)


def held_message(path: str) -> str:
    """The PortError text for a port another process has open exclusively."""
    return (f"cannot open {path}: another process holds it (a running lifeline-edge, a probe "
            "or a terminal program?); two readers would each get part of its stream, so stop "
            "the other one first")


def open_serial(path: str, baudrate: int, *, parity: str = "N", stopbits: int = 1,
                bytesize: int = 8, timeout: float = 0.5) -> serial.Serial:
    """Open ``path`` exclusively (an advisory ``flock``, as pyserial's ``exclusive=True`` and
    pymodbus do): a second reader would split one stream between two processes, each
    seeing half the lines. A missing, refused or held device raises PortError naming it."""
    try:
        return serial.Serial(path, baudrate, bytesize=bytesize, parity=parity,
                             stopbits=stopbits, timeout=timeout, exclusive=True)
    except serial.SerialException as exc:
        if exc.errno in _HELD and "lock" in str(exc):
            raise PortError(held_message(path)) from exc
        raise PortError(f"cannot open {path}: {exc}") from exc
    except (OSError, ValueError) as exc:
        raise PortError(f"cannot open {path}: {exc}") from exc


def held_by_another(path: str) -> bool:
    """Does another open file description hold ``path``'s exclusive lock? For a driver whose
    library opens the port and only says it failed (pymodbus)."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        return exc.errno in _HELD
    finally:
        os.close(fd)  # closing the descriptor drops a lock it took
    return False


__all__ = ["LineEvent", "PortError", "SensorEvent", "held_by_another", "held_message",
           "open_serial"]
