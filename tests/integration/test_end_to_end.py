"""End to end: pseudo-terminal -> lifeline-edge -> real Mosquitto -> lifeline-hub -> incidents.

Every process is one of our console scripts run as a real subprocess.
"""

from __future__ import annotations

import os
import random
import signal
from pathlib import Path
from typing import Any

import pytest

from lifeline.localbroker import Broker
from tests.support.edgetoml import lines_sensor, write_edge_toml
from tests.support.processes import cli_json, running, wait_for
from tests.support.pty import PtySensor

pytestmark = pytest.mark.integration

ZONE = "north-dma-3"


def configs(tmp_path: Path, broker: Broker, pty_path: str) -> tuple[Path, Path]:
    hub = tmp_path / "hub.toml"
    hub.write_text(f'[mqtt]\nhost = "127.0.0.1"\nport = {broker.port}\n\n'
                   f'[store]\npath = "{tmp_path / "hub.db"}"\n')
    edge = write_edge_toml(
        tmp_path / "edge.toml", device="edge-north-1", zone=ZONE,
        state_dir=tmp_path / "edge-state", mqtt={"host": "127.0.0.1", "port": broker.port},
        sensors=[lines_sensor("main-pressure", pty_path, columns=["pressure_kpa"],
                              baudrate=115200, low=250.0)])
    return hub, edge


def incidents(hub: Path) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = cli_json("lifeline-hub", ["incidents", "--config", str(hub)])
    return result


def test_pressure_drop_becomes_a_water_incident_in_the_edge_zone(tmp_path: Path,
                                                                 broker: Broker) -> None:
    rng = random.Random(1)
    with PtySensor() as sensor:
        hub, edge = configs(tmp_path, broker, sensor.path)
        with running("lifeline-hub", ["run", "--config", str(hub)], tmp_path / "hub.log"), \
                running("lifeline-edge", ["run", "--config", str(edge)], tmp_path / "edge.log"):
            # Given normal water pressure long enough for the detector to warm up
            sensor.stream(lambda n: f"{301.0 + rng.gauss(0, 0.8):.2f}\n".encode()
                          if n < 150 else f"{140.0 + rng.gauss(0, 0.8):.2f}\n".encode(), 50)
            # When the pressure drops suddenly (after 3 s), Then a water incident opens here
            found = wait_for(
                lambda: [i for i in incidents(hub) if i["hazard"] == "water" and i["zone"] == ZONE],
                timeout=30, what="a water incident in the edge's zone")
    incident = found[0]
    assert incident["status"] == "open"
    assert incident["grade"] in ("orange", "red")
    assert "edge-north-1" in incident["devices"]
    assert incident["alert_count"] >= 1
    for key in ("id", "zone", "hazard", "grade", "status", "opened_at", "updated_at",
                "resolved_at", "alert_count", "devices"):
        assert key in incident


def test_killed_edge_agent_opens_a_device_incident(tmp_path: Path, broker: Broker) -> None:
    with PtySensor() as sensor:
        hub, edge = configs(tmp_path, broker, sensor.path)
        sensor.stream(lambda n: b"300.5\n", 20)
        with running("lifeline-hub", ["run", "--config", str(hub)], tmp_path / "hub.log"), \
                running("lifeline-edge", ["run", "--config", str(edge)],
                        tmp_path / "edge.log") as agent:
            # Given a connected edge agent (its online status reached the broker)
            wait_for(lambda: "connected to broker" in (tmp_path / "edge.log").read_text(),
                     timeout=15, what="the edge agent to connect")
            assert not [i for i in incidents(hub) if i["hazard"] == "device"]
            # When it dies without saying goodbye (power loss analogue)
            os.killpg(agent.pid, signal.SIGKILL)
            agent.wait(timeout=5)
            # Then its last will opens a device incident in its zone
            found = wait_for(
                lambda: [i for i in incidents(hub) if i["hazard"] == "device"
                         and i["zone"] == ZONE and i["status"] == "open"],
                timeout=20, what="a device incident after the agent was killed")
    assert "edge-north-1" in found[0]["devices"]
