"""One way for tests to write an edge.toml: the tables as Python values, TOML text out.

>>> print(edge_toml(device="edge-1", zone="north", mqtt={"port": 1},
...                 sensors=[lines_sensor("p", "/dev/null", low=250.0)]), end="")
[device]
id = "edge-1"
zone = "north"
<BLANKLINE>
[mqtt]
port = 1
<BLANKLINE>
[[sensors]]
id = "p"
kind = "water.pressure"
driver = "lines"
port = "/dev/null"
columns = ["p"]
low = 250.0

Tests of the configuration's own parsing (line numbers, odd spellings, broken files) keep
writing their text by hand; everything that only needs a working edge uses this.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["edge_toml", "lines_sensor", "write_edge_toml"]

Table = Mapping[str, Any]


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str | Path):
        return json.dumps(str(value))  # a TOML basic string: JSON's escapes are TOML's
    if isinstance(value, Sequence):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    raise TypeError(f"no TOML for {value!r}")


def _is_tables(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str) and bool(value) \
        and all(isinstance(v, Mapping) for v in value)


def _table(header: str, name: str, table: Table) -> list[str]:
    """``[name]`` (or ``[[name]]``: ``header`` is the brackets' text) with its keys, then
    its sub-tables and arrays of tables."""
    keys = [f"{key} = {_value(v)}" for key, v in table.items()
            if v is not None and not isinstance(v, Mapping) and not _is_tables(v)]
    # a sub-table of sub-tables only needs no header of its own ([sensors.channels.p])
    lines = [header, *keys] if keys or header.startswith("[[") or "." not in name else []
    for key, v in table.items():
        if isinstance(v, Mapping):
            lines += ["", *_table(f"[{name}.{key}]", f"{name}.{key}", v)]
        elif _is_tables(v):
            for item in v:
                lines += ["", *_table(f"[[{name}.{key}]]", f"{name}.{key}", item)]
    return lines[1:] if lines[:1] == [""] else lines


def edge_toml(*, device: str = "edge-test", zone: str = "z", state_dir: Path | None = None,
              mqtt: Table | None = None, sensors: Sequence[Table] = (),
              **tables: Table) -> str:
    """The text of an edge.toml: ``[device]``, ``[mqtt]`` (empty: the defaults), any other
    ``tables`` by name (``outbox``, ``detection`` ...), then one ``[[sensors]]`` each."""
    blocks = [_table("[device]", "device", {"id": device, "zone": zone, "state_dir": state_dir}),
              _table("[mqtt]", "mqtt", mqtt or {})]
    blocks += [_table(f"[{name}]", name, table) for name, table in tables.items()]
    blocks += [_table("[[sensors]]", "sensors", sensor) for sensor in sensors]
    return "\n\n".join("\n".join(block) for block in blocks) + "\n"


def write_edge_toml(path: Path, **kwargs: Any) -> Path:
    """``edge_toml(**kwargs)`` written to ``path``; returns ``path``."""
    path.write_text(edge_toml(**kwargs))
    return path


def lines_sensor(sensor_id: str, port: str | Path, *, kind: str = "water.pressure",
                 columns: Sequence[str] = ("p",), **keys: Any) -> dict[str, Any]:
    """A ``lines`` sensor on ``port``; ``keys``: any other of its keys (``low``, ``unit`` ...)."""
    return {"id": sensor_id, "kind": kind, "driver": "lines", "port": str(port),
            "columns": list(columns), **keys}
