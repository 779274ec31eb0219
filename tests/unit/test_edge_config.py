"""edge.toml validation: the issue's keys load; mistakes give `file: key: problem`."""

from __future__ import annotations

import re
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
         r"edge.toml:15: sensors\['main-pressure'\]\.baudrat: is not a valid option for "
         r"\[sensors\['main-pressure'\]\]; did you mean 'baudrate'\?"),
        ("baudrate = 115200", 'baudrate = "fast"',
         r"edge.toml:15: sensors\['main-pressure'\]\.baudrate: expected an integer, found string 'fast'"),
        ('kind = "water.pressure"', 'kind = "fire.smoke"',
         r"edge.toml:12: sensors\['main-pressure'\]\.kind: 'fire.smoke' is not family.quantity"),
        ('driver = "lines"', 'driver = "modbus"',
         r"edge.toml:13: sensors\['main-pressure'\]\.driver: 'modbus' is not one of lines"),
        ('id = "edge-north-1"\n', "", r"edge.toml:2: device\.id: is required but missing"),
        ("port = 1883", "port = 70000", r"edge.toml:8: mqtt\.port: 70000 is above the maximum"),
        ("low = 250.0", "low = 250.0\nhigh = 100.0",
         r"edge.toml:17: sensors\['main-pressure'\]\.low: 250.0 must be below high 100.0"),
        ("[mqtt]", "[mqtt]\nbogus = 1", r"edge.toml:7: mqtt\.bogus: is not a valid option"),
    ],
)
def test_mistakes_name_file_key_and_problem(tmp_path: Path, old: str, new: str,
                                            message: str) -> None:
    assert old in GOOD
    with pytest.raises(ConfigError, match=message):
        load_edge_config(write(tmp_path, GOOD.replace(old, new, 1)))


def test_duplicate_sensor_ids_are_refused(tmp_path: Path) -> None:
    sensor = GOOD[GOOD.index("[[sensors]]"):]
    with pytest.raises(ConfigError, match=r"edge.toml:19: sensors\[1\]\.id: duplicate sensor "
                                          r"id 'main-pressure'"):
        load_edge_config(write(tmp_path, GOOD + sensor))


def test_missing_file_and_bad_syntax(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope.toml: \(file\): the file does not exist"):
        load_edge_config(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match=r"edge.toml: \(syntax\): not valid TOML"):
        load_edge_config(write(tmp_path, "[device\nid="))


SENSOR_HEAD = GOOD[:GOOD.index("[[sensors]]")]


def sensors(tmp_path: Path, text: str, head: str = SENSOR_HEAD) -> Path:
    return write(tmp_path, head + text)


def test_a_profile_fills_in_everything_but_port_and_unit_id(tmp_path: Path) -> None:
    config = load_edge_config(sensors(tmp_path, """
[[sensors]]
id = "manhole-methane"
profile = "methane-lel-modbus"
port = "/dev/lifeline/rs485-gas"
unit_id = 3
"""))
    sensor = config.sensors[0]
    assert sensor.modbus is not None and sensor.profile == "methane-lel-modbus"
    assert (sensor.kind, sensor.driver, sensor.modbus.unit_id) == ("gas.methane", "modbus-rtu", 3)
    channel = sensor.channels[0]
    assert (channel.name, channel.unit, channel.scale, channel.high, channel.range_max) == (
        "methane_lel", "%LEL", 0.01, 20.0, 100.0)


def test_own_keys_override_the_profile_and_channel_tables_merge(tmp_path: Path) -> None:
    sensor = load_edge_config(sensors(tmp_path, """
[[sensors]]
id = "m"
profile = "methane-lel-modbus"
port = "/dev/x"
poll_s = 0.2
[sensors.channels.methane_lel]
high = 10.0
""")).sensors[0]
    assert sensor.modbus is not None and sensor.modbus.poll_s == 0.2
    channel = sensor.channels[0]
    assert (channel.high, channel.high_critical, channel.scale) == (10.0, 50.0, 0.01)


def test_profiles_dir_is_searched_relative_to_the_file(tmp_path: Path) -> None:
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "mine.toml").write_text(
        'kind = "water.flow"\ndriver = "lines"\ncolumns = ["q"]\nbaudrate = 4800\n'
        '[about]\ndescription = "ours"\n')
    head = 'profiles_dir = "profiles"\n' + SENSOR_HEAD
    sensor = load_edge_config(sensors(tmp_path, '[[sensors]]\nid = "f"\nprofile = "mine"\n'
                                                'port = "/dev/x"\n', head)).sensors[0]
    assert (sensor.kind, sensor.baudrate, sensor.columns) == ("water.flow", 4800, ("q",))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('profile = "no-such-device"', r"edge.toml:13: sensors\['s'\]\.profile: no profile "
         r"'no-such-device' in .*; available: .*methane-lel-modbus"),
        ('profile = "methane-lel-modbus"\nunit_id = 300',
         r"edge.toml:14: sensors\['s'\]\.unit_id: 300 is above the maximum 247"),
        ('profile = "methane-lel-modbus"\ncolumns = ["a"]',
         r"edge.toml:14: sensors\['s'\]\.columns: is only used by driver 'lines', not 'modbus-rtu'"),
        ('profile = "methane-lel-modbus"\nunit_idd = 3',
         r"edge.toml:14: sensors\['s'\]\.unit_idd: is not a valid option .* did you mean 'unit_id'\?"),
        ('profile = "accelerometer-triaxial"\nbands = [[10, 400]]',
         r"edge.toml:14: sensors\['s'\]\.bands\[0\]: 400 Hz is above the Nyquist frequency 250 Hz"),
        ('profile = "accelerometer-triaxial"\nbands = [[50, 10]]',
         r"edge.toml:14: sensors\['s'\]\.bands\[0\]: \[50, 10\] needs 0 <= low < high"),
        ('kind = "gas.methane"\ndriver = "modbus-rtu"',
         r"edge.toml:10: sensors\['s'\]\.registers: is required but missing"),
        ('kind = "gas.methane"\ndriver = "modbus-rtu"\n[[sensors.registers]]\nname = "a"\n'
         'address = 0\ntype = "int8"',
         r"edge.toml:18: sensors\['s'\]\.registers\[0\]\.type: 'int8' is not one of"),
        ('kind = "gas.methane"\ndriver = "modbus-rtu"\n[[sensors.registers]]\nname = "a"\n'
         'address = 65535\ntype = "float32"',
         r"edge.toml:17: sensors\['s'\]\.registers\[0\]\.address: float32 at 65535 runs past register 65535"),
        ('kind = "gas.methane"\ndriver = "lines"\ncolumns = ["a"]\nformat = "json"',
         r"edge.toml:16: sensors\['s'\]\.format: 'json' is not one of csv, kv"),
        ('kind = "gas.methane"\ndriver = "lines"\ncolumns = ["a"]\nrange_min = 5.0\n'
         'range_max = 1.0', r"edge.toml:16: sensors\['s'\]\.range_min: 5.0 must be below range_max 1.0"),
    ],
)
def test_driver_and_profile_mistakes_name_file_key_and_problem(tmp_path: Path, text: str,
                                                               message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_edge_config(sensors(tmp_path, f'[[sensors]]\nid = "s"\nport = "/dev/x"\n{text}\n'))


def test_a_mistake_inside_a_profile_is_reported_against_the_profile_file(tmp_path: Path) -> None:
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "broken.toml").write_text(
        'kind = "gas.methane"\ndriver = "modbus-rtu"\npol_s = 1.0\n'
        '[[registers]]\nname = "a"\naddress = 0\ntype = "float64"\n')
    head = 'profiles_dir = "profiles"\n' + SENSOR_HEAD
    with pytest.raises(ConfigError) as caught:
        load_edge_config(sensors(tmp_path, '[[sensors]]\nid = "s"\nprofile = "broken"\n'
                                           'port = "/dev/x"\n', head))
    text = str(caught.value)
    assert "broken.toml:3: pol_s: is not a valid option" in text and "did you mean 'poll_s'" in text
    assert "broken.toml:7: registers[0].type: 'float64' is not one of" in text
    assert "(profile used by sensors['s'])" in text


def test_every_shipped_profile_loads(tmp_path: Path) -> None:
    from edge.drivers.profiles import SOURCE_PROFILES

    names = sorted(p.stem for p in SOURCE_PROFILES.glob("*.toml"))
    assert len(names) >= 6
    text = "".join(f'[[sensors]]\nid = "s{i}"\nprofile = "{n}"\nport = "/dev/x{i}"\n\n'
                   for i, n in enumerate(names))
    config = load_edge_config(sensors(tmp_path, text))
    assert {s.driver for s in config.sensors} == {"lines", "modbus-rtu", "vibration"}


def test_two_sensors_on_one_port_are_refused(tmp_path: Path) -> None:
    text = ('[[sensors]]\nid = "a"\nprofile = "crack-width-lines"\nport = "/dev/x"\n'
            '[[sensors]]\nid = "b"\nprofile = "methane-lel-modbus"\nport = "/dev/x"\n')
    with pytest.raises(ConfigError, match=r"sensors\['b'\]\.port: /dev/x is already read by "
                                          r"sensor 'a': a port has one reader"):
        load_edge_config(sensors(tmp_path, text))


# -- issue 14 item 9: one mistake, one error line --------------------------------------------
METHANE = """
[device]
id = "edge-gas-east"
zone = "east"

[mqtt]
host = "127.0.0.1"

[[sensors]]
id = "manhole-methane"
profile = "{profile}"
port = "/dev/ttyUSB0"
unit_id = 3
{own}
"""


@pytest.mark.parametrize(("profile", "own", "line"), [
    # a misspelt profile: one line with a did-you-mean, not five (kind, driver, columns, unit_id)
    ("methane-lel-modbsu", "",
     r"edge.toml:11: sensors\['manhole-methane'\]\.profile: no profile 'methane-lel-modbsu' "
     r"in .*; did you mean 'methane-lel-modbus'\?"),
    # a bad register type in the sensor's own registers: blamed on edge.toml, not the profile
    ("methane-lel-modbus",
     '[[sensors.registers]]\nname = "methane_lel"\naddress = 0\ntype = "uint61"\n',
     r"edge.toml:17: sensors\['manhole-methane'\]\.registers\[0\]\.type: 'uint61' is not "
     r"one of .*did you mean 'uint16'\?"),
])
def test_one_mistake_gives_one_error_line(tmp_path: Path, profile: str, own: str,
                                          line: str) -> None:
    path = tmp_path / "edge.toml"
    path.write_text(METHANE.format(profile=profile, own=own))
    with pytest.raises(ConfigError) as caught:
        load_edge_config(path)
    lines = str(caught.value).splitlines()
    assert len(lines) == 1, lines
    assert re.fullmatch(line, lines[0].replace(str(tmp_path) + "/", "")), lines[0]


# -- issue 14 item 9: the sensor by its id, and the line ------------------------------------
THREE = """
[device]
id = "edge-gas-east"
zone = "east"

[mqtt]
host = "127.0.0.1"

[[sensors]]
id = "crack-1"
profile = "crack-width-lines"
port = "/dev/ttyUSB0"

[[sensors]]
id = "manhole-methane"
profile = "methane-lel-modbus"
port = "/dev/ttyUSB1"
unit_id = 3
[sensors.channels.methane_lel]
high = 25.0
hihg_critical = 60.0

[[sensors]]
kind = "water.pressure"
driver = "lines"
port = "/dev/ttyUSB2"
columns = ["kpa"]
"""


def test_the_third_sensors_mistakes_name_it_by_id_and_line(tmp_path: Path) -> None:
    # Given three sensors, the second with a misspelt channel key, the third without an id
    with pytest.raises(ConfigError) as caught:
        load_edge_config(write(tmp_path, THREE))
    lines = str(caught.value).replace(str(tmp_path) + "/", "").splitlines()
    # Then the second is named by its id and the line of the key, not by its index
    assert lines == [
        "edge.toml:21: sensors['manhole-methane'].channels.methane_lel.hihg_critical: is not a "
        "valid option for [sensors['manhole-methane'].channels.methane_lel]; did you mean "
        "'high_critical'?",
        # and a sensor without an id can only be named by its index, at its table's line
        "edge.toml:23: sensors[2].id: is required but missing",
    ]


def test_a_profile_sensor_named_by_id_is_blamed_in_the_profile_at_its_line(
        tmp_path: Path) -> None:
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "mine.toml").write_text(
        'kind = "water.flow"\ndriver = "lines"\ncolumns = ["q"]\n# a slow bus\nbaudrate = 12\n')
    text = 'profiles_dir = "profiles"\n' + SENSOR_HEAD + (
        '[[sensors]]\nid = "flow-in"\nprofile = "mine"\nport = "/dev/x"\n')
    with pytest.raises(ConfigError) as caught:
        load_edge_config(write(tmp_path, text))
    assert str(caught.value).replace(str(tmp_path) + "/", "") == (
        "profiles/mine.toml:5: baudrate: 12 is below the minimum 50 "
        "(profile used by sensors['flow-in'])")
