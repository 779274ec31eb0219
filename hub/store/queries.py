"""The hub's SQLite store: every alert once, incidents, and an append-only events feed.

One writer (``lifeline-hub run``) and any number of readers (``incidents``,
``tail``) in other processes: WAL mode lets readers work while the hub writes.
``synchronous=FULL``: a committed batch is on disk before the hub acknowledges
it to the broker and tells the edge to forget it, so a power cut cannot lose
an alert that exists nowhere else any more (NORMAL could lose the last
transactions, already acknowledged: nobody would redeliver them). Batching
keeps this to one fsync per batch.

Times are epoch seconds (REAL); they are shown as ISO 8601 UTC. The ``events``
table is the feed ``tail`` follows: one row per incident change, ids increasing.
With ``[store] retain_days`` the hub deletes what is over (hub/store/retention.py); the
ids of deleted alerts stay in ``pruned_alerts`` so a resend is still a duplicate.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from hub.core.incident import (
    Acknowledged,
    Assigned,
    Change,
    Commented,
    Confirmed,
    Evidence,
    Flapped,
    Flapping,
    GradeChanged,
    Incident,
    IncidentStatus,
    Joined,
    Merged,
    Opened,
    Readings,
    Resolved,
)
from hub.store.maintenance import MAINTENANCE_SCHEMA, MaintenanceStore
from lifeline.errors import HubError
from lifeline.grades import Grade
from lifeline.sdnotify import Notifier
from lifeline.wire import Alert, Status, format_incident_id, format_ts

__all__ = ["EVENT_DEVICES_MAX", "Event", "IncidentRow", "Store", "StoreError", "change_json", "incident_json"]

log = logging.getLogger(__name__)

# 5: maintenance marks (hub/store/maintenance.py); 4: alerts, memberships and pruned ids keyed
# by (device, id); 3: incident_state (rule state per channel); 2: incident columns
SCHEMA_VERSION = 5
UPGRADE_S_PER_ALERT = 100e-6  # what the upgrade to schema 4 may take, per alert (see there)
SCHEMA = """
CREATE TABLE IF NOT EXISTS alerts (
    id TEXT NOT NULL, device TEXT NOT NULL, zone TEXT NOT NULL, sensor TEXT NOT NULL,
    channel TEXT NOT NULL, kind TEXT NOT NULL, reason TEXT NOT NULL, grade INTEGER NOT NULL,
    ts REAL NOT NULL, received_at REAL NOT NULL, value REAL, unit TEXT, score REAL NOT NULL,
    seq INTEGER NOT NULL, cleared INTEGER NOT NULL, message TEXT NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (device, id));
CREATE INDEX IF NOT EXISTS alerts_device_ts ON alerts (device, ts);
CREATE TABLE IF NOT EXISTS incidents (
    id INTEGER PRIMARY KEY, zone TEXT NOT NULL, hazard TEXT NOT NULL, grade INTEGER NOT NULL,
    status TEXT NOT NULL, opened_at REAL NOT NULL, updated_at REAL NOT NULL, resolved_at REAL,
    first_ts REAL NOT NULL, last_ts REAL NOT NULL, last_arrival REAL NOT NULL,
    alert_count INTEGER NOT NULL, devices TEXT NOT NULL, merged_into INTEGER);
CREATE INDEX IF NOT EXISTS incidents_status ON incidents (status, resolved_at);
CREATE TABLE IF NOT EXISTS incident_alerts (
    device TEXT NOT NULL, alert_id TEXT NOT NULL,
    incident_id INTEGER NOT NULL REFERENCES incidents (id),
    PRIMARY KEY (device, alert_id), FOREIGN KEY (device, alert_id) REFERENCES alerts (device, id));
CREATE INDEX IF NOT EXISTS incident_alerts_incident ON incident_alerts (incident_id);
CREATE TABLE IF NOT EXISTS devices (
    device TEXT PRIMARY KEY, zone TEXT NOT NULL, state TEXT NOT NULL, status_ts REAL NOT NULL,
    seen_at REAL NOT NULL, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, kind TEXT NOT NULL,
    incident_id INTEGER, payload TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS events_incident ON events (incident_id);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS silences (
    id INTEGER PRIMARY KEY AUTOINCREMENT, created_at REAL NOT NULL, created_by TEXT NOT NULL,
    comment TEXT NOT NULL, expires_at REAL NOT NULL, zone TEXT, device TEXT, sensor TEXT,
    hazard TEXT, incident_id INTEGER, ended_at REAL, ended_by TEXT, end_reason TEXT);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT, created_at REAL NOT NULL, route TEXT NOT NULL,
    url TEXT NOT NULL, body TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL, delivered_at REAL, last_error TEXT);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (delivered_at, next_attempt_at);
CREATE INDEX IF NOT EXISTS incidents_merged ON incidents (merged_into)
    WHERE merged_into IS NOT NULL;
CREATE TABLE IF NOT EXISTS pruned_alerts (
    device TEXT NOT NULL, id TEXT NOT NULL, PRIMARY KEY (device, id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS incident_state (
    incident_id INTEGER NOT NULL, part TEXT NOT NULL, key TEXT NOT NULL, rows TEXT NOT NULL,
    PRIMARY KEY (incident_id, part, key)) WITHOUT ROWID;
""" + MAINTENANCE_SCHEMA
# ``pruned_alerts``: the (device, id) of alerts retention deleted (hub/store/retention.py), so a
# resend of one is still a duplicate; device '' for ids pruned before schema 4 (any device).
# An alert id is unique per device only: two devices may use the same id (schema 4), so one
# device's alert can never be taken for another's duplicate. ``meta`` ``incident_id_floor``:
# the highest incident id retention deleted, so ids are never given out twice.
# Columns added by schema 2 (topology, lifecycle, rule state), with their defaults for old rows.
_V2_COLUMNS = (("zones", "TEXT NOT NULL DEFAULT '[]'"), ("assignee", "TEXT"),
               ("latched", "INTEGER NOT NULL DEFAULT 0"), ("flapping", "INTEGER NOT NULL DEFAULT 0"),
               ("confirmed", "INTEGER NOT NULL DEFAULT 0"),
               ("suppressed", "INTEGER NOT NULL DEFAULT 0"),
               ("rule_state", "TEXT NOT NULL DEFAULT '{}'"))
_INCIDENT_COLUMNS = ("id, zone, hazard, grade, status, opened_at, updated_at, resolved_at, "
                     "first_ts, last_ts, last_arrival, alert_count, devices, merged_into, "
                     "zones, assignee, latched, flapping, confirmed, suppressed, rule_state")
_PLACEHOLDERS = ",".join("?" * len(_INCIDENT_COLUMNS.split(", ")))
# the incident upsert, built once: it runs for every incident of every batch
_SAVE_INCIDENT = (f"INSERT INTO incidents ({_INCIDENT_COLUMNS}) VALUES ({_PLACEHOLDERS}) "
                  "ON CONFLICT (id) DO UPDATE SET "
                  + ", ".join(f"{c}=excluded.{c}" for c in _INCIDENT_COLUMNS.split(", ")[1:]))
# The same columns with a rule state cut down to the grade reasons and counts (Store.incidents)
_LISTING_COLUMNS = _INCIDENT_COLUMNS.replace(
    "rule_state", "json_object('reasons', "
    "json(coalesce(json_extract(rule_state, '$.reasons'), '[]')), "
    "'flaps', coalesce(json_extract(rule_state, '$.flaps'), 0), "
    "'device_count', coalesce(json_extract(rule_state, '$.device_count'), 0))")


# One row of ``Store.incident_rows``: id, status, grade (an int), hazard, zone, alert count,
# devices (JSON array text), opened_at, updated_at.
IncidentRow = tuple[int, str, int, str, str, int, str, float, float]


def _upgrade_to_v4(db: sqlite3.Connection) -> None:
    """Schema 4: an alert is identified by (device, id), not by id alone (issue 13): a store
    of an earlier schema gets its ``alerts``, ``incident_alerts`` and ``pruned_alerts``
    rebuilt in one transaction (rows, and the alerts' rowids retention walks by, kept). Ids
    pruned before keep device '' and stay duplicates for every device. The rebuild copies
    the alerts once: ~45 s per million alerts, measured (docs/hub.md); systemd is asked to
    wait that long (EXTEND_TIMEOUT_USEC)."""
    keys = [r[1] for r in sorted(db.execute("PRAGMA table_info(alerts)"), key=lambda r: r[5])
            if r[5]]
    if not keys or keys == ["device", "id"]:
        return  # a new store, or already schema 4
    count = int(db.execute("SELECT count(*) FROM alerts").fetchone()[0])
    # measured ~45 s per million alerts on a busy 2-core server: ask systemd for twice that
    # (TimeoutStartSec would otherwise kill the upgrade, which then starts over for ever)
    extra_s = 60 + count * UPGRADE_S_PER_ALERT
    log.warning("upgrading the store to schema 4 (alerts deduplicated per device): copying "
                "%d alerts, up to %.0f s; the hub starts when it is done", count, extra_s)
    Notifier().notify(f"EXTEND_TIMEOUT_USEC={int(extra_s * 1e6)}",
                      f"STATUS=upgrading the store: {count} alerts")
    columns = ", ".join(r[1] for r in db.execute("PRAGMA table_info(alerts)"))
    have = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    old = [t for t in ("alerts", "incident_alerts", "pruned_alerts") if t in have]
    copy = [f"INSERT INTO alerts (rowid, {columns}) SELECT rowid, {columns} FROM alerts_v3;"]
    if "incident_alerts" in have:
        copy.append("INSERT OR IGNORE INTO incident_alerts (device, alert_id, incident_id)"
                    " SELECT coalesce(a.device, ''), m.alert_id, m.incident_id"
                    " FROM incident_alerts_v3 m LEFT JOIN alerts_v3 a ON a.id = m.alert_id;")
    if "pruned_alerts" in have:
        copy.append("INSERT OR IGNORE INTO pruned_alerts (device, id)"
                    " SELECT '', id FROM pruned_alerts_v3;")
    db.executescript("BEGIN;"
                     + "".join(f"ALTER TABLE {t} RENAME TO {t}_v3;" for t in old)
                     + "DROP INDEX IF EXISTS alerts_device_ts;"
                     + "DROP INDEX IF EXISTS incident_alerts_incident;"
                     + SCHEMA + "".join(copy)
                     + "".join(f"DROP TABLE {t}_v3;" for t in reversed(old)) + "COMMIT;")


class StoreError(HubError):
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


# Devices an events-feed row names (the first, by name); ``device_count`` says how many
# there are. An earthquake's incident has thousands, and every change of it is a row.
EVENT_DEVICES_MAX = 20


def incident_json(incident: Incident, devices_max: int | None = None) -> dict[str, Any]:
    """The public JSON shape of an incident (``incidents --json``, ``tail --json``).

    ``devices_max``: name at most that many devices (events-feed rows); ``device_count``
    is always the number of devices."""
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
        "devices": list(incident.devices[:devices_max]),
        "device_count": incident.n_devices,
        "first_alert_ts": format_ts(incident.first_ts),
        "last_alert_ts": format_ts(incident.last_ts),
        "merged_into": None if incident.merged_into is None else format_incident_id(incident.merged_into),
        "zones": list(incident.all_zones),
        "assignee": incident.assignee,
        "latched": incident.latched,
        "flapping": incident.flapping,
        "confirmed": incident.confirmed,
        "suppressed": incident.suppressed,
        "flaps": incident.flaps,
        "reasons": list(incident.reasons),
        "dedup_key": f"lifeline/{incident.hazard}/{incident.label}",
    }


def change_json(change: Change) -> dict[str, Any]:
    """An incident change as the events feed stores it."""
    alert = getattr(change, "alert", None)
    data: dict[str, Any] = {"kind": change.kind,
                            "incident": incident_json(change.incident, EVENT_DEVICES_MAX),
                            "alert": alert.to_dict() if isinstance(alert, Alert) else None}
    if isinstance(change, Opened) and change.device is not None:
        data["device"] = change.device
    if isinstance(change, GradeChanged):
        data["previous_grade"] = change.previous.label
    if isinstance(change, GradeChanged | Resolved | Merged | Confirmed | Flapping
                  | Acknowledged | Assigned) or (isinstance(change, Joined) and change.why):
        data["why"] = change.why
    if isinstance(change, Merged) and change.absorbed is not None:
        data["absorbed"] = change.absorbed.label
    if isinstance(change, Resolved | Acknowledged | Assigned | Commented) and change.by:
        data["by"] = change.by
    if isinstance(change, Assigned):
        data["assignee"] = change.assignee
    if isinstance(change, Commented):
        data["text"] = change.text
    return data


def _incident_row(incident: Incident) -> tuple[Any, ...]:
    return (incident.id, incident.zone, incident.hazard, int(incident.grade),
            incident.status.value, incident.opened_at, incident.updated_at, incident.resolved_at,
            incident.first_ts, incident.last_ts, incident.last_arrival, incident.alert_count,
            json.dumps(list(incident.devices)), incident.merged_into,
            json.dumps(list(incident.zones)), incident.assignee, int(incident.latched),
            int(incident.flapping), int(incident.confirmed), incident.suppressed,
            json.dumps({"kinds": list(incident.kinds), "reasons": list(incident.reasons),
                        "transitions": list(incident.transitions), "flaps": incident.flaps,
                        "device_count": incident.n_devices},
                       separators=(",", ":")))


def _incident_from_row(row: sqlite3.Row | tuple[Any, ...]) -> Incident:
    state = json.loads(row[20] or "{}")
    return Incident(
        id=row[0], zone=row[1], hazard=row[2], grade=Grade(row[3]),
        status=IncidentStatus(row[4]), opened_at=row[5], updated_at=row[6], resolved_at=row[7],
        first_ts=row[8], last_ts=row[9], last_arrival=row[10], alert_count=row[11],
        devices=tuple(json.loads(row[12])), merged_into=row[13],
        zones=tuple(json.loads(row[14] or "[]")), assignee=row[15], latched=bool(row[16]),
        flapping=bool(row[17]), confirmed=bool(row[18]), suppressed=row[19],
        kinds=tuple(state.get("kinds", ())), reasons=tuple(state.get("reasons", ())),
        transitions=tuple(state.get("transitions", ())), flaps=int(state.get("flaps", 0)),
        device_count=int(state.get("device_count", 0)),
        evidence={k: _evidence_rows(v) for k, v in state.get("evidence", {}).items()},
        readings={k: _readings_rows(v) for k, v in state.get("readings", {}).items()})


# One channel's rule state from its JSON (``incident_state.rows``, or a schema-2 row's)
def _evidence_rows(rows: list[list[Any]]) -> Evidence:
    return tuple((float(r[0]), int(r[1]), bool(r[2])) for r in rows)


def _readings_rows(rows: list[list[Any]]) -> Readings:
    return tuple((float(r[0]), float(r[1])) for r in rows)


class Store(MaintenanceStore):
    """A connection to the hub store. Use ``open_writer`` in the hub, ``open_reader`` elsewhere."""

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self.db = connection
        self.path = path
        # per incident, the rule-state rows (by part and key) known to be in incident_state,
        # by identity: a save writes only the channels whose rows are new objects
        self._saved: dict[int, dict[tuple[str, str], object]] = {}
        self._state_table = False  # incident_state seen in this store (see _has_state_table)

    # -- opening --------------------------------------------------------------
    @classmethod
    def open_writer(cls, path: Path) -> Store:
        """Open (creating if needed) the store for the one process that writes it."""
        try:
            # Private from the first byte, also outside systemd's UMask=0077: a new state
            # directory 0700, a new store 0600 (SQLite gives its -wal and -shm files the
            # mode of the database file). An existing directory or store keeps its mode.
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            if not path.exists():
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
            db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.execute("PRAGMA busy_timeout=5000")
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StoreError(f"{path} has store schema {version}, newer than this hub "
                                 f"understands ({SCHEMA_VERSION}); upgrade lifeline")
            _upgrade_to_v4(db)
            db.executescript(f"BEGIN; {SCHEMA} COMMIT;")
            have = {r[1] for r in db.execute("PRAGMA table_info(incidents)")}
            upgrade = "".join(f"ALTER TABLE incidents ADD COLUMN {name} {decl};"
                              for name, decl in _V2_COLUMNS if name not in have)
            db.executescript(f"BEGIN; {upgrade} PRAGMA user_version={SCHEMA_VERSION}; COMMIT;")
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
            if self.db.in_transaction:  # SQLite rolls back itself on some errors (disk full)
                self.db.execute("ROLLBACK")
            self._saved.clear()  # what the rolled-back writes put there is gone
            raise
        self.db.execute("COMMIT")

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """Inside a transaction: what the block writes is undone if it raises (one message's
        writes in a batch), the rest of the transaction goes on."""
        self.db.execute("SAVEPOINT one_message")
        try:
            yield
        except BaseException:
            if self.db.in_transaction:  # SQLite ends the transaction itself on some errors
                self.db.execute("ROLLBACK TO one_message")
                self.db.execute("RELEASE one_message")
            self._saved.clear()  # identities written inside may be gone
            raise
        self.db.execute("RELEASE one_message")

    def add_alert(self, alert: Alert, received_at: float, body: str) -> bool:
        """Store an alert unless its device already sent its id (stored, or pruned since);
        True if it was new. Another device's alert with the same id is a different alert."""
        cursor = self.db.execute(
            "INSERT OR IGNORE INTO alerts (id, device, zone, sensor, channel, kind, reason, grade,"
            " ts, received_at, value, unit, score, seq, cleared, message, body)"
            " SELECT ?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?"
            " WHERE NOT EXISTS (SELECT 1 FROM pruned_alerts WHERE device IN (?, '') AND id = ?)",
            (alert.id, alert.device, alert.zone, alert.sensor, alert.channel, alert.kind,
             alert.reason.value, int(alert.grade), alert.ts, received_at, alert.value, alert.unit,
             alert.score, alert.seq, int(alert.cleared), alert.message, body, alert.device,
             alert.id))
        return cursor.rowcount == 1

    def record_status(self, status: Status, now: float, body: str) -> None:
        self.db.execute(
            "INSERT INTO devices (device, zone, state, status_ts, seen_at, body)"
            " VALUES (?,?,?,?,?,?) ON CONFLICT (device) DO UPDATE SET zone=excluded.zone,"
            " state=excluded.state, status_ts=excluded.status_ts, seen_at=excluded.seen_at,"
            " body=excluded.body",
            (status.device, status.zone, status.state, status.ts, now, body))

    def apply(self, changes: Iterable[Change], now: float) -> None:
        """Persist incident changes: incident rows, alert membership, one event each (but
        ``Flapped``, which only moves a flapping device incident's counters).

        Each incident row is written once, in its latest state: in a storm hundreds of
        changes of one batch touch the same incident, and rewriting its rule state
        (evidence, readings) for each of them was a quarter of the ingest's time."""
        latest: dict[int, Incident] = {}
        for change in changes:
            latest[change.incident.id] = change.incident
            if isinstance(change, Merged) and change.absorbed is not None:
                latest[change.absorbed.id] = change.absorbed
                self.db.execute("UPDATE incident_alerts SET incident_id=? WHERE incident_id=?",
                                (change.incident.id, change.absorbed.id))
            alert = change.alert if isinstance(change, Opened | Joined) else None
            if alert is not None:
                self.db.execute("INSERT OR REPLACE INTO incident_alerts (device, alert_id,"
                                " incident_id) VALUES (?, ?, ?)",
                                (alert.device, alert.id, change.incident.id))
            if isinstance(change, Flapped):  # counters of a flapping device: saved, no event
                continue
            self.db.execute("INSERT INTO events (at, kind, incident_id, payload) VALUES (?,?,?,?)",
                            (now, change.kind, change.incident.id,
                             json.dumps(change_json(change), separators=(",", ":"))))
        for incident in latest.values():
            self._save_incident(incident)

    def _save_incident(self, incident: Incident) -> None:
        """The incident's row, and the channels of its rule state that changed.

        The rule state (up to 200 rows per channel) lives in ``incident_state``, one row
        per channel: an alert changes one channel, so a batch rewrites the channels its
        alerts touched, not every channel of every incident they joined (that was most
        of the bytes the hub wrote). Rows are never deleted here but for a merged-away
        incident, so saving an incident loaded without its rule state loses nothing."""
        self.db.execute(_SAVE_INCIDENT, _incident_row(incident))
        if incident.status is IncidentStatus.MERGED:  # its evidence lives on in the survivor
            self.db.execute("DELETE FROM incident_state WHERE incident_id = ?", (incident.id,))
            self._saved.pop(incident.id, None)
            return
        saved = self._saved.setdefault(incident.id, {})
        for part, state in (("evidence", incident.evidence), ("readings", incident.readings)):
            for key, rows in state.items():
                if saved.get((part, key)) is not rows:
                    self.db.execute(
                        "INSERT OR REPLACE INTO incident_state (incident_id, part, key, rows)"
                        " VALUES (?,?,?,?)",
                        (incident.id, part, key, json.dumps(rows, separators=(",", ":"))))
                    saved[part, key] = rows
        if not incident.active:  # keep identities for incidents still changing only
            del self._saved[incident.id]

    def _has_state_table(self) -> bool:
        """Schema 3 or later (a reader may open an older store); asked once, when it is yes
        (a table is never dropped, and routing asks for every incident it routes)."""
        if not self._state_table:
            self._state_table = self.db.execute(
                "SELECT 1 FROM sqlite_master WHERE type='table' AND name='incident_state'"
            ).fetchone() is not None
        return self._state_table

    def _with_state(self, incidents: list[Incident], remember: bool = False) -> list[Incident]:
        """``incidents`` with their rule state from ``incident_state``, over what a store
        written before schema 3 kept in the row. ``remember``: the writer's own load, whose
        rows then need no rewrite until they change."""
        if not incidents or not self._has_state_table():
            return incidents
        found: dict[int, tuple[dict[str, Evidence], dict[str, Readings]]] = {}
        ids = [i.id for i in incidents]
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            for incident_id, part, key, text in self.db.execute(
                    "SELECT incident_id, part, key, rows FROM incident_state WHERE incident_id"
                    f" IN ({','.join('?' * len(chunk))})", chunk):
                evidence, readings = found.setdefault(incident_id, ({}, {}))
                if part == "evidence":
                    evidence[key] = _evidence_rows(json.loads(text))
                else:
                    readings[key] = _readings_rows(json.loads(text))
        out = []
        for incident in incidents:
            if incident.id not in found:
                out.append(incident)
                continue
            evidence, readings = found[incident.id]
            if remember and incident.active:
                self._saved[incident.id] = {**{("evidence", k): v for k, v in evidence.items()},
                                            **{("readings", k): v for k, v in readings.items()}}
            out.append(replace(incident, evidence={**incident.evidence, **evidence},
                               readings={**incident.readings, **readings}))
        return out

    # -- reading ----------------------------------------------------------------------
    def live_incidents(self, now: float, keep_resolved_s: float) -> list[Incident]:
        """Incidents fusion still needs after a restart: active ones and recently resolved ones."""
        rows = self.db.execute(
            f"SELECT {_INCIDENT_COLUMNS} FROM incidents WHERE status IN ('open', 'acknowledged')"
            " OR (status = 'resolved' AND resolved_at >= ?) ORDER BY id",
            (now - keep_resolved_s,)).fetchall()
        return self._with_state([_incident_from_row(row) for row in rows], remember=True)

    def next_incident_id(self) -> int:
        """One more than any incident id ever given, including those retention deleted."""
        highest = self.db.execute("SELECT coalesce(max(id), 0) FROM incidents").fetchone()[0]
        return max(int(highest), int(self.meta("incident_id_floor", "0"))) + 1

    def incidents(self, status: str | None = None, rule_state: bool = True, *,
                  limit: int | None = None) -> list[Incident]:
        """Incidents newest first (the ``limit`` newest, if given); merged ones only when
        asked for by status.

        ``rule_state=False`` is for listings: the evidence and readings each incident
        keeps for fusion (up to hundreds of rows each) are left out, only its grade
        reasons are read -- parsing the whole state made a list of 10,000 incidents
        take seconds."""
        if not self._has_schema():
            return []
        where, args = self._listing_filter(status)
        columns = _INCIDENT_COLUMNS if rule_state else _LISTING_COLUMNS
        rows = self.db.execute(f"SELECT {columns} FROM incidents WHERE {where} "
                               "ORDER BY id DESC LIMIT ?", (*args, -1 if limit is None else limit)
                               ).fetchall()
        found = [_incident_from_row(row) for row in rows]
        return self._with_state(found) if rule_state else found

    def incident_rows(self, status: str | None = None, limit: int | None = None
                      ) -> list[IncidentRow]:
        """What the ``incidents`` table shows, as ``incidents(status)`` orders and filters,
        in plain rows: not the rule state (most of a row's bytes, in overflow pages the
        scan then never reads), nor an ``Incident`` built per row. At 10,000 incidents
        this is a few times faster than ``incidents(rule_state=False)``."""
        if not self._has_schema():
            return []
        where, args = self._listing_filter(status)
        return self.db.execute(
            "SELECT id, status, grade, hazard, zone, alert_count, devices, opened_at, updated_at "
            f"FROM incidents WHERE {where} ORDER BY id DESC LIMIT ?",
            (*args, -1 if limit is None else limit)).fetchall()

    def count_incidents(self, status: str | None = None) -> int:
        """How many incidents ``incidents(status)`` lists (from the status index alone)."""
        if not self._has_schema():
            return 0
        where, args = self._listing_filter(status)
        return int(self.db.execute(f"SELECT count(*) FROM incidents WHERE {where}", args
                                   ).fetchone()[0])

    def count_active_incidents(self) -> int:
        if not self._has_schema():
            return 0
        return int(self.db.execute("SELECT count(*) FROM incidents WHERE status IN "
                                   "('open', 'acknowledged')").fetchone()[0])

    @staticmethod
    def _listing_filter(status: str | None) -> tuple[str, tuple[str, ...]]:
        return ("status = ?", (status,)) if status else ("status != 'merged'", ())

    def data_version(self) -> int:
        """A number that changes whenever another connection commits (``PRAGMA
        data_version``): a few microseconds, no disk read (the WAL index is shared memory),
        so ``tail`` can ask every few ms and read the feed only after a commit."""
        return int(self.db.execute("PRAGMA data_version").fetchone()[0])

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

    def events_after(self, event_id: int, limit: int = 1000,
                     kinds: Sequence[str] | None = None) -> list[Event]:
        """Events after ``event_id`` in order; only those of ``kinds`` when given (the rest
        are skipped in SQL, their payloads never decoded)."""
        if not self._has_schema():
            return []
        only = "" if kinds is None else f" AND kind IN ({','.join('?' * len(kinds))})"
        rows = self.db.execute(f"SELECT id, at, kind, payload FROM events WHERE id > ?{only} "
                               "ORDER BY id LIMIT ?", (event_id, *(kinds or ()), limit)).fetchall()
        return [Event(id=r[0], at=r[1], kind=r[2], payload=json.loads(r[3])) for r in rows]

    def events_since(self, at: float, limit: int = 100_000) -> list[Event]:
        """Events recorded at or after wall time ``at`` (``tail --since``)."""
        if not self._has_schema():
            return []
        rows = self.db.execute("SELECT id, at, kind, payload FROM events WHERE at >= ? "
                               "ORDER BY id LIMIT ?", (at, limit)).fetchall()
        return [Event(id=r[0], at=r[1], kind=r[2], payload=json.loads(r[3])) for r in rows]

    # -- operators' desk ----------------------------------------------------------------
    def incident(self, incident_id: int) -> Incident | None:
        if not self._has_schema():
            return None
        row = self.db.execute(f"SELECT {_INCIDENT_COLUMNS} FROM incidents WHERE id = ?",
                              (incident_id,)).fetchone()
        return None if row is None else self._with_state([_incident_from_row(row)])[0]

    def timeline(self, incident_id: int) -> list[Event]:
        """The incident's events, with those of the incidents merged into it."""
        ids = [incident_id, *(r[0] for r in self.db.execute(
            "SELECT id FROM incidents WHERE merged_into = ?", (incident_id,)))]
        marks = ",".join("?" * len(ids))
        rows = self.db.execute(f"SELECT id, at, kind, payload FROM events WHERE incident_id IN "
                               f"({marks}) ORDER BY id", ids).fetchall()
        return [Event(id=r[0], at=r[1], kind=r[2], payload=json.loads(r[3])) for r in rows]

    def incident_alerts(self, incident_id: int) -> list[dict[str, Any]]:
        """The wire JSON of the incident's alerts, by reading time."""
        rows = self.db.execute(
            "SELECT a.body FROM incident_alerts m JOIN alerts a ON a.device = m.device"
            " AND a.id = m.alert_id "
            "WHERE m.incident_id = ? ORDER BY a.ts", (incident_id,)).fetchall()
        return [json.loads(r[0]) for r in rows]

    def meta(self, key: str, default: str = "") -> str:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return default if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) "
                        "DO UPDATE SET value = excluded.value", (key, value))

    def desk_revision(self) -> int:
        """Bumped by every operator action, so the hub knows to reload what people changed."""
        return int(self.meta("desk_revision", "0"))

    def bump_desk_revision(self) -> None:
        self.set_meta("desk_revision", str(self.desk_revision() + 1))

    def devices(self) -> list[tuple[str, str, str, float]]:
        """(device, zone, state, seen_at) for every device that sent a status."""
        return [(r[0], r[1], r[2], r[3]) for r in self.db.execute(
            "SELECT device, zone, state, seen_at FROM devices ORDER BY device")]

    def alert_rates(self, since: float) -> dict[str, tuple[int, float | None, str | None]]:
        """Per device: alerts received since ``since``, when the last one arrived, and its zone.

        (SQLite takes a bare column of an aggregate query with max() from the max row.)"""
        return {r[0]: (r[1], r[2], r[3]) for r in self.db.execute(
            "SELECT device, sum(received_at >= ?), max(received_at), zone FROM alerts "
            "GROUP BY device", (since,))}
