"""Where SQLite and PostgreSQL differ: every statement or fragment of the store that is not
the same text in both, once per database, and the connection interface both satisfy.

The store's queries are written once, with ``?`` placeholders, in the SQL both databases
take (the PostgreSQL connection turns ``?`` into psycopg's ``%s``, hub/store/postgres.py).
What cannot be written once -- "insert unless it exists", an upsert that replaces, JSON
functions, "no limit", catalogue look-ups, how an id comes back -- is a member of
``Dialect`` here, and nowhere else. The tables themselves are hub/store/schema.py
(SQLite) and hub/store/postgres_schema.py (PostgreSQL).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["EVENTS_LOCK", "POSTGRES", "SQLITE", "WRITER_LOCK", "Cursor", "Database", "Dialect",
           "lock_key"]

# pg_advisory_xact_lock key every write transaction of a PostgreSQL store holds ("lifewrit"):
# exclusively (the desk, routing, retention, ticks), or shared by hubs' batches, which then
# serialize per fusion domain (``lock_key``) instead (issue 17)
WRITER_LOCK = 0x6C69666577726974
# held from a shared batch's first event insert to its COMMIT: the events feed's ids are
# handed out in commit order, so ``tail`` and routing, which follow it by id, skip none ("lifeevnt")
EVENTS_LOCK = 0x6C69666565766E74


def lock_key(name: str) -> int:
    """The advisory-lock key (a signed 64-bit number) of a fusion domain or lease ``name``."""
    digest = hashlib.blake2b(name.encode(), digest_size=8, person=b"lifeline").digest()
    return int.from_bytes(digest, "big", signed=True)


class Cursor(Protocol):
    """What the store reads from a statement (sqlite3's and psycopg's cursors both are)."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...

    def close(self) -> None: ...


class Database(Protocol):
    """The store's connection: sqlite3.Connection, or hub/store/postgres.py's PgConnection."""

    @property
    def in_transaction(self) -> bool: ...

    def execute(self, sql: str, parameters: Any = ..., /) -> Cursor: ...

    def executemany(self, sql: str, parameters: Any, /) -> Any: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Dialect:
    """The statements and fragments that differ between the store's two databases."""

    name: str
    # A write transaction, one writer at a time: SQLite takes its write lock at once (BEGIN
    # IMMEDIATE); PostgreSQL takes an advisory lock of the store's, held until COMMIT. So the
    # desk's actions and the hub's batches never interleave on either: a batch that began
    # before an operator's action cannot overwrite it with what it held in memory.
    begin: tuple[str, ...]
    # Several writers at once (PostgreSQL): a hub's batch holds the writer lock shared
    # (``begin_shared``), then one lock per fusion domain it touches (``domain_lock``);
    # None on SQLite, which has one writer (a batch is an ordinary write transaction).
    begin_shared: tuple[str, ...] | None
    domain_lock: str | None
    data_version: str | None  # SQLite's commit counter (PostgreSQL: NOTIFY, see Store)
    size: str | None          # the store's size in bytes (SQLite: its files, see Store)
    no_limit: int | None    # ``LIMIT ?`` bound to this means "all rows"
    table_exists: str       # one row if the table named by ``?`` exists
    listing_rule_state: str  # the rule_state column cut to grade reasons and counts
    alert_rates: str        # per device: alerts since ``?``, last arrival, zone of the last
    returning: bool         # ``INSERT ... RETURNING id`` (else the cursor's lastrowid)

    def insert_ignore(self, into: str, rest: str) -> str:
        """``INSERT INTO {into} {rest}`` that skips a row whose key already exists."""
        if self.name == "sqlite":
            return f"INSERT OR IGNORE INTO {into} {rest}"
        return f"INSERT INTO {into} {rest} ON CONFLICT DO NOTHING"

    def insert_replace(self, into: str, columns: Sequence[str], key: Sequence[str]) -> str:
        """Insert a row of ``columns``, replacing the one with the same ``key``."""
        marks = ",".join("?" * len(columns))
        head = f"{into} ({', '.join(columns)}) VALUES ({marks})"
        if self.name == "sqlite":
            return f"INSERT OR REPLACE INTO {head}"
        rest = [c for c in columns if c not in key]
        return (f"INSERT INTO {head} ON CONFLICT ({', '.join(key)}) DO UPDATE SET "
                + ", ".join(f"{c}=excluded.{c}" for c in rest))

    def insert_id(self, db: Database, sql: str, parameters: Sequence[Any]) -> int:
        """Run the INSERT ``sql``; the id the new row was given."""
        if self.returning:
            return int(db.execute(f"{sql} RETURNING id", parameters).fetchone()[0])
        return int(getattr(db.execute(sql, parameters), "lastrowid", 0) or 0)


# Per device: its alerts since ``?``, its last arrival and that alert's zone, by the index
# alerts_device_received (hub/store/schema.py): the devices are walked from one to the next
# (each a look-up), then each one's newest alert and recent range. A GROUP BY over the
# alerts read every row: ~20 s for ``lifeline-hub status`` on a store of 10 M alerts.
_ALERT_RATES = (
    "WITH RECURSIVE d(device) AS (SELECT min(device) FROM alerts UNION ALL"
    " SELECT (SELECT min(device) FROM alerts WHERE device > d.device) FROM d"
    " WHERE d.device IS NOT NULL)"
    " SELECT d.device,"
    " (SELECT count(*) FROM alerts a WHERE a.device = d.device AND a.received_at >= ?),"
    " (SELECT max(received_at) FROM alerts a WHERE a.device = d.device),"
    " (SELECT zone FROM alerts a WHERE a.device = d.device ORDER BY a.received_at DESC LIMIT 1)"
    " FROM d WHERE d.device IS NOT NULL")

SQLITE = Dialect(
    name="sqlite",
    begin=("BEGIN IMMEDIATE",),
    begin_shared=None,
    domain_lock=None,
    data_version="PRAGMA data_version",
    size=None,
    no_limit=-1,
    table_exists="SELECT 1 FROM sqlite_master WHERE type='table' AND name=?",
    listing_rule_state=(
        "json_object('reasons', json(coalesce(json_extract(rule_state, '$.reasons'), '[]')), "
        "'flaps', coalesce(json_extract(rule_state, '$.flaps'), 0), "
        "'device_count', coalesce(json_extract(rule_state, '$.device_count'), 0), "
        "'citizen_reports', coalesce(json_extract(rule_state, '$.citizen_reports'), 0))"),
    alert_rates=_ALERT_RATES,
    returning=False,
)

POSTGRES = Dialect(
    name="postgresql",
    begin=("BEGIN", f"SELECT pg_advisory_xact_lock({WRITER_LOCK})"),
    begin_shared=("BEGIN", f"SELECT pg_advisory_xact_lock_shared({WRITER_LOCK})"),
    domain_lock="SELECT pg_advisory_xact_lock(?)",
    data_version=None,
    size="SELECT pg_database_size(current_database())",
    no_limit=None,  # LIMIT NULL: no limit
    table_exists=("SELECT 1 FROM information_schema.tables WHERE table_schema = "
                  "current_schema() AND table_name = ?"),
    listing_rule_state=(
        "json_build_object('reasons', coalesce(rule_state::json -> 'reasons', '[]'::json), "
        "'flaps', coalesce(rule_state::json -> 'flaps', '0'::json), "
        "'device_count', coalesce(rule_state::json -> 'device_count', '0'::json), "
        "'citizen_reports', coalesce(rule_state::json -> 'citizen_reports', '0'::json))::text"),
    alert_rates=_ALERT_RATES,
    returning=True,
)
