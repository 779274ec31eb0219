"""The modbus-rtu driver against pymodbus's own RTU server, over a null-modem pair of ptys.

Faults are made on the wire (hardware/simulator/nullmodem.py): a server that
stops answering, noise that garbles replies, an adapter that is unplugged.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge.config import SensorConfig, load_edge_config
from edge.drivers.registers import RegisterSpec, encode
from hardware.simulator.modbus_peer import ModbusPeer
from hardware.simulator.nullmodem import NullModem
from tests.integration.drivers_rig import Rig
from tests.support.edgetoml import write_edge_toml

pytestmark = pytest.mark.integration

UNIT = 7


def sensor_config(tmp_path: Path, port: str) -> SensorConfig:
    path = write_edge_toml(tmp_path / "edge.toml", sensors=[{
        "id": "gas", "profile": "methane-lel-modbus", "port": port, "baudrate": 38400,
        "unit_id": UNIT, "poll_s": 0.1, "timeout_s": 0.15, "silence_s": 1.0,
        "registers": [{"name": "methane_lel", "address": 0},
                      {"name": "temp_c", "address": 4, "type": "float32",
                       "word_order": "little"}]}])
    return load_edge_config(path).sensors[0]


@pytest.fixture
def wire() -> Iterator[tuple[NullModem, ModbusPeer]]:
    with NullModem() as modem, ModbusPeer(modem.b_path, (UNIT,), baudrate=38400) as peer:
        peer.set(0, [235])                                    # 2.35 %LEL
        peer.set(4, encode(21.5, "float32", word_order="little"))
        yield modem, peer


def test_registers_are_decoded_and_a_server_that_stops_answering_is_a_cleared_fault(
        tmp_path: Path, wire: tuple[NullModem, ModbusPeer]) -> None:
    modem, peer = wire
    rig = Rig(sensor_config(tmp_path, modem.a_path))
    try:
        # Given a unit answering with a uint16 and a word-swapped float32
        rig.until("readings", lambda: len(rig.readings()) >= 3)
        assert rig.readings()[-1] == (235.0, 21.5)
        # When the unit stops answering (bytes vanish on the wire)
        modem.mode = "drop"
        # Then every poll is a counted timeout, and the sensor goes garbled and silent
        rig.until("silent and garbled faults", lambda: {("silent", True), ("garbled", True)}
                  <= set(rig.faults))
        assert set(rig.reasons()) == {"timeout"}
        assert rig.health.counters["timeout"] >= 5
        # When it answers again
        modem.mode = "pass"
        # Then readings resume and both faults clear themselves
        rig.until("faults cleared", lambda: {("silent", False), ("garbled", False)}
                  <= set(rig.faults))
        assert rig.readings()[-1] == (235.0, 21.5)
        assert rig.reader.is_alive()
    finally:
        rig.close()


def test_garbled_replies_count_as_crc_errors_and_exceptions_are_counted(
        tmp_path: Path, wire: tuple[NullModem, ModbusPeer]) -> None:
    modem, _ = wire
    rig = Rig(sensor_config(tmp_path, modem.a_path))
    try:
        rig.until("a reading", lambda: rig.readings())
        # When noise flips the bits of every reply
        modem.mode = "garble"
        rig.until("crc errors", lambda: rig.reasons().count("crc") >= 3)
        modem.mode = "pass"
        rig.until("readings again", lambda: len(rig.readings()) >= 3 and
                  rig.seen[-1].kind == "reading")
    finally:
        rig.close()
    # When a register the unit does not have is polled
    base = sensor_config(tmp_path, modem.a_path)
    assert base.modbus is not None
    rig = Rig(dataclasses.replace(
        base, channels=base.channels[:1],
        modbus=dataclasses.replace(base.modbus, registers=(RegisterSpec("far", 500),))))
    try:
        # Then the unit's exception reply is counted, not fatal
        rig.until("exception replies", lambda: rig.reasons().count("exception") >= 2)
        assert "illegal data address" in next(e.detail for e in rig.seen if e.kind == "bad")
        assert rig.reader.is_alive()
    finally:
        rig.close()


def test_a_vanished_adapter_is_a_port_fault_until_the_symlink_points_at_a_new_one(
        tmp_path: Path) -> None:
    link = tmp_path / "rs485-gas"  # like udev's /dev/lifeline/<name>
    with NullModem() as first, ModbusPeer(first.b_path, (UNIT,), baudrate=38400) as peer:
        peer.set(0, [100])
        os.symlink(first.a_path, link)
        rig = Rig(sensor_config(tmp_path, str(link)))
        try:
            rig.until("a reading", lambda: rig.readings())
            # When the adapter is unplugged (udev removes its link, its device node goes)
            os.unlink(link)
            first.close_a()
            # Then the driver reports a port fault and keeps retrying with backoff
            rig.until("port fault", lambda: ("port", True) in rig.faults)
            with NullModem() as second, ModbusPeer(second.b_path, (UNIT,),
                                                   baudrate=38400) as peer2:
                peer2.set(0, [4200])
                # When the adapter comes back under the same name
                os.symlink(second.a_path, link)
                # Then the port reopens, readings resume and the fault clears
                rig.until("port fault cleared", lambda: ("port", False) in rig.faults and
                          (4200.0, 0.0) in rig.readings(), timeout=10)
        finally:
            rig.close()
    assert sum(1 for e in rig.seen if e.kind == "port_ok") >= 2


def test_a_silent_line_gives_timeouts_and_a_silent_fault(tmp_path: Path) -> None:
    # Given a wired port with nobody answering on it
    with NullModem() as modem:
        rig = Rig(sensor_config(tmp_path, modem.a_path))
        try:
            # Then the sensor is reported silent, with timeouts counted, and the thread lives on
            rig.until("silent fault", lambda: ("silent", True) in rig.faults)
            assert rig.readings() == [] and set(rig.reasons()) == {"timeout"}
            assert rig.reader.is_alive()
        finally:
            rig.close()
