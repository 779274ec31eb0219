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

Every query the hub runs is a named operation here (``Store``), on the outbox
(``Store.outbox``, hub/store/outbox.py), on the silences (``Store.silences``,
hub/store/silences.py) or on the maintenance marks (``Store.maintenance``,
hub/store/maintenance.py); the schema and its migrations are hub/store/schema.py, the row
codecs hub/store/codec.py. ``Store.db`` is the connection, for the store's own modules
and for tests that look at the rows.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hub.core.deadlines import ResponseClock
from hub.core.incident import (
    Change,
    Evidence,
    Flapped,
    Incident,
    IncidentStatus,
    Joined,
    Merged,
    Opened,
    Readings,
    changed_channels,
    saved_channels,
)
from hub.core.report import IncidentFacts
from hub.store.codec import (
    INCIDENT_COLUMNS,
    Event,
    IncidentRow,
    change_json,
    clock_of,
    evidence_rows,
    fold_json,
    incident_from_row,
    incident_row,
    joined_folds,
    json_text,
    readings_rows,
)
from hub.store.dialect import EVENTS_LOCK, POSTGRES, SQLITE, Database, Dialect, lock_key
from hub.store.errors import StoreError
from hub.store.maintenance import Maintenance
from hub.store.outbox import Outbox
from hub.store.schema import SCHEMA_VERSION, migrate, schema_version
from hub.store.silences import Silences
from lifeline.wire import Alert, Status

if TYPE_CHECKING:
    from hub.config import StoreConfig
    from hub.store.postgres import PgConnection

__all__ = ["ROUTED_CURSOR", "Store", "StoreError"]

log = logging.getLogger(__name__)

# ``meta`` key of the events-feed cursor routing keeps: the last event it routed
ROUTED_CURSOR = "routed_event"
_PLACEHOLDERS = ",".join("?" * len(INCIDENT_COLUMNS.split(", ")))
# the incident upsert, built once: it runs for every incident of every batch
_SAVE_INCIDENT = (f"INSERT INTO incidents ({INCIDENT_COLUMNS}) VALUES ({_PLACEHOLDERS}) "
                  "ON CONFLICT (id) DO UPDATE SET "
                  + ", ".join(f"{c}=excluded.{c}" for c in INCIDENT_COLUMNS.split(", ")[1:]))
_KEYS_PER_QUERY = 250  # (device, id) pairs per look-up: 5 parameters each, well under limits


_ALERT_COLUMNS = ("id, device, zone, sensor, channel, kind, reason, grade, ts, received_at, "
                  "value, unit, score, seq, cleared, message, body")


class Store:
    """A connection to the hub store: ``writer``/``reader`` open what hub.toml's ``[store]``
    names (a SQLite file, or a PostgreSQL database); ``open_writer``/``open_reader`` a
    SQLite file.

    ``path`` is the SQLite file (None on PostgreSQL); ``location`` names the store for
    people (the file, or the database's URL); ``sql`` is the dialect (hub/store/dialect.py);
    ``migrated_from`` the schema a writer found before it upgraded the store."""

    def __init__(self, connection: Database, path: Path | None, dialect: Dialect = SQLITE,
                 location: str | None = None) -> None:
        self.db = connection
        self.path = path
        self.sql = dialect
        self.location = location if location is not None else str(path)
        self.migrated_from = SCHEMA_VERSION
        self.outbox = Outbox(connection)
        self.silences = Silences(connection, dialect)
        self.maintenance = Maintenance(connection)
        self._listener: PgConnection | None = None
        # per incident, the rule-state rows (by part and key) known to be in incident_state,
        # by identity: a save writes only the channels whose rows are new objects
        self._saved: dict[int, dict[tuple[str, str], object]] = {}
        self._state_table = False  # incident_state seen in this store (see _has_state_table)
        self._events_locked = True  # see transaction and _lock_events
        self._shared_tx = False  # the open transaction is a batch shared with other hubs
        self._leases: set[str] = set()  # the leases this connection holds (try_lease)
        # statements ``apply`` runs per alert and per channel, built once
        self._sql_member = dialect.insert_replace(
            "incident_alerts", ("device", "alert_id", "incident_id"), ("device", "alert_id"))
        self._sql_state = dialect.insert_replace(
            "incident_state", ("incident_id", "part", "key", "rows"), ("incident_id", "part", "key"))

    # -- opening --------------------------------------------------------------
    @classmethod
    def writer(cls, config: StoreConfig) -> Store:
        """Open the store hub.toml names for writing: the SQLite file ``[store] path``
        (created if need be), or the PostgreSQL database ``[store] url`` (schema created or
        upgraded, hub/store/postgres_schema.py). StoreError if it cannot be."""
        if config.url is None:
            return cls.open_writer(config.path)
        from hub.store import postgres, postgres_schema  # psycopg only for a PostgreSQL store

        location = postgres.redacted(config.url)
        db = postgres.connect(config.url)
        try:
            before = postgres_schema.migrate(db, location)
        except BaseException:
            db.close()
            raise
        store = cls(db, None, POSTGRES, location)
        store.migrated_from = before
        return store

    @classmethod
    def reader(cls, config: StoreConfig) -> Store | None:
        """Open the store hub.toml names to read it while the hub writes; None if there is
        no SQLite file yet (a PostgreSQL database without the tables reads as empty)."""
        if config.url is None:
            return cls.open_reader(config.path)
        from hub.store import postgres

        return cls(postgres.connect(config.url), None, POSTGRES, postgres.redacted(config.url))

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
            version = schema_version(db)
            if version > SCHEMA_VERSION:
                raise StoreError(f"{path} has store schema {version}, newer than this hub "
                                 f"understands ({SCHEMA_VERSION}); upgrade lifeline")
            migrate(db)
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open the store {path}: {exc}") from exc
        store = cls(db, path)
        store.migrated_from = version
        return store

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
        return self.db.execute(self.sql.table_exists, ("events",)).fetchone() is not None

    def has_schema(self) -> bool:
        """The store has its tables (a PostgreSQL database may not, before the hub ran)."""
        return self._has_schema()

    def size_bytes(self) -> int:
        """What the store takes on disk: the SQLite file with its -wal and -shm, or the
        PostgreSQL database."""
        if self.sql.size is not None:
            return int(self.db.execute(self.sql.size).fetchone()[0])
        assert self.path is not None
        return sum(p.stat().st_size for p in self.path.parent.glob(self.path.name + "*")
                   if p.is_file())

    # -- writing (the hub) -------------------------------------------------------
    @property
    def concurrent(self) -> bool:
        """Several hubs may write this store at once (PostgreSQL): batches lock the fusion
        domains they touch (``transaction(domains)``), routing and the clock are one hub's."""
        return self.sql.begin_shared is not None

    @contextmanager
    def transaction(self, domains: Collection[str] | None = None) -> Iterator[None]:
        """One write transaction: everything inside commits together or not at all.

        ``domains`` (a hub's batch, hub/core/domains.py): on a ``concurrent`` store the
        transaction holds the writer lock shared with other hubs' batches, and one lock
        per domain, taken in key order, so two batches that may touch the same incidents
        run one after the other and others in parallel. Without ``domains`` (the desk,
        routing, retention, ticks), or on SQLite, it is the only writer."""
        shared = domains is not None and self.sql.begin_shared is not None
        begin = self.sql.begin_shared if shared and self.sql.begin_shared else self.sql.begin
        self.db.execute(begin[0])
        self._events_locked = not shared  # a shared batch locks the feed at its first event
        self._shared_tx = shared
        try:
            for statement in begin[1:]:  # PostgreSQL: the store's writer lock
                self.db.execute(statement)
            if shared and domains and self.sql.domain_lock is not None:
                for key in sorted({lock_key(name) for name in domains}):
                    self.db.execute(self.sql.domain_lock, (key,))
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
            # a lock taken inside is released by the rollback: the feed's, take it again
            self._events_locked = not self._shared_tx
            raise
        self.db.execute("RELEASE one_message")

    def add_alert(self, alert: Alert, received_at: float, body: str) -> bool:
        """Store an alert unless its device already sent its id (stored, or pruned since);
        True if it was new. Another device's alert with the same id is a different alert."""
        cursor = self.db.execute(self.sql.insert_ignore(
            f"alerts ({_ALERT_COLUMNS})", "SELECT ?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?"
            " WHERE NOT EXISTS (SELECT 1 FROM pruned_alerts WHERE device IN (?, '') AND id = ?)"),
            (alert.id, alert.device, alert.zone, alert.sensor, alert.channel, alert.kind,
             alert.reason.value, int(alert.grade), alert.ts, received_at, alert.value, alert.unit,
             alert.score, alert.seq, int(alert.cleared), alert.message, body, alert.device,
             alert.id))
        return cursor.rowcount == 1

    def add_alerts(self, alerts: Sequence[tuple[Alert, str]], received_at: float) -> list[bool]:
        """``add_alert`` for a batch of (alert, body), in two statements per
        ``_KEYS_PER_QUERY`` alerts instead of one each: which of their (device, id) the store
        already holds (stored or pruned), then one ``executemany`` of the new ones. Per
        alert, True if it was new; a repeat inside ``alerts`` is a duplicate of the first.
        Called in the writer's transaction (no other writer can add an id meanwhile); a
        value a row cannot hold raises as ``add_alert`` would (the caller then goes alert
        by alert, in savepoints, to refuse that one alone)."""
        held = self._held_keys([(a.device, a.id) for a, _ in alerts])
        any_device = {key[1] for key in held if key[0] == ""}
        new: list[bool] = []
        rows: list[tuple[Any, ...]] = []
        for alert, body in alerts:
            key = (alert.device, alert.id)
            fresh = key not in held and alert.id not in any_device
            new.append(fresh)
            if fresh:
                held.add(key)
                rows.append((alert.id, alert.device, alert.zone, alert.sensor, alert.channel,
                             alert.kind, alert.reason.value, int(alert.grade), alert.ts,
                             received_at, alert.value, alert.unit, alert.score, alert.seq,
                             int(alert.cleared), alert.message, body))
        if rows:
            self.db.executemany(f"INSERT INTO alerts ({_ALERT_COLUMNS}) VALUES "
                                f"({','.join('?' * 17)})", rows)
        return new

    def remove_alert(self, alert: Alert) -> None:
        """Take back an alert stored in this transaction (fusion could not take it)."""
        self.db.execute("DELETE FROM alerts WHERE device = ? AND id = ?", (alert.device, alert.id))

    def _held_keys(self, keys: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
        """Of ``keys`` (device, id), those the store holds: alerts stored, ids pruned (for
        their device, or for any device: ``pruned_alerts`` device '' from before schema 4)."""
        held: set[tuple[str, str]] = set()
        for start in range(0, len(keys), _KEYS_PER_QUERY):
            chunk = keys[start:start + _KEYS_PER_QUERY]
            pairs = ",".join(["(?,?)"] * len(chunk))
            flat = [part for key in chunk for part in key]
            # a join from the keys, so each is one look-up of the primary key on both
            # databases (``(device, id) IN (VALUES ...)`` scans the whole table on SQLite)
            held.update((r[0], r[1]) for r in self.db.execute(
                f"SELECT a.device, a.id FROM (VALUES {pairs}) AS k JOIN alerts a"
                " ON a.device = k.column1 AND a.id = k.column2 UNION ALL"
                f" SELECT p.device, p.id FROM (VALUES {pairs}) AS k JOIN pruned_alerts p"
                " ON p.device IN (k.column1, '') AND p.id = k.column2", [*flat, *flat]))
        return held

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
        with self._unanswered():
            self._apply(changes, now)

    def _unanswered(self) -> AbstractContextManager[object]:
        """Writes whose results are not read: pipelined on PostgreSQL (a round trip per
        statement was most of a batch's time), as they come on SQLite (in process)."""
        if self.path is not None:
            return nullcontext()
        from hub.store.postgres import PgConnection

        assert isinstance(self.db, PgConnection)
        return self.db.pipeline()

    def _lock_events(self) -> None:
        """In a shared batch, before its first event: the events feed's lock, so event ids
        are handed out in commit order (``EVENTS_LOCK``)."""
        if not self._events_locked:
            self.db.execute("SELECT pg_advisory_xact_lock(?)", (EVENTS_LOCK,))
            self._events_locked = True

    def _apply(self, changes: Iterable[Change], now: float) -> None:
        changes = list(changes)
        folds = joined_folds(changes)
        latest: dict[int, Incident] = {}
        self._lock_events()
        for at, change in enumerate(changes):
            latest[change.incident.id] = change.incident
            if isinstance(change, Merged) and change.absorbed is not None:
                latest[change.absorbed.id] = change.absorbed
                self.db.execute("UPDATE incident_alerts SET incident_id=? WHERE incident_id=?",
                                (change.incident.id, change.absorbed.id))
            alert = change.alert if isinstance(change, Opened | Joined) else None
            if alert is not None:
                self.db.execute(self._sql_member, (alert.device, alert.id, change.incident.id))
            if isinstance(change, Flapped):  # counters of a flapping device: saved, no event
                continue
            if isinstance(change, Joined) and change.alert is not None:
                if at not in folds:  # one event for the incident's joined alerts, at the last
                    continue
                payload = fold_json(folds[at])
            else:
                payload = change_json(change)
            self.db.execute("INSERT INTO events (at, kind, incident_id, payload) VALUES (?,?,?,?)",
                            (now, change.kind, change.incident.id,
                             json_text(payload)))
        for incident in latest.values():
            self._save_incident(incident)

    def response_clock(self, incident_id: int) -> ResponseClock | None:
        """The incident's response clock as the store has it (hub/service/escalation.py reads
        it before it escalates: another writer may have moved it)."""
        row = self.db.execute("SELECT ack_due, resolve_due, ack_level, resolve_level FROM "
                              "incidents WHERE id = ?", (incident_id,)).fetchone()
        return None if row is None else clock_of(tuple(row))

    def save_incidents(self, incidents: Iterable[Incident]) -> None:
        """Write incidents' rows with no event (a response clock that moved quietly)."""
        for incident in incidents:
            self._save_incident(incident)

    def _save_incident(self, incident: Incident) -> None:
        """The incident's row, and the channels of its rule state that changed.

        The rule state (up to 200 rows per channel) lives in ``incident_state``, one row
        per channel: an alert changes one channel, so a batch rewrites the channels its
        alerts touched, not every channel of every incident they joined (that was most
        of the bytes the hub wrote). Rows are never deleted here but for a merged-away
        incident, so saving an incident loaded without its rule state loses nothing."""
        self.db.execute(_SAVE_INCIDENT, incident_row(incident))
        if incident.status is IncidentStatus.MERGED:  # its evidence lives on in the survivor
            self.db.execute("DELETE FROM incident_state WHERE incident_id = ?", (incident.id,))
            self._saved.pop(incident.id, None)
            return
        saved = self._saved.setdefault(incident.id, {})
        for part, state in (("evidence", incident.evidence), ("readings", incident.readings)):
            # the channels set since the last save, when that is known and that save's
            # identities are still here (a rollback forgets them: then every channel)
            changed = changed_channels(state) if saved else None
            keys = state.keys() if changed is None else [k for k in changed if k in state]
            for key in keys:
                rows = state[key]
                if saved.get((part, key)) is not rows:
                    self.db.execute(self._sql_state, (incident.id, part, key, json_text(rows)))
                    saved[part, key] = rows
            saved_channels(state)
        if not incident.active:  # keep identities for incidents still changing only
            del self._saved[incident.id]

    def _has_state_table(self) -> bool:
        """Schema 3 or later (a reader may open an older store); asked once, when it is yes
        (a table is never dropped, and routing asks for every incident it routes)."""
        if not self._state_table:
            self._state_table = self.db.execute(
                self.sql.table_exists, ("incident_state",)).fetchone() is not None
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
                    evidence[key] = evidence_rows(json.loads(text))
                else:
                    readings[key] = readings_rows(json.loads(text))
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
            f"SELECT {INCIDENT_COLUMNS} FROM incidents WHERE status IN ('open', 'acknowledged')"
            " OR (status = 'resolved' AND resolved_at >= ?) ORDER BY id",
            (now - keep_resolved_s,)).fetchall()
        return self._with_state([incident_from_row(row) for row in rows], remember=True)

    def active_incidents(self, hazard: str) -> list[Incident]:
        """The open and acknowledged incidents of ``hazard``, with their rule state (what a
        citizen's report may join)."""
        rows = self.db.execute(
            f"SELECT {INCIDENT_COLUMNS} FROM incidents WHERE status IN ('open', 'acknowledged')"
            " AND hazard = ? ORDER BY id", (hazard,)).fetchall()
        return self._with_state([incident_from_row(row) for row in rows])

    def live_incidents_in(self, now: float, keep_resolved_s: float, zones: Collection[str],
                          hazards: Collection[str]) -> list[Incident]:
        """``live_incidents`` of some fusion domains: those whose zone is one of ``zones`` or
        whose hazard is one of ``hazards`` (hub/core/domains.py)."""
        if not zones and not hazards:
            return []
        zone_list, hazard_list = sorted(zones), sorted(hazards)
        where = " OR ".join(
            part for part, values in ((f"zone IN ({','.join('?' * len(zone_list))})", zone_list),
                                      (f"hazard IN ({','.join('?' * len(hazard_list))})",
                                       hazard_list)) if values)
        rows = self.db.execute(
            f"SELECT {INCIDENT_COLUMNS} FROM incidents WHERE ({where}) AND (status IN ('open', "
            "'acknowledged') OR (status = 'resolved' AND resolved_at >= ?)) ORDER BY id",
            (*zone_list, *hazard_list, now - keep_resolved_s)).fetchall()
        return self._with_state([incident_from_row(row) for row in rows], remember=True)

    def domain_tokens(self, domains: Collection[str] | None = None) -> dict[str, str]:
        """The token each fusion domain's last writer left (``set_domain_tokens``); all of
        them when ``domains`` is None. A hub whose memory of a domain was written by
        another one (a token it did not leave) reads the domain's incidents again."""
        if domains is None:
            rows = self.db.execute("SELECT key, value FROM meta WHERE key LIKE 'domain:%'")
        elif not domains:
            return {}
        else:
            names = sorted(domains)
            rows = self.db.execute(f"SELECT key, value FROM meta WHERE key IN "
                                   f"({','.join('?' * len(names))})",
                                   [f"domain:{n}" for n in names])
        return {str(k).removeprefix("domain:"): str(v) for k, v in rows}

    def set_domain_tokens(self, domains: Collection[str], token: str) -> None:
        """Say the domains' incidents were last written with ``token`` (inside the
        transaction that holds their locks)."""
        for name in sorted(domains):
            self.set_meta(f"domain:{name}", token)

    def incident_ids(self) -> Callable[[], int] | None:
        """Where a hub takes new incident ids on a ``concurrent`` store: the database's
        sequence, so two hubs never give out the same id (None on SQLite: fusion counts)."""
        if not self.concurrent:
            return None
        db = self.db
        return lambda: int(db.execute("SELECT nextval('incident_ids')").fetchone()[0])

    def try_lease(self, name: str) -> bool:
        """Hold the lease ``name`` (singleton work: routing, retention, the device clock) for
        as long as this connection lives: on PostgreSQL a session advisory lock, which the
        server releases as soon as the holder's connection ends (a hub killed, its machine
        gone once TCP keepalive says so); True if held. On SQLite, always (one hub)."""
        if not self.concurrent or name in self._leases:
            return True
        if bool(self.db.execute("SELECT pg_try_advisory_lock(?)",
                                (lock_key(f"lease:{name}"),)).fetchone()[0]):
            self._leases.add(name)
            return True
        return False

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
        columns = INCIDENT_COLUMNS if rule_state else self._listing_columns()
        rows = self.db.execute(f"SELECT {columns} FROM incidents WHERE {where} "
                               "ORDER BY id DESC LIMIT ?", (*args, self._limit(limit))
                               ).fetchall()
        found = [incident_from_row(row) for row in rows]
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
            "SELECT id, status, grade, hazard, zone, alert_count, devices, opened_at, updated_at, "
            f"owner FROM incidents WHERE {where} ORDER BY id DESC LIMIT ?",
            (*args, self._limit(limit))).fetchall()

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

    def _listing_columns(self) -> str:
        """The incident columns with the rule state cut down to the grade reasons and counts
        (listings: the evidence and readings are most of a row's bytes)."""
        return INCIDENT_COLUMNS.replace("rule_state", self.sql.listing_rule_state)

    def _limit(self, limit: int | None) -> int | None:
        return self.sql.no_limit if limit is None else limit

    @staticmethod
    def _listing_filter(status: str | None) -> tuple[str, tuple[str, ...]]:
        return ("status = ?", (status,)) if status else ("status != 'merged'", ())

    def data_version(self) -> int:
        """A number that changes whenever another connection commits (``PRAGMA
        data_version``): a few microseconds, no disk read (the WAL index is shared memory),
        so ``tail`` can ask every few ms and read the feed only after a commit.

        On PostgreSQL: how many times ``wait_for_events`` was woken (after ``listen``), so
        it changes after every commit that added to the feed; 0 before ``listen``."""
        if self.sql.data_version is None:
            return 0 if self._listener is None else self._listener.notified
        return int(self.db.execute(self.sql.data_version).fetchone()[0])

    def listen(self) -> bool:
        """Be woken by commits that add to the events feed (PostgreSQL's LISTEN/NOTIFY);
        False on SQLite, whose readers watch the file instead (hub/desk/commitwatch.py)."""
        if self.path is not None:
            return False
        from hub.store.postgres import PgConnection

        assert isinstance(self.db, PgConnection)
        self.db.listen()
        self._listener = self.db
        return True

    def wait_for_events(self, timeout_s: float) -> bool:
        """After ``listen``: wait until a commit added to the events feed, or ``timeout_s``;
        True if one did (since the last wait, or during this one)."""
        if self._listener is None:
            raise StoreError("wait_for_events needs listen() first, on PostgreSQL")
        return self._listener.wait(timeout_s)

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

    def active_incident_counts(self) -> dict[tuple[str, int, bool], int]:
        """(status, grade, latched) -> how many active incidents (the metrics' gauge; from
        the status index, the active ones only)."""
        if not self._has_schema():
            return {}
        return {(r[0], int(r[1]), bool(r[2])): int(r[3]) for r in self.db.execute(
            "SELECT status, grade, latched, count(*) FROM incidents WHERE status IN "
            "('open', 'acknowledged') GROUP BY status, grade, latched")}

    def recently_resolved(self, limit: int) -> list[Incident]:
        """The ``limit`` incidents resolved last, last first (the board's strip); no rule
        state, as ``incidents(rule_state=False)``."""
        if not self._has_schema() or limit <= 0:
            return []
        rows = self.db.execute(f"SELECT {self._listing_columns()} FROM incidents WHERE status = "
                               "'resolved' ORDER BY resolved_at DESC LIMIT ?", (limit,)).fetchall()
        return [incident_from_row(row) for row in rows]

    def last_events_of(self, kind: str, incident_ids: Sequence[int]
                       ) -> dict[int, tuple[float, dict[str, Any]]]:
        """Per incident, when its last event of ``kind`` was recorded and its payload (who
        acknowledged an incident and when, for the board's rows)."""
        found: dict[int, tuple[float, dict[str, Any]]] = {}
        ids = list(incident_ids)
        if not self._has_schema():
            return found
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            for incident_id, at, payload in self.db.execute(
                    "SELECT incident_id, at, payload FROM events WHERE id IN (SELECT max(id) "
                    f"FROM events WHERE kind = ? AND incident_id IN ({','.join('?' * len(chunk))})"
                    " GROUP BY incident_id)", (kind, *chunk)):
                found[int(incident_id)] = (float(at), json.loads(payload))
        return found

    def response_facts(self, since: float) -> list[IncidentFacts]:
        """What the response report needs of every incident opened at or after ``since``
        (not those merged into another): times, owner, outcome, from its timeline the
        first acknowledgement and the escalations, and the distinct reasons of its alerts
        (``lifeline-hub report``, ``--by detector``)."""
        if not self._has_schema():
            return []
        rows = self.db.execute(
            "SELECT id, owner, hazard, zone, status, opened_at, resolved_at, outcome FROM "
            "incidents WHERE status != 'merged' AND opened_at >= ? ORDER BY id",
            (since,)).fetchall()
        acked: dict[int, float] = {}
        missed: dict[int, int] = {}
        escalations: dict[int, int] = {}
        reasons: dict[int, list[str]] = {}
        ids = [int(r[0]) for r in rows]
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            marks = ",".join("?" * len(chunk))
            for incident_id, at in self.db.execute(
                    "SELECT incident_id, min(at) FROM events WHERE kind = 'acknowledged' AND "
                    f"incident_id IN ({marks}) GROUP BY incident_id", chunk):
                acked[int(incident_id)] = float(at)
            for incident_id, payload in self.db.execute(
                    "SELECT incident_id, payload FROM events WHERE kind = 'escalated' AND "
                    f"incident_id IN ({marks})", chunk):
                key = int(incident_id)
                escalations[key] = escalations.get(key, 0) + 1
                if json.loads(payload).get("escalation", {}).get("level") == 1:
                    missed[key] = missed.get(key, 0) + 1
            for incident_id, reason in self.db.execute(
                    "SELECT DISTINCT m.incident_id, a.reason FROM incident_alerts m JOIN alerts a "
                    f"ON a.device = m.device AND a.id = m.alert_id WHERE m.incident_id IN ({marks})"
                    " ORDER BY m.incident_id, a.reason", chunk):
                reasons.setdefault(int(incident_id), []).append(str(reason))
        return [IncidentFacts(int(r[0]), r[1], r[2], r[3], r[4], float(r[5]),
                              acked.get(int(r[0])), r[6], r[7], missed.get(int(r[0]), 0),
                              escalations.get(int(r[0]), 0),
                              tuple(reasons.get(int(r[0]), ()))) for r in rows]

    # -- operators' desk ----------------------------------------------------------------
    def incident(self, incident_id: int) -> Incident | None:
        if not self._has_schema():
            return None
        row = self.db.execute(f"SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id = ?",
                              (incident_id,)).fetchone()
        return None if row is None else self._with_state([incident_from_row(row)])[0]

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

    def add_citizen_contact(self, incident_id: int, at: float, contact: str) -> None:
        """Keep a reporter's contact with the incident: personal data, in a table of its own
        that no event, route or listing reads; retention deletes it with the incident."""
        self.db.execute("INSERT INTO citizen_contacts (incident_id, at, contact) VALUES "
                        "(?,?,?)", (incident_id, at, contact))

    def citizen_contacts(self, incident_id: int) -> list[tuple[float, str]]:
        """(when, contact) of the people who reported the incident (or one merged into it),
        for an operator's eyes only (``incidents show``)."""
        if not self.db.execute(self.sql.table_exists, ("citizen_contacts",)).fetchone():
            return []
        return [(float(r[0]), str(r[1])) for r in self.db.execute(
            "SELECT at, contact FROM citizen_contacts WHERE incident_id = ? OR incident_id IN "
            "(SELECT id FROM incidents WHERE merged_into = ?) ORDER BY id",
            (incident_id, incident_id))]

    def meta(self, key: str, default: str = "") -> str:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return default if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) "
                        "DO UPDATE SET value = excluded.value", (key, value))

    def routed_event(self) -> int | None:
        """The last event routing has routed; None before it ever ran on this store."""
        cursor = int(self.meta(ROUTED_CURSOR, "-1"))
        return None if cursor < 0 else cursor

    def set_routed_event(self, event_id: int) -> None:
        self.set_meta(ROUTED_CURSOR, str(event_id))

    def record_event(self, at: float, kind: str, payload: dict[str, Any]) -> None:
        """Append an event of no incident to the feed (a security event)."""
        self._lock_events()
        self.db.execute("INSERT INTO events (at, kind, incident_id, payload) VALUES (?,?,NULL,?)",
                        (at, kind, json.dumps(payload, separators=(",", ":"))))

    def desk_revision(self) -> int:
        """Bumped by every operator action, so the hub knows to reload what people changed."""
        return int(self.meta("desk_revision", "0"))

    def bump_desk_revision(self) -> None:
        self.set_meta("desk_revision", str(self.desk_revision() + 1))

    def devices(self) -> list[tuple[str, str, str, float]]:
        """(device, zone, state, seen_at) for every device that sent a status."""
        return [(r[0], r[1], r[2], r[3]) for r in self.db.execute(
            "SELECT device, zone, state, seen_at FROM devices ORDER BY device")]

    def device_statuses(self) -> dict[str, str]:
        """Per device, the wire JSON of the last status recorded (``record_status``)."""
        return {str(r[0]): str(r[1]) for r in self.db.execute("SELECT device, body FROM devices")}

    def offline_devices(self) -> list[tuple[str, str, float]]:
        """(device, zone, status ts) of the devices whose latest status is offline."""
        return [(r[0], r[1], r[2]) for r in self.db.execute(
            "SELECT device, zone, status_ts FROM devices WHERE state = 'offline' "
            "ORDER BY device")]

    def alert_rates(self, since: float) -> dict[str, tuple[int, float | None, str | None]]:
        """Per device: alerts received since ``since``, when the last one arrived, and its zone.

        (SQLite takes a bare column of an aggregate query with max() from the max row.)"""
        return {r[0]: (int(r[1]), r[2], r[3])
                for r in self.db.execute(self.sql.alert_rates, (since,))}
