"""tests/support/edgetoml.py writes an edge.toml the edge reads back as asked."""

from __future__ import annotations

import tomllib
from pathlib import Path

from edge.config import load_edge_config
from tests.support.edgetoml import edge_toml, lines_sensor, write_edge_toml


def test_what_the_helper_writes_loads_with_the_values_given(tmp_path: Path) -> None:
    path = write_edge_toml(
        tmp_path / "edge.toml", device="edge-9", zone="north", state_dir=tmp_path / "state",
        mqtt={"host": "127.0.0.1", "port": 1, "keepalive": 7}, outbox={"max_alerts": 50},
        sensors=[lines_sensor("p", "/dev/null", columns=["a", "b"], low=250.0,
                              channels={"b": {"scale": 10.0}}),
                 {"id": "gas", "profile": "methane-lel-modbus", "port": "/dev/x", "unit_id": 5,
                  "registers": [{"name": "methane_lel", "address": 0}]}])
    config = load_edge_config(path)
    assert (config.device.id, config.device.zone, config.device.state_dir) == (
        "edge-9", "north", tmp_path / "state")
    assert (config.mqtt.port, config.mqtt.keepalive, config.outbox_max_alerts) == (1, 7, 50)
    assert [s.id for s in config.sensors] == ["p", "gas"]
    assert tomllib.loads(path.read_text())["sensors"][0]["channels"] == {"b": {"scale": 10.0}}


def test_strings_are_escaped_and_none_is_left_out() -> None:
    text = edge_toml(device='edge "quoted"', state_dir=None, mqtt={"password_file": None})
    assert tomllib.loads(text) == {"device": {"id": 'edge "quoted"', "zone": "z"}, "mqtt": {}}
