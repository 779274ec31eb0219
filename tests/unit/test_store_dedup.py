"""Alert ids are deduplicated per (device, id) (issue 13, item 7), with schema 3 stores upgraded.

One device sending an alert under some id must not make another device's real alert with the
same id a "duplicate" that is acknowledged and never stored.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hub.config import StoreConfig
from hub.service.ingest import Ingest
from hub.store import Store
from hub.store.schema import SCHEMA_VERSION
from lifeline import wire
from lifeline.grades import Grade
from tests.support.ingest import ingesting, make_ingest

NOW = 1_790_000_000.0
SHARED_ID = "0123456789abcdef0123456789abcdef"


def alert(device: str, zone: str = "north", **changes: Any) -> wire.Alert:
    fields: dict[str, Any] = dict(
        id=SHARED_ID, device=device, zone=zone, sensor="main-pressure", channel="pressure_kpa",
        kind="water.pressure", ts=NOW, value=150.0, score=1.0, grade=Grade.RED,
        reason=wire.Reason.LIMIT, seq=1, unit="kPa", context=(300.0, 150.0))
    fields.update(changes)
    return wire.Alert(**fields)


@pytest.fixture
def ingest(tmp_path: Path, store_config: StoreConfig) -> Iterator[Ingest]:
    with ingesting(tmp_path, NOW, store_config) as hub:
        yield hub


def send(ingest: Ingest, *alerts: wire.Alert, now: float = NOW) -> dict[str, list[str]]:
    return ingest.batch([(wire.alert_topic(a.device), wire.encode(a)) for a in alerts], now).acks


def test_another_devices_alert_with_the_same_id_is_stored_and_fused(ingest: Ingest) -> None:
    # Given a device that sent an alert under some id, in another zone
    first = alert("edge-south-1", zone="south", grade=Grade.YELLOW, value=240.0)
    assert send(ingest, first) == {"edge-south-1": [SHARED_ID]}
    # When another device's real red alert arrives with the same id
    red = alert("edge-north-1")
    acks = send(ingest, red)
    # Then it is stored, acknowledged to its device, and opens its own incident
    assert acks == {"edge-north-1": [SHARED_ID]}
    assert ingest.counters.stored == 2 and ingest.counters.duplicates == 0
    bodies = {d: json.loads(b) for d, b in ingest.store.db.execute(
        "SELECT device, body FROM alerts WHERE id = ?", (SHARED_ID,))}
    assert bodies["edge-north-1"]["grade"] == "red" and bodies["edge-south-1"]["grade"] == "yellow"
    north = [i for i in ingest.fusion.incidents if i.zone == "north"]
    assert len(north) == 1 and north[0].grade is Grade.RED
    assert ingest.store.incident_alerts(north[0].id)[0]["device"] == "edge-north-1"
    # And each device's own resend is still a duplicate
    assert send(ingest, red, first) == {"edge-north-1": [SHARED_ID], "edge-south-1": [SHARED_ID]}
    assert ingest.counters.duplicates == 2 and ingest.store.count_alerts() == 2


_V3_TABLES = """
CREATE TABLE alerts (
    id TEXT PRIMARY KEY, device TEXT NOT NULL, zone TEXT NOT NULL, sensor TEXT NOT NULL,
    channel TEXT NOT NULL, kind TEXT NOT NULL, reason TEXT NOT NULL, grade INTEGER NOT NULL,
    ts REAL NOT NULL, received_at REAL NOT NULL, value REAL, unit TEXT, score REAL NOT NULL,
    seq INTEGER NOT NULL, cleared INTEGER NOT NULL, message TEXT NOT NULL, body TEXT NOT NULL);
CREATE INDEX alerts_device_ts ON alerts (device, ts);
CREATE TABLE incident_alerts (
    alert_id TEXT PRIMARY KEY REFERENCES alerts (id),
    incident_id INTEGER NOT NULL REFERENCES incidents (id));
CREATE INDEX incident_alerts_incident ON incident_alerts (incident_id);
CREATE TABLE pruned_alerts (id TEXT PRIMARY KEY) WITHOUT ROWID;
"""


def test_a_schema_3_store_is_upgraded_and_keeps_its_alerts(tmp_path: Path) -> None:
    # Given a store written by the schema 3 hub: alerts keyed by id alone, one of them in an
    # incident, one id pruned by retention
    ingest = make_ingest(tmp_path, NOW)
    path = ingest.store.path
    send(ingest, alert("edge-north-1"), alert("edge-north-1", id="second", seq=2))
    incident_id = ingest.fusion.incidents[0].id
    ingest.store.close()
    db = sqlite3.connect(path)
    saved = db.execute("SELECT rowid, * FROM alerts ORDER BY rowid").fetchall()
    db.executescript("DROP TABLE alerts; DROP TABLE incident_alerts; DROP TABLE pruned_alerts;"
                     + _V3_TABLES)
    db.executemany(f"INSERT INTO alerts (rowid, {', '.join(_columns(db))}) VALUES "
                   f"({','.join('?' * 18)})", saved)
    db.execute("INSERT INTO incident_alerts VALUES (?, ?)", (SHARED_ID, incident_id))
    db.execute("INSERT INTO pruned_alerts VALUES ('gone')")
    db.execute("PRAGMA user_version = 3")
    db.commit()
    db.close()
    # When the new hub opens it
    ingest = make_ingest(tmp_path, NOW)
    try:
        store = ingest.store
        # Then it is the current schema (4 and on), every row kept (rowids too: retention
        # walks by them)
        assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert store.db.execute("SELECT rowid, * FROM alerts ORDER BY rowid").fetchall() == saved
        assert store.alert_ids(incident_id) == [SHARED_ID]
        assert [a["id"] for a in store.incident_alerts(incident_id)] == [SHARED_ID]
        indexes = {r[0] for r in store.db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")}
        assert {"alerts_device_received", "incident_alerts_incident"} <= indexes
        assert "alerts_device_ts" not in indexes  # no reader: dropped (issue 16)
        # And an id pruned before the upgrade stays a duplicate for every device, while the
        # same id as a stored alert of another device is a new alert
        assert send(ingest, alert("edge-east-1", id="gone", zone="east")) == {
            "edge-east-1": ["gone"]}
        assert ingest.counters.duplicates == 1
        send(ingest, alert("edge-east-1", zone="east"))
        assert ingest.counters.stored == 1 and store.count_alerts() == 3
    finally:
        ingest.store.close()
    # And opening it again changes nothing
    again = Store.open_writer(path)
    assert again.count_alerts() == 3
    again.close()


def _columns(db: sqlite3.Connection) -> list[str]:
    return [r[1] for r in db.execute("PRAGMA table_info(alerts)")]


def test_a_batch_stores_each_alert_once_whatever_it_repeats(ingest: Ingest) -> None:
    """Ingest stores a run of alerts with one look-up and one insert (Store.add_alerts):
    the same dedup rules as alert by alert, inside the batch and against the store."""
    # Given an alert stored earlier, an id pruned for one device and one pruned before
    # schema 4 (for any device)
    send(ingest, alert("edge-north-1", id="a" * 32))
    ingest.store.db.execute("INSERT INTO pruned_alerts (device, id) VALUES (?, ?)",
                            ("edge-north-1", "b" * 32))
    ingest.store.db.execute("INSERT INTO pruned_alerts (device, id) VALUES ('', ?)", ("c" * 32,))
    # When one batch brings those again, a new alert twice, and another device's alert
    # under the first one's id
    fresh = alert("edge-north-1", id="d" * 32, seq=2)
    acks = send(ingest, alert("edge-north-1", id="a" * 32), alert("edge-north-1", id="b" * 32),
                alert("edge-north-2", id="c" * 32), fresh, fresh,
                alert("edge-north-2", id="a" * 32))
    # Then every one is acknowledged, and only the new two are stored and fused
    assert acks == {"edge-north-1": ["a" * 32, "b" * 32, "d" * 32, "d" * 32],
                    "edge-north-2": ["c" * 32, "a" * 32]}
    assert ingest.counters.stored == 3 and ingest.counters.duplicates == 4
    assert sorted(ingest.store.db.execute("SELECT device, id FROM alerts")) == [
        ("edge-north-1", "a" * 32), ("edge-north-1", "d" * 32), ("edge-north-2", "a" * 32)]
    assert sum(i.alert_count for i in ingest.fusion.incidents) == 3


def test_an_alert_fusion_cannot_take_is_refused_alone(ingest: Ingest,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    # Given fusion that raises (a bug) for one alert of a batch
    fuse = ingest.fusion.alert

    def failing(a: wire.Alert, now: float) -> Any:
        if a.id == "b" * 32:
            raise RuntimeError("a bug this alert reaches")
        return fuse(a, now)

    monkeypatch.setattr(ingest.fusion, "alert", failing)
    # When a batch of three alerts arrives
    acks = send(ingest, *(alert("edge-north-1", id=c * 32, seq=n)
                          for n, c in enumerate("abcb", 1)))
    # Then the other two are stored and acknowledged, that one neither (its row is gone),
    # nor its copy in the same batch (the edge keeps it in its outbox)
    assert acks == {"edge-north-1": ["a" * 32, "c" * 32]}
    assert ingest.counters.invalid["unprocessable"] == 2
    assert sorted(r[0] for r in ingest.store.db.execute("SELECT id FROM alerts")) == [
        "a" * 32, "c" * 32]
