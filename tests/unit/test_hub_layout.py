"""The hub's folders keep their promises (issue 15): the core is pure and only the store runs SQL.

``hub/core`` is imported in a fresh interpreter, which then says what came with it; the
other checks read the source (the syntax tree, so comments and docstrings don't count)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

HUB = Path(__file__).resolve().parents[2] / "hub"
CORE = sorted(p.stem for p in (HUB / "core").glob("*.py") if p.stem != "__init__")
# the connection's methods; only hub/store may call them (or reach Store.db)
SQL_CALLS = {"execute", "executemany", "executescript", "cursor", "set_trace_callback"}
# what a pure module must not import: databases, the network, processes, files, clocks
IMPURE = {"sqlite3", "paho", "socket", "ssl", "subprocess", "os", "time", "datetime", "urllib",
          "http", "select", "signal", "hub.store", "hub.service", "hub.desk"}

PROBE = """
import importlib, json, sys
for name in sys.argv[1:]:
    importlib.import_module(name)
print(json.dumps(sorted(sys.modules)))
"""


def test_there_is_a_core() -> None:
    assert {"fusion", "incident", "routes", "silences", "topology"} <= set(CORE)


def test_importing_the_core_pulls_in_neither_sqlite3_nor_paho() -> None:
    # Given a fresh interpreter, when it imports every module of hub.core
    done = subprocess.run([sys.executable, "-c", PROBE, *(f"hub.core.{m}" for m in CORE)],
                          capture_output=True, text=True, timeout=60, check=True)
    modules = set(json.loads(done.stdout))
    # Then no database, MQTT client, store, service or desk module came with them
    assert {f"hub.core.{m}" for m in CORE} <= modules
    unwanted = {m for m in modules if m.split(".")[0] in {"sqlite3", "_sqlite3", "paho"}
                or m.startswith(("hub.store", "hub.service", "hub.desk"))}
    assert unwanted == set()


def _imports(tree: ast.AST) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


@pytest.mark.parametrize("module", CORE)
def test_a_core_module_imports_no_io_and_no_clock(module: str) -> None:
    imported = _imports(ast.parse((HUB / "core" / f"{module}.py").read_text()))
    impure = {name for name in imported
              if any(name == bad or name.startswith(bad + ".") for bad in IMPURE)}
    assert impure == set()


def _sql_outside_the_store() -> list[str]:
    found = []
    for path in sorted(HUB.rglob("*.py")):
        if (HUB / "store") in path.parents:
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            where = f"{path.relative_to(HUB.parent)}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and node.func.attr in SQL_CALLS:
                found.append(f"{where} calls .{node.func.attr}()")
            elif isinstance(node, ast.Attribute) and node.attr == "db":
                found.append(f"{where} reaches the store's connection (.db)")
        found += [f"{path.relative_to(HUB.parent)} imports sqlite3"
                  for name in _imports(tree) if name == "sqlite3"]
    return found


def test_only_the_store_runs_sql() -> None:
    assert _sql_outside_the_store() == []
