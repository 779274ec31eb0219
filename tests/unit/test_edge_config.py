"""edge.toml validation: the issue's keys load; mistakes give `file: key: problem`."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.config import load_edge_config
from lifeline.tomlconfig import ConfigError

GOOD = """
[device]
id = "edge-north-1"
zone = "north"

[mqtt]
host = "127.0.0.1"
port = 1883

[[sensors]]
id = "main-pressure"
kind = "water.pressure"
driver = "lines"
port = "/dev/pts/7"
baudrate = 115200
columns = ["pressure_kpa"]
low = 250.0
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "edge.toml"
    path.write_text(text)
    return path


def test_the_issue_example_loads(tmp_path: Path) -> None:
    config = load_edge_config(write(tmp_path, GOOD))
    assert config.device.id == "edge-north-1" and config.mqtt.port == 1883
    sensor = config.sensors[0]
    assert (sensor.kind, sensor.driver, sensor.port, sensor.baudrate, sensor.columns) == (
        "water.pressure", "lines", "/dev/pts/7", 115200, ("pressure_kpa",))
    assert sensor.channels[0].low == 250.0 and sensor.channels[0].high is None


def test_per_channel_table_overrides_sensor_defaults(tmp_path: Path) -> None:
    text = GOOD.replace('columns = ["pressure_kpa"]', 'columns = ["a", "b"]') + \
        '\n[sensors.channels.b]\nunit = "L/s"\nlow = 5.0\nhigh = 90.0\n'
    a, b = load_edge_config(write(tmp_path, text)).sensors[0].channels
    assert (a.low, a.high, a.unit) == (250.0, None, None)
    assert (b.low, b.high, b.unit) == (5.0, 90.0, "L/s")


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("baudrate = 115200", "baudrat = 115200",
         r"edge.toml: sensors\[0\]\.baudrat: is not a valid option .* did you mean 'baudrate'\?"),
        ("baudrate = 115200", 'baudrate = "fast"',
         r"edge.toml: sensors\[0\]\.baudrate: expected an integer, found string 'fast'"),
        ('kind = "water.pressure"', 'kind = "fire.smoke"',
         r"edge.toml: sensors\[0\]\.kind: 'fire.smoke' is not family.quantity"),
        ('driver = "lines"', 'driver = "modbus"',
         r"edge.toml: sensors\[0\]\.driver: 'modbus' is not one of lines"),
        ('id = "edge-north-1"\n', "", r"edge.toml: device\.id: is required but missing"),
        ("port = 1883", "port = 70000", r"edge.toml: mqtt\.port: 70000 is above the maximum"),
        ("low = 250.0", "low = 250.0\nhigh = 100.0",
         r"edge.toml: sensors\[0\]\.low: 250.0 must be below high 100.0"),
        ("[mqtt]", "[mqtt]\nbogus = 1", r"edge.toml: mqtt\.bogus: is not a valid option"),
    ],
)
def test_mistakes_name_file_key_and_problem(tmp_path: Path, old: str, new: str,
                                            message: str) -> None:
    assert old in GOOD
    with pytest.raises(ConfigError, match=message):
        load_edge_config(write(tmp_path, GOOD.replace(old, new, 1)))


def test_duplicate_sensor_ids_are_refused(tmp_path: Path) -> None:
    sensor = GOOD[GOOD.index("[[sensors]]"):]
    with pytest.raises(ConfigError, match=r"sensors\[1\]\.id: duplicate sensor id 'main-pressure'"):
        load_edge_config(write(tmp_path, GOOD + sensor))


def test_missing_file_and_bad_syntax(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope.toml: \(file\): the file does not exist"):
        load_edge_config(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match=r"edge.toml: \(syntax\): not valid TOML"):
        load_edge_config(write(tmp_path, "[device\nid="))
