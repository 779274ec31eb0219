"""The hub's SQLite store: every alert once, incidents, and an append-only events feed.

One writer (``lifeline-hub run``) and any number of readers (``incidents``,
``tail``) in other processes: WAL mode lets readers work while the hub writes.
``synchronous=NORMAL`` in WAL mode keeps the database consistent on power loss
and may lose only the last transactions -- which the broker redelivers, because
the hub acknowledges a message only after its transaction has committed.

Times are epoch seconds (REAL); they are shown as ISO 8601 UTC. The ``events``
table is the feed ``tail`` follows: one row per incident change, ids increasing.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hub.fusion import (
    Change,
    GradeChanged,
    Incident,
    IncidentStatus,
    Joined,
    Merged,
    Opened,
    Reopened,
    Resolved,
)
from lifeline.grades import Grade
from lifeline.wire import Alert, Status, format_ts

__all__ = ["Event", "Store", "StoreError", "change_json", "incident_json"]

SCHEMA_VERSION = 1
SCHEMA = """
CREATE TABLE IF NOT EXISTS alerts (
    id TEXT PRIMARY KEY, device TEXT NOT NULL, zone TEXT NOT NULL, sensor TEXT NOT NULL,
    channel TEXT NOT NULL, kind TEXT NOT NULL, reason TEXT NOT NULL, grade INTEGER NOT NULL,
    ts REAL NOT NULL, received_at REAL NOT NULL, value REAL, unit TEXT, score REAL NOT NULL,
    seq INTEGER NOT NULL, cleared INTEGER NOT NULL, message TEXT NOT NULL, body TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS alerts_device_ts ON alerts (device, ts);
CREATE TABLE IF NOT EXISTS incidents (
    id INTEGER PRIMARY KEY, zone TEXT NOT NULL, hazard TEXT NOT NULL, grade INTEGER NOT NULL,
    status TEXT NOT NULL, opened_at REAL NOT NULL, updated_at REAL NOT NULL, resolved_at REAL,
    first_ts REAL NOT NULL, last_ts REAL NOT NULL, last_arrival REAL NOT NULL,
    alert_count INTEGER NOT NULL, devices TEXT NOT NULL, merged_into INTEGER);
CREATE INDEX IF NOT EXISTS incidents_status ON incidents (status, resolved_at);
CREATE TABLE IF NOT EXISTS incident_alerts (
    alert_id TEXT PRIMARY KEY REFERENCES alerts (id),
    incident_id INTEGER NOT NULL REFERENCES incidents (id));
CREATE INDEX IF NOT EXISTS incident_alerts_incident ON incident_alerts (incident_id);
CREATE TABLE IF NOT EXISTS devices (
    device TEXT PRIMARY KEY, zone TEXT NOT NULL, state TEXT NOT NULL, status_ts REAL NOT NULL,
    seen_at REAL NOT NULL, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, kind TEXT NOT NULL,
    incident_id INTEGER, payload TEXT NOT NULL);
"""
_INCIDENT_COLUMNS = ("id, zone, hazard, grade, status, opened_at, updated_at, resolved_at, "
                     "first_ts, last_ts, last_arrival, alert_count, devices, merged_into")


class StoreError(Exception):
    """The store cannot be opened or used (wrong file, newer schema, disk trouble)."""


@dataclass(frozen=True, slots=True)
class Event:
    """One row of the events feed: ``payload`` is ``change_json`` of an incident change."""

    id: int
    at: float
    kind: str
    payload: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"event": self.id, "at": format_ts(self.at), **self.payload}


def _iso(ts: float | None) -> str | None:
    return None if ts is None else format_ts(ts)


def incident_json(incident: Incident) -> dict[str, Any]:
    """The public JSON shape of an incident (``incidents --json``, ``tail --json``)."""
    return {
        "id": incident.label,
        "zone": incident.zone,
        "hazard": incident.hazard,
        "grade": incident.grade.label,
        "status": incident.status.value,
        "opened_at": format_ts(incident.opened_at),
        "updated_at": format_ts(incident.updated_at),
        "resolved_at": _iso(incident.resolved_at),
        "alert_count": incident.alert_count,
        "devices": list(incident.devices),
        "first_alert_ts": format_ts(incident.first_ts),
        "last_alert_ts": format_ts(incident.last_ts),
        "merged_into": None if incident.merged_into is None else f"INC-{incident.merged_into}",
    }


def change_json(change: Change) -> dict[str, Any]:
    """An incident change as the events feed stores it."""
    alert = getattr(change, "alert", None)
    data: dict[str, Any] = {"kind": change.kind, "incident": incident_json(change.incident),
                            "alert": alert.to_dict() if isinstance(alert, Alert) else None}
    if isinstance(change, Opened) and change.device is not None:
        data["device"] = change.device
    if isinstance(change, GradeChanged):
        data["previous_grade"] = change.previous.label
    if isinstance(change, Resolved):
        data["why"] = change.why
    if isinstance(change, Merged) and change.absorbed is not None:
        data["absorbed"] = change.absorbed.label
    return data


def _incident_row(incident: Incident) -> tuple[Any, ...]:
    return (incident.id, incident.zone, incident.hazard, int(incident.grade),
            incident.status.value, incident.opened_at, incident.updated_at, incident.resolved_at,
            incident.first_ts, incident.last_ts, incident.last_arrival, incident.alert_count,
            json.dumps(list(incident.devices)), incident.merged_into)


def _incident_from_row(row: sqlite3.Row | tuple[Any, ...]) -> Incident:
    return Incident(
        id=row[0], zone=row[1], hazard=row[2], grade=Grade(row[3]),
        status=IncidentStatus(row[4]), opened_at=row[5], updated_at=row[6], resolved_at=row[7],
        first_ts=row[8], last_ts=row[9], last_arrival=row[10], alert_count=row[11],
        devices=tuple(json.loads(row[12])), merged_into=row[13])


class Store:
    """A connection to the hub store. Use ``open_writer`` in the hub, ``open_reader`` elsewhere."""

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self.db = connection
        self.path = path

    # -- opening --------------------------------------------------------------
    @classmethod
    def open_writer(cls, path: Path) -> Store:
        """Open (creating if needed) the store for the one process that writes it."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA busy_timeout=5000")
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StoreError(f"{path} has store schema {version}, newer than this hub "
                                 f"understands ({SCHEMA_VERSION}); upgrade lifeline")
            db.executescript(f"BEGIN; {SCHEMA} PRAGMA user_version={SCHEMA_VERSION}; COMMIT;")
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open the store {path}: {exc}") from exc
        return cls(db, path)

    @classmethod
    def open_reader(cls, path: Path) -> Store | None:
        """Open an existing store to read it while the hub writes; None if there is none yet."""
        if not path.exists():
            return None
        try:
            db = sqlite3.connect(f"file:{path}?mode=rw", uri=True, isolation_level=None)
            db.execute("PRAGMA busy_timeout=5000")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the store {path}: {exc}") from exc
        return cls(db, path)

    def close(self) -> None:
        self.db.close()

    def _has_schema(self) -> bool:
        found = self.db.execute(
            "SELECT count(*) FROM sqlite_master WHERE type='table' AND name='events'").fetchone()
        return bool(found[0])

    # -- writing (the hub) -------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One write transaction: everything inside commits together or not at all."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def add_alert(self, alert: Alert, received_at: float, body: str) -> bool:
        """Store an alert unless its id is already stored; True if it was new."""
        cursor = self.db.execute(
            "INSERT OR IGNORE INTO alerts (id, device, zone, sensor, channel, kind, reason, grade,"
            " ts, received_at, value, unit, score, seq, cleared, message, body)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (alert.id, alert.device, alert.zone, alert.sensor, alert.channel, alert.kind,
             alert.reason.value, int(alert.grade), alert.ts, received_at, alert.value, alert.unit,
             alert.score, alert.seq, int(alert.cleared), alert.message, body))
        return cursor.rowcount == 1

    def record_status(self, status: Status, now: float, body: str) -> None:
        self.db.execute(
            "INSERT INTO devices (device, zone, state, status_ts, seen_at, body)"
            " VALUES (?,?,?,?,?,?) ON CONFLICT (device) DO UPDATE SET zone=excluded.zone,"
            " state=excluded.state, status_ts=excluded.status_ts, seen_at=excluded.seen_at,"
            " body=excluded.body",
            (status.device, status.zone, status.state, status.ts, now, body))

    def apply(self, changes: Iterable[Change], now: float) -> None:
        """Persist incident changes: incident rows, alert membership, one event each."""
        for change in changes:
            self._save_incident(change.incident)
            if isinstance(change, Merged) and change.absorbed is not None:
                self._save_incident(change.absorbed)
                self.db.execute("UPDATE incident_alerts SET incident_id=? WHERE incident_id=?",
                                (change.incident.id, change.absorbed.id))
            alert = change.alert if isinstance(change, Opened | Joined | Reopened) else None
            if alert is not None and not isinstance(change, Reopened):
                self.db.execute("INSERT OR REPLACE INTO incident_alerts (alert_id, incident_id)"
                                " VALUES (?, ?)", (alert.id, change.incident.id))
            self.db.execute("INSERT INTO events (at, kind, incident_id, payload) VALUES (?,?,?,?)",
                            (now, change.kind, change.incident.id,
                             json.dumps(change_json(change), separators=(",", ":"))))

    def _save_incident(self, incident: Incident) -> None:
        updates = ", ".join(f"{c}=excluded.{c}" for c in _INCIDENT_COLUMNS.split(", ")[1:])
        self.db.execute(f"INSERT INTO incidents ({_INCIDENT_COLUMNS}) VALUES "
                        f"(?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT (id) DO UPDATE SET {updates}",
                        _incident_row(incident))

    # -- reading ----------------------------------------------------------------------
    def live_incidents(self, now: float, keep_resolved_s: float) -> list[Incident]:
        """Incidents fusion still needs after a restart: active ones and recently resolved ones."""
        rows = self.db.execute(
            f"SELECT {_INCIDENT_COLUMNS} FROM incidents WHERE status IN ('open', 'acknowledged')"
            " OR (status = 'resolved' AND resolved_at >= ?) ORDER BY id",
            (now - keep_resolved_s,)).fetchall()
        return [_incident_from_row(row) for row in rows]

    def next_incident_id(self) -> int:
        return int(self.db.execute("SELECT coalesce(max(id), 0) + 1 FROM incidents").fetchone()[0])

    def incidents(self, status: str | None = None) -> list[Incident]:
        """Incidents newest first; merged ones only when asked for by status."""
        if not self._has_schema():
            return []
        where, args = ("status = ?", (status,)) if status else ("status != 'merged'", ())
        rows = self.db.execute(f"SELECT {_INCIDENT_COLUMNS} FROM incidents WHERE {where} "
                               "ORDER BY id DESC", args).fetchall()
        return [_incident_from_row(row) for row in rows]

    def alert_ids(self, incident_id: int) -> list[str]:
        rows = self.db.execute("SELECT alert_id FROM incident_alerts WHERE incident_id = ? "
                               "ORDER BY alert_id", (incident_id,)).fetchall()
        return [row[0] for row in rows]

    def count_alerts(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM alerts").fetchone()[0])

    def last_event_id(self) -> int:
        if not self._has_schema():
            return 0
        return int(self.db.execute("SELECT coalesce(max(id), 0) FROM events").fetchone()[0])

    def events_after(self, event_id: int, limit: int = 1000) -> list[Event]:
        if not self._has_schema():
            return []
        rows = self.db.execute("SELECT id, at, kind, payload FROM events WHERE id > ? "
                               "ORDER BY id LIMIT ?", (event_id, limit)).fetchall()
        return [Event(id=r[0], at=r[1], kind=r[2], payload=json.loads(r[3])) for r in rows]
