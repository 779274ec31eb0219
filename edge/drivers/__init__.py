"""Field I/O drivers: one module per way a sensor talks, one small contract (base.py).

``make_reader(sensor, out, stop)`` builds the reader thread for a configured
sensor. Driver modules are imported on demand, so a board without Modbus or
vibration sensors never imports pymodbus or numpy.
"""

from __future__ import annotations

import importlib
import queue
import threading
from typing import TYPE_CHECKING

from edge.drivers.base import DecodeError, PortError, ReaderThread, SensorEvent

if TYPE_CHECKING:
    from edge.config import SensorConfig

# driver name -> (module, reader class)
READERS: dict[str, tuple[str, str]] = {
    "lines": ("edge.drivers.lines", "LinesReader"),
    "modbus-rtu": ("edge.drivers.modbus", "ModbusReader"),
    "vibration": ("edge.drivers.vibration", "VibrationReader"),
}


def make_reader(sensor: SensorConfig, out: queue.Queue[SensorEvent],
                stop: threading.Event) -> ReaderThread:
    """The reader thread for ``sensor`` (not started)."""
    module, name = READERS[sensor.driver]
    reader: ReaderThread = getattr(importlib.import_module(module), name)(sensor, out, stop)
    return reader


__all__ = ["READERS", "DecodeError", "PortError", "ReaderThread", "SensorEvent", "make_reader"]
