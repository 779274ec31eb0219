"""lifeline.tomlconfig.key_lines: the line of a key in a TOML text, for `file:LINE: key: problem`
(tomllib gives lines for syntax errors only). A scan, checked here against what tomllib parses."""

from __future__ import annotations

import tomllib

import pytest

from lifeline.tomlconfig import key_lines, line_of

TEXT = '''# a comment = not a key
top = 1
description = """
[[not.a.table]]
fake = 2
"""
bands = [
  [10, 100],
  [100, 200]
]

[device]
"quoted key" = "x"   # [not a header]
site.name = "north"

[[sensors]]
id = "a"
channels = { kpa = { high = 5 } }

[[sensors.registers]]
name = "r0"

[[sensors.registers]]
name = "r1"
type = "uint16"

[sensors.detection]
threshold = 0.9

[[sensors]]
id = "b"

[[sensors.registers]]
  name = "b0"
'''


@pytest.mark.parametrize(("key", "line"), [
    ("top", 2),
    ("description", 3),
    ("bands", 7),
    ("device", 12),
    ("device.quoted key", 13),
    ("device.site.name", 14),
    ("sensors", 16),
    ("sensors[0]", 16),
    ("sensors[0].channels", 18),
    ("sensors[0].registers[0].name", 21),
    ("sensors[0].registers[1]", 23),
    ("sensors[0].registers[1].type", 25),
    ("sensors[0].detection.threshold", 28),
    ("sensors[1].id", 31),
    ("sensors[1].registers[0].name", 34),
])
def test_key_lines_finds_tables_and_keys(key: str, line: int) -> None:
    assert key_lines(TEXT)[key] == line


def test_nothing_inside_strings_or_arrays_is_taken_for_a_key() -> None:
    found = key_lines(TEXT)
    assert not any(k.startswith(("not", "fake", "10", "100")) for k in found)
    parsed = tomllib.loads(TEXT)   # the sample is valid TOML, so the scan saw what a parser sees
    assert parsed["sensors"][1]["registers"][0]["name"] == "b0"


@pytest.mark.parametrize(("key", "line"), [
    # a key nobody wrote is found at the table that should hold it
    ("sensors[1].kind", 30),
    # an item of an array value, or a key in an inline table, at the key that holds it
    ("bands[1]", 7),
    ("sensors[0].channels.kpa.high", 18),
    # a sensor named by its id is looked up by its index
    ("sensors['b'].registers[0].name", 34),
    ("sensors['a']", 16),
    # a file-wide problem has no line
    ("(top level)", None),
    ("mqtt.host", None),
])
def test_line_of_falls_back_to_the_enclosing_table(key: str, line: int | None) -> None:
    aliases = {"sensors['a']": "sensors[0]", "sensors['b']": "sensors[1]"}
    assert line_of(key, key_lines(TEXT), aliases) == line
