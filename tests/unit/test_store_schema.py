"""The SQLite store's schema appears whole: a reader never sees its tables without the
incidents' later columns (a desk command run while the hub starts)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from hub.store.schema import SCHEMA_VERSION, migrate


def _halfway(reader: sqlite3.Connection) -> str | None:
    """What a reader sees that no store should show it: tables without their columns."""
    tables = {r[0] for r in reader.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if "events" not in tables:
        return None  # no store yet: a reader says so
    columns = {r[1] for r in reader.execute("PRAGMA table_info(incidents)")}
    missing = {"zones", "owner", "outcome"} - columns
    version = reader.execute("PRAGMA user_version").fetchone()[0]
    if missing or version != SCHEMA_VERSION:
        return f"tables without {sorted(missing)}, user_version {version}"
    return None


def test_a_reader_sees_no_store_or_the_whole_schema_while_it_is_created(tmp_path: Path) -> None:
    path = tmp_path / "hub.db"
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("PRAGMA journal_mode=WAL")
    reader = sqlite3.connect(path, isolation_level=None)
    seen: list[str] = []

    def look(statement: str) -> None:  # before each statement the writer runs
        if (problem := _halfway(reader)) is not None:
            seen.append(f"before {statement.split()[0:3]}: {problem}")

    writer.set_trace_callback(look)
    migrate(writer)
    writer.set_trace_callback(None)
    assert seen == []
    assert _halfway(reader) is None
    assert "zones" in {r[1] for r in reader.execute("PRAGMA table_info(incidents)")}
    migrate(writer)  # again on the whole schema: nothing to add, nothing breaks
    writer.close()
    reader.close()
