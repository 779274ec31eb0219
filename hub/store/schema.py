"""The store's SQLite schema and its migrations: what ``Store.open_writer`` creates or upgrades.

Schema 2 added incident columns (topology, lifecycle, rule state), 3 the ``incident_state``
table (rule state per channel), 4 keys alerts, memberships and pruned ids by (device, id),
5 added the ``maintenance`` table (created where it is missing, nothing to copy), 6 the
incidents' owner, response clock and outcome columns and the ``citizen_contacts`` table.
An existing store of any earlier schema opens and is upgraded in place; ``PRAGMA
user_version`` says which schema a file has.
"""

from __future__ import annotations

import logging
import sqlite3

from lifeline.sdnotify import Notifier

__all__ = ["SCHEMA", "SCHEMA_VERSION", "V6_COLUMNS", "migrate", "schema_version"]

log = logging.getLogger(__name__)

# 6: incidents' owner, response clock and outcome; citizen_contacts; 5: maintenance
# (devices' maintenance marks, hub/store/maintenance.py); 4: alerts,
# memberships and pruned ids keyed by (device, id); 3: incident_state (rule state per
# channel); 2: incident columns
SCHEMA_VERSION = 6
UPGRADE_S_PER_ALERT = 100e-6  # what the upgrade to schema 4 may take, per alert (see there)
SCHEMA = """
CREATE TABLE IF NOT EXISTS alerts (
    id TEXT NOT NULL, device TEXT NOT NULL, zone TEXT NOT NULL, sensor TEXT NOT NULL,
    channel TEXT NOT NULL, kind TEXT NOT NULL, reason TEXT NOT NULL, grade INTEGER NOT NULL,
    ts REAL NOT NULL, received_at REAL NOT NULL, value REAL, unit TEXT, score REAL NOT NULL,
    seq INTEGER NOT NULL, cleared INTEGER NOT NULL, message TEXT NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (device, id));
DROP INDEX IF EXISTS alerts_device_ts;
CREATE INDEX IF NOT EXISTS alerts_device_received ON alerts (device, received_at);
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
CREATE TABLE IF NOT EXISTS maintenance (
    device TEXT PRIMARY KEY, since REAL NOT NULL, until REAL NOT NULL, comment TEXT NOT NULL,
    by TEXT NOT NULL, ended_at REAL, ended_by TEXT, asked_until REAL);
CREATE TABLE IF NOT EXISTS citizen_contacts (
    id INTEGER PRIMARY KEY AUTOINCREMENT, incident_id INTEGER NOT NULL, at REAL NOT NULL,
    contact TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS citizen_contacts_incident ON citizen_contacts (incident_id);
"""
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
# Columns added by schema 6 (accountability: hub/core/accountability.py), in the order
# INCIDENT_COLUMNS lists them after the rule state.
V6_COLUMNS = (("owner", "TEXT"), ("owner_fixed", "INTEGER NOT NULL DEFAULT 0"),
              ("ack_due", "REAL"), ("resolve_due", "REAL"),
              ("ack_level", "INTEGER NOT NULL DEFAULT 0"),
              ("resolve_level", "INTEGER NOT NULL DEFAULT 0"), ("outcome", "TEXT"))


def schema_version(db: sqlite3.Connection) -> int:
    """The schema of the store behind ``db`` (0: a new file)."""
    return int(db.execute("PRAGMA user_version").fetchone()[0])


def migrate(db: sqlite3.Connection) -> None:
    """Create what is missing and upgrade an older store to ``SCHEMA_VERSION`` (a store of a
    newer schema is refused before this).

    The tables and the incidents' later columns come in one transaction: a desk command
    reading while the hub starts sees either no store yet or the whole schema, never tables
    without their columns ("no such column: zones")."""
    _upgrade_to_v4(db)
    _announce_indexes(db)
    db.executescript(f"BEGIN IMMEDIATE; {SCHEMA}")  # left open: committed below
    try:
        have = {r[1] for r in db.execute("PRAGMA table_info(incidents)")}
        for name, decl in (*_V2_COLUMNS, *V6_COLUMNS):
            if name not in have:
                db.execute(f"ALTER TABLE incidents ADD COLUMN {name} {decl}")
        db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise


# ``alerts_device_ts`` (device, ts), of schemas up to 6, had no reader: every alert paid a
# third random B-tree insert for it (issue 16); dropped where it exists, on every open.
# Indexes added without a new schema number (``CREATE INDEX IF NOT EXISTS`` on every open, so
# an existing store gets them once): alerts_device_received (issue 16) lets ``lifeline-hub
# status`` ask per device for its last alert and its alerts of the last hour by index.
INDEX_S_PER_ALERT = 10e-6  # what building one on an existing store may take, per alert


def _announce_indexes(db: sqlite3.Connection) -> None:
    """Say so (log, systemd) when an index is about to be built on an existing store."""
    if db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alerts'"
                  ).fetchone() is None or db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = "
            "'alerts_device_received'").fetchone() is not None:
        return
    count = int(db.execute("SELECT max(rowid) FROM alerts").fetchone()[0] or 0)
    extra_s = 60 + count * INDEX_S_PER_ALERT
    log.warning("indexing the store's alerts by device and arrival (for lifeline-hub status): "
                "about %d alerts, up to %.0f s; the hub starts when it is done", count, extra_s)
    Notifier().notify(f"EXTEND_TIMEOUT_USEC={int(extra_s * 1e6)}",
                      f"STATUS=indexing the store: {count} alerts")


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
