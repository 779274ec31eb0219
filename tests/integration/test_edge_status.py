"""`lifeline-edge status` (issue 14): a technician's live view of a running board, from the agent
itself -- a real `lifeline-edge run` reading a pty sensor and connected to a real Mosquitto."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from lifeline.localbroker import Broker
from tests.support.faults import DEVICE, HIGH, SENSOR, edge_toml, numbered_sensor
from tests.support.processes import running, script, wait_for
from tests.support.pty import PtySensor

pytestmark = pytest.mark.integration


def status(edge: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([script("lifeline-edge"), "status", "--config", str(edge), *args],
                          capture_output=True, text=True, timeout=30)


def board(edge: Path) -> dict[str, Any] | None:
    done = status(edge, "--json")
    return json.loads(done.stdout) if done.stdout else None


def test_status_shows_the_running_agent_its_broker_and_each_sensor(
        broker: Broker, tmp_path: Path) -> None:
    value = {"kpa": 300.0}
    sensor = PtySensor()
    sensor.stream(lambda n: f"{value['kpa']:.1f}\n".encode(), 20.0)
    edge = tmp_path / "edge.toml"
    edge.write_text(edge_toml(tmp_path / "state", broker.port, numbered_sensor(sensor.path)))
    try:
        # Given no agent has run, When status is asked, Then it says so (exit 1)
        done = status(edge)
        assert done.returncode == 1 and "has not run with this state directory" in done.stderr
        with running("lifeline-edge", ["run", "--config", str(edge)], tmp_path / "edge.log") \
                as agent:
            # Given a running agent, connected, reading its sensor
            seen = wait_for(lambda: (b := board(edge)) and b["broker"]["connected"]
                            and b["sensors"][0]["readings"] > 0 and b, 30,
                            "the agent's board state: connected, with readings")
            # Then status --json gives the connection, the outbox and the sensor's last reading
            assert seen["running"] is True and seen["device"] == DEVICE
            assert seen["outbox_depth"] == 0 and seen["maintenance"] is None
            [s] = seen["sensors"]
            [channel] = s["channels"]
            assert (s["sensor"], s["port"], s["faults"]) == (SENSOR, sensor.path, {})
            assert (channel["channel"], channel["value"], channel["unit"]) == (
                "pressure_kpa", 300.0, "kPa")
            assert channel["alarming"] is False and channel["detector"]
            # When the reading goes over its limit
            value["kpa"] = HIGH + 100
            alarm = wait_for(lambda: (b := board(edge)) and
                             b["sensors"][0]["channels"][0]["limit_alarm"] and b, 30,
                             "the limit alarm in the board state")
            # Then the human view says so, with the value and the connection
            assert alarm["outbox_depth"] >= 0
            done = status(edge)
            assert done.returncode == 0, done.stderr
            lines = done.stdout.splitlines()
            assert lines[0].startswith(f"{DEVICE} (zone ") and "running, as of" in lines[0]
            assert lines[1].startswith(f"broker 127.0.0.1:{broker.port} connected")
            assert lines[2].startswith(f"{SENSOR} (water.pressure, lines on {sensor.path}): ")
            assert lines[3].startswith(f"  pressure_kpa: {HIGH + 100:g} kPa at ")
            assert lines[3].endswith("ALARM (limit)")
            # When the agent stops
            agent.terminate()
            assert agent.wait(timeout=30) == 0
        # Then status shows its last word and says it is not running (exit 1)
        done = status(edge)
        assert done.returncode == 1
        assert "NOT RUNNING" in done.stdout.splitlines()[0]
        assert "NOT CONNECTED" in done.stdout.splitlines()[1]
    finally:
        sensor.close()
