"""One [mqtt] parser for both sides (issue 15): the edge refuses what the hub refuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.config import load_edge_config
from hub.config import load_hub_config
from lifeline.tomlconfig import ConfigError

EDGE = """
[device]
id = "edge-north-1"
zone = "north"

[mqtt]
{mqtt}

[[sensors]]
id = "p"
kind = "water.pressure"
driver = "lines"
port = "/dev/ttyUSB0"
columns = ["pressure_kpa"]
"""

HUB = """
[store]
path = "hub.db"

[mqtt]
{mqtt}
"""


@pytest.mark.parametrize(("mqtt", "problem"), [
    ('host = "bad host name/with#"', r"mqtt\.host: 'bad host name/with#' is not a host name"),
    ('client_id = "a/b #+"', r"mqtt\.client_id: 'a/b #\+' is not a usable MQTT client id"),
    ("keepalive = 1", r"mqtt\.keepalive: 1 is below the minimum 5"),
])
def test_both_sides_refuse_the_same_mqtt_settings(tmp_path: Path, mqtt: str, problem: str) -> None:
    edge, hub = tmp_path / "edge.toml", tmp_path / "hub.toml"
    edge.write_text(EDGE.format(mqtt=mqtt))
    hub.write_text(HUB.format(mqtt=mqtt))
    with pytest.raises(ConfigError, match=problem):
        load_edge_config(edge)
    with pytest.raises(ConfigError, match=problem):
        load_hub_config(hub)


def test_each_side_keeps_its_default_client_id(tmp_path: Path) -> None:
    edge, hub = tmp_path / "edge.toml", tmp_path / "hub.toml"
    edge.write_text(EDGE.format(mqtt='host = "127.0.0.1"'))
    hub.write_text(HUB.format(mqtt='host = "127.0.0.1"'))
    assert load_edge_config(edge).mqtt.client_id == ""  # the link uses lifeline-edge-<id>
    assert load_hub_config(hub).mqtt.client_id == "lifeline-hub"
