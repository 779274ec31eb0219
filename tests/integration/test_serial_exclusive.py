"""Issue 14 item 2 (in part): a serial port is opened exclusively.

Two readers of one port (the agent and a probe, or two agents) would each get part
of its stream, silently. Now the second one is refused with an error naming the
port and saying another process holds it. Real pseudo-terminals stand in for the
ports; the probe is our console script as a subprocess.
"""

from __future__ import annotations

import queue
import subprocess
import threading
from pathlib import Path

import pytest

from edge.config import load_edge_config
from edge.drivers.base import PortError
from edge.serial_io import open_serial
from tests.integration.test_probe import edge_toml
from tests.support.processes import script
from tests.support.pty import PtySensor

pytestmark = pytest.mark.integration


def test_a_second_opener_of_a_port_is_refused_while_the_first_holds_it() -> None:
    sensor = PtySensor()
    try:
        # Given one reader holding the port
        first = open_serial(sensor.path, 115200)
        # When a second one opens it, Then it is refused, naming the port and why
        with pytest.raises(PortError, match=rf"^cannot open {sensor.path}: another process "
                                            r"holds it .*two readers would each get part"):
            open_serial(sensor.path, 115200)
        # And once the first lets go, the port opens again
        first.close()
        open_serial(sensor.path, 115200).close()
    finally:
        sensor.close()


def test_probe_while_another_process_reads_the_port_says_so(tmp_path: Path) -> None:
    lines, modbus = PtySensor(), PtySensor()
    try:
        config = edge_toml(tmp_path, modbus.path, lines.path)
        # Given the lines sensor's port held by another reader (the running agent)
        held = open_serial(lines.path, 115200)
        lines.stream(lambda n: b"0.25\r\n", 20.0)
        # When the technician probes it
        done = subprocess.run([script("lifeline-edge"), "probe", "--config", str(config),
                               "--sensor", "deck-crack", "--seconds", "1"],
                              capture_output=True, text=True, timeout=30)
        held.close()
        # Then no reading is split off the agent's stream: the probe says who has the port
        assert done.returncode == 1
        assert f"port error: cannot open {lines.path}: another process holds it" in done.stdout
        assert "0.25" not in done.stdout
    finally:
        lines.close()
        modbus.close()


def test_a_modbus_reader_says_another_process_holds_its_port(tmp_path: Path) -> None:
    from edge.drivers.modbus import ModbusReader

    lines, modbus = PtySensor(), PtySensor()
    try:
        config = load_edge_config(edge_toml(tmp_path, modbus.path, lines.path))
        [sensor] = [s for s in config.sensors if s.id == "manhole-methane"]
        held = open_serial(modbus.path, 19200)
        stop = threading.Event()
        reader = ModbusReader(sensor, queue.Queue(), stop)
        bound = threading.Timer(5.0, stop.set)  # a reader that got the port polls until stopped
        bound.start()
        try:
            with pytest.raises(PortError, match=rf"^cannot open {modbus.path}: another process "
                                                "holds it"):
                reader.session()
        finally:
            bound.cancel()
            held.close()
    finally:
        lines.close()
        modbus.close()
