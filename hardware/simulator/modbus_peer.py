"""A Modbus RTU slave on a serial path: pymodbus's own server, with registers set from Python.

Runs ``pymodbus.server.ModbusSerialServer`` on its own asyncio loop in a
background thread. ``set(address, words)`` changes what the unit answers from
the next request on; holding and input registers share one table (0..count-1).
Used by the demo's field simulator and by the driver tests, always behind a
``NullModem`` so both ends open a serial path.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Sequence
from typing import Any

from pymodbus import FramerType
from pymodbus.server import ModbusSerialServer
from pymodbus.simulator import DataType, SimData, SimDevice

# pymodbus logs a line per request at DEBUG and warnings about its own deprecations
logging.getLogger("pymodbus").setLevel(logging.CRITICAL)


class ModbusPeer:
    def __init__(self, path: str, unit_ids: Sequence[int] = (1,), *, baudrate: int = 9600,
                 registers: int = 100) -> None:
        self.path = path
        self.words: dict[int, dict[int, int]] = {u: {} for u in unit_ids}
        self.requests = 0
        self._loop = asyncio.new_event_loop()
        self._server: Any = None
        self._ready = threading.Event()
        devices = [SimDevice(u, simdata=[SimData(0, count=registers, values=0,
                                                 datatype=DataType.REGISTERS)],
                             action=self._action_for(u)) for u in unit_ids]
        self._thread = threading.Thread(target=self._run, args=(devices, baudrate),
                                        name="modbus-peer", daemon=True)
        self._thread.start()
        if not self._ready.wait(5):
            raise RuntimeError(f"modbus server on {path} did not start")

    def _action_for(self, unit: int) -> Any:
        async def action(function_code: int, start_address: int, address: int, count: int,
                         current: list[int], set_values: Any) -> None:
            self.requests += 1
            table = self.words[unit]
            for offset in range(len(current)):
                if start_address + offset in table:
                    current[offset] = table[start_address + offset]
            return None
        return action

    def _run(self, devices: list[SimDevice], baudrate: int) -> None:
        asyncio.set_event_loop(self._loop)

        async def serve() -> None:
            self._server = ModbusSerialServer(devices, framer=FramerType.RTU, port=self.path,
                                              baudrate=baudrate)
            self._ready.set()
            await self._server.serve_forever()

        try:
            self._loop.run_until_complete(serve())
        except (asyncio.CancelledError, RuntimeError):
            pass
        finally:
            pending = [t for t in asyncio.all_tasks(self._loop) if not t.done()]
            for task in pending:
                task.cancel()
            if pending:
                self._loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            self._loop.close()

    def set(self, address: int, words: Sequence[int], unit: int | None = None) -> None:
        table = self.words[unit if unit is not None else next(iter(self.words))]
        for offset, word in enumerate(words):
            table[address + offset] = word & 0xFFFF

    def close(self) -> None:
        if self._server is not None and self._loop.is_running():
            future = asyncio.run_coroutine_threadsafe(self._server.shutdown(), self._loop)
            try:
                future.result(timeout=3)
            except Exception:  # noqa: BLE001 - best effort on the way out
                pass
        self._thread.join(timeout=3)

    def __enter__(self) -> ModbusPeer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
