"""Field I/O drivers: one module per way a sensor talks, one small contract (base.py).

``make_reader(sensor, out, stop, mux)`` builds the reader for a configured
sensor. Streaming drivers (``lines``, ``vibration``) are served by a
``StreamMux``, one thread for all their ports (the agent shares one; without
``mux`` a reader gets its own); ``modbus-rtu`` is a thread per sensor. Driver
modules are imported on demand, so a board without Modbus or vibration sensors
never imports pymodbus or numpy.
"""

from __future__ import annotations

import importlib
import queue
import threading
from typing import TYPE_CHECKING

from edge.drivers.base import DecodeError, PortError, Reader, ReaderThread, SensorEvent

if TYPE_CHECKING:
    from edge.config import SensorConfig
    from edge.drivers.stream import StreamMux

# driver name -> (module, reader class: a StreamReader or a ReaderThread)
READERS: dict[str, tuple[str, str]] = {
    "lines": ("edge.drivers.lines", "LinesReader"),
    "modbus-rtu": ("edge.drivers.modbus", "ModbusReader"),
    "vibration": ("edge.drivers.vibration", "VibrationReader"),
}


def make_reader(sensor: SensorConfig, out: queue.Queue[SensorEvent],
                stop: threading.Event, mux: StreamMux | None = None) -> Reader:
    """The reader for ``sensor`` (not started); a streaming one is served by ``mux``."""
    from edge.drivers.stream import StreamReader  # pyserial: not for check-config

    module, name = READERS[sensor.driver]
    cls = getattr(importlib.import_module(module), name)
    reader: Reader = (cls(sensor, out, stop, mux) if issubclass(cls, StreamReader)
                      else cls(sensor, out, stop))
    return reader


__all__ = ["READERS", "DecodeError", "PortError", "Reader", "ReaderThread", "SensorEvent",
           "make_reader"]
