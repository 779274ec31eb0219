"""The ``modbus-rtu`` driver: poll a unit's registers over RS-485 with pymodbus.

Each poll reads the sensor's register plan (edge/drivers/registers.py: as few
requests as possible) and decodes one value per channel. What goes wrong is
counted, never fatal:

* ``timeout``   – the unit did not answer within ``timeout_s`` (silent device, cut wire);
* ``crc``       – bytes came back but no valid frame (noise, CRC error, wrong baud rate);
* ``exception`` – the unit answered with a Modbus exception (illegal address, busy ...);
* a vanished port (USB adapter unplugged) is a port error: the client is closed and
  the port reopened with backoff.

pymodbus is imported here only, and this module only when a modbus sensor is configured.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from typing import Any

from pymodbus import FramerType
from pymodbus.client import ModbusSerialClient
from pymodbus.exceptions import ConnectionException, ModbusIOException

from edge.config import ModbusConfig, SensorConfig
from edge.drivers.base import DecodeError, PortError, ReaderThread, SensorEvent
from edge.drivers.registers import Block, decode_blocks, plan_reads
from edge.serial_io import held_by_another, held_message

log = logging.getLogger(__name__)

# pymodbus logs every timeout at ERROR; we count and report them ourselves.
logging.getLogger("pymodbus").setLevel(logging.CRITICAL)

EXCEPTION_NAMES = {1: "illegal function", 2: "illegal data address", 3: "illegal data value",
                   4: "device failure", 5: "acknowledge", 6: "device busy",
                   10: "gateway path unavailable", 11: "gateway target failed to respond"}


class ModbusReader(ReaderThread):
    def __init__(self, sensor: SensorConfig, out: queue.Queue[SensorEvent],
                 stop: threading.Event) -> None:
        super().__init__(sensor.id, sensor.port, out, stop)
        assert sensor.modbus is not None
        self.config = sensor
        self.modbus: ModbusConfig = sensor.modbus
        self.blocks = plan_reads(self.modbus.registers)
        self._received = 0

    def _trace(self, sending: bool, data: bytes) -> bytes:
        if not sending:
            self._received = max(self._received, len(data))
        return data

    def session(self) -> None:
        c = self.config
        if not os.path.exists(c.port):
            raise PortError(f"cannot open {c.port}: no such device")
        client = ModbusSerialClient(c.port, framer=FramerType.RTU, baudrate=c.baudrate,
                                    bytesize=c.bytesize, parity=c.parity, stopbits=c.stopbits,
                                    timeout=self.modbus.timeout_s, retries=0,
                                    trace_packet=self._trace)
        try:
            if not client.connect():  # pymodbus opens it exclusively, and only says no
                raise PortError(held_message(c.port) if held_by_another(c.port)
                                else f"cannot open {c.port}")
            self.opened()
            self._poll(client)
        finally:
            client.close()  # type: ignore[no-untyped-call]

    def _poll(self, client: ModbusSerialClient) -> None:
        due = time.monotonic()
        while not self.stop.is_set():
            self.beat()
            ts = time.time()
            try:
                self.reading(self.read_once(client), ts)
            except DecodeError as exc:
                self.bad(exc, ts)
            due += self.modbus.poll_s
            now = time.monotonic()
            if due < now:  # fell behind (timeouts): start afresh rather than burst
                due = now
            self.stop.wait(due - now)

    def read_once(self, client: ModbusSerialClient) -> tuple[float, ...]:
        """One poll of every block; DecodeError with a counted reason, PortError if the port died."""
        words = [self._read_block(client, block) for block in self.blocks]
        return decode_blocks(self.blocks, words, len(self.modbus.registers))

    def _read_block(self, client: ModbusSerialClient, block: Block) -> list[int]:
        self._received = 0
        read = (client.read_holding_registers if block.table == "holding"
                else client.read_input_registers)
        where = f"{block.table} registers {block.address}..{block.address + block.count - 1}"
        try:
            reply: Any = read(block.address, count=block.count, device_id=self.modbus.unit_id)
        except ConnectionException as exc:
            raise PortError(f"{self.config.port}: {exc}") from exc
        except ModbusIOException as exc:
            if not os.path.exists(self.config.port):
                raise PortError(f"{self.config.port} vanished") from exc
            if self._received:
                raise DecodeError("crc", f"unit {self.modbus.unit_id}: {self._received} byte(s) "
                                  f"but no valid reply reading {where}") from exc
            raise DecodeError("timeout", f"unit {self.modbus.unit_id}: no reply within "
                              f"{self.modbus.timeout_s:g} s reading {where}") from exc
        if reply.isError():
            code = getattr(reply, "exception_code", 0)
            raise DecodeError("exception", f"unit {self.modbus.unit_id} answered exception "
                              f"{code} ({EXCEPTION_NAMES.get(code, 'unknown')}) reading {where}")
        registers: list[int] = list(reply.registers)
        return registers
