"""`lifeline-edge probe` as a real subprocess: live decoded readings, errors and a summary."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from hardware.simulator.modbus_peer import ModbusPeer
from hardware.simulator.nullmodem import NullModem
from tests.support.edgetoml import write_edge_toml
from tests.support.processes import script
from tests.support.pty import PtySensor

pytestmark = pytest.mark.integration


def edge_toml(tmp_path: Path, modbus_port: str, lines_port: str) -> Path:
    return write_edge_toml(tmp_path / "edge.toml", device="edge-probe", sensors=[
        {"id": "manhole-methane", "profile": "methane-lel-modbus", "port": modbus_port,
         "baudrate": 19200, "unit_id": 5, "poll_s": 0.2},
        {"id": "deck-crack", "profile": "crack-width-lines", "port": lines_port}])


def probe(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([script("lifeline-edge"), "probe", "--config", str(config), *args],
                          capture_output=True, text=True, timeout=30)


def test_probe_prints_calibrated_readings_errors_and_a_summary(tmp_path: Path) -> None:
    with NullModem() as modem, ModbusPeer(modem.b_path, (5,), baudrate=19200) as peer, \
            PtySensor() as crack:
        # Given a methane detector answering 2.35 %LEL and a crack meter sending some garbage
        peer.set(0, [235])
        crack.stream(lambda n: b"0.42\n" if n % 3 else b"0.4x2\n", 20)
        config = edge_toml(tmp_path, modem.a_path, crack.path)
        # When the technician probes for two seconds
        done = probe(config, "--seconds", "2")
    # Then readings are shown calibrated, with units, and bad lines with their reason
    assert done.returncode == 0, done.stdout + done.stderr
    assert "manhole-methane  methane_lel=2.35 %LEL" in done.stdout
    assert "deck-crack       crack_mm=0.42 mm" in done.stdout
    assert "bad read (not_number): field 1 '0.4x2' is not a number" in done.stdout
    summary = done.stdout[done.stdout.index("=== probe summary"):]
    assert "errors none" in summary.splitlines()[1]
    assert "errors not_number=" in summary.splitlines()[2]


def test_probe_of_a_silent_sensor_exits_1_and_an_unknown_sensor_exits_2(tmp_path: Path) -> None:
    with NullModem() as modem, PtySensor() as crack:
        config = edge_toml(tmp_path, modem.a_path, crack.path)
        # Given a Modbus line where no unit answers, When it is probed
        done = probe(config, "--sensor", "manhole-methane", "--seconds", "1.5")
        # Then timeouts are shown and the exit code says no reading came
        assert done.returncode == 1, done.stdout + done.stderr
        assert "bad read (timeout): unit 5: no reply within 0.3 s" in done.stdout
        assert "readings 0" in done.stdout
        # When a sensor id is mistyped, Then it is a usage error naming the sensors
        done = probe(config, "--sensor", "manhole-methan")
        assert done.returncode == 2
        assert "--sensor: no sensor 'manhole-methan'; configured: manhole-methane, deck-crack" \
            in done.stderr


def test_check_config_prints_the_effective_config_with_profiles_applied(tmp_path: Path) -> None:
    config = edge_toml(tmp_path, "/dev/lifeline/rs485-gas", "/dev/lifeline/crack")
    done = subprocess.run([script("lifeline-edge"), "check-config", str(config)],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert "profile methane-lel-modbus (" in done.stdout
    assert "unit 5, poll every 0.2 s, timeout 0.3 s" in done.stdout
    assert "channel methane_lel = raw * 0.01 + 0 %LEL range 0.0..100.0 high 20 " \
           "high_critical 50" in done.stdout
