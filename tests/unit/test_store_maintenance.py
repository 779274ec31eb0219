"""The store's maintenance marks (issue 14 item 2): named operations on a real SQLite file and a
real PostgreSQL database, and a schema 4 store upgraded to 5 with its rows kept."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from hub.core.maintenance import Mark
from hub.store import Store
from hub.store.schema import SCHEMA_VERSION

T0 = 1_800_000_000.0


def test_start_end_and_list_marks(open_store: Callable[[], Store]) -> None:
    store = open_store()
    with store.transaction():
        store.maintenance.start(Mark("edge-b", T0, T0 + 1800, "pump swap", "desk:ana"))
        store.maintenance.start(Mark("edge-a", T0, T0 + 600, "", "device"))
    assert [m.device for m in store.maintenance.marks()] == ["edge-a", "edge-b"]
    # ending one: ended_at set, the mark kept (maintenance list --all shows it)
    with store.transaction():
        ended = store.maintenance.end("edge-b", T0 + 60, "desk:bo")
    assert ended is not None and ended.comment == "pump swap"
    mark = store.maintenance.mark("edge-b")
    assert mark is not None and (mark.ended_at, mark.ended_by, mark.active(T0 + 61)) == (
        T0 + 60, "desk:bo", False)
    # nothing to end twice, nor after it is over, nor for a device never marked
    assert store.maintenance.end("edge-b", T0 + 70, "desk:bo") is None
    assert store.maintenance.end("edge-a", T0 + 601, "desk:bo") is None
    assert store.maintenance.end("edge-z", T0, "desk:bo") is None
    # a new mark replaces the device's old one, ended or not
    with store.transaction():
        store.maintenance.start(Mark("edge-b", T0 + 100, T0 + 200, "again", "device"))
    assert store.maintenance.mark("edge-b") == Mark("edge-b", T0 + 100, T0 + 200, "again",
                                                    "device")
    store.close()


def test_a_schema_4_store_gets_the_maintenance_table(tmp_path: Path) -> None:
    path = tmp_path / "hub.db"
    Store.open_writer(path).close()
    db = sqlite3.connect(path)
    db.execute("INSERT INTO meta VALUES ('desk_revision', '7')")
    db.execute("DROP TABLE maintenance")
    db.execute("PRAGMA user_version = 4")
    db.commit()
    db.close()
    store = Store.open_writer(path)
    assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert store.desk_revision() == 7 and store.maintenance.marks() == []
    store.close()
