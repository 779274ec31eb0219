"""The edge's durable outbox: every alert is on disk before it is sent, and stays until the hub has it.

SQLite in WAL mode with ``synchronous=FULL``, so a committed alert survives a
power cut. An alert leaves the outbox only when the hub acknowledges it (its
id comes back on ``lifeline/v1/{device}/ack``), not on the broker's PUBACK:
a broker may still drop a QoS 1 message when a subscriber's queue overflows.

The outbox is bounded: past ``max_alerts`` it drops the lowest grade, oldest
first, and counts every drop per grade until the agent reports them. The alert
reporting those drops is added with ``keep=True`` and ranks above every grade:
were it ranked by its own grade (yellow), an outbox still full of orange and red
alerts would drop the report itself as soon as it is written. It also
keeps the device's alert sequence number, so numbering continues across
restarts. Single-threaded by design: only the agent's main loop touches it.
"""

from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from lifeline import wire
from lifeline.grades import Grade

SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq     INTEGER PRIMARY KEY,
    id      TEXT NOT NULL UNIQUE,
    grade   INTEGER NOT NULL,  -- drop rank: the alert's grade, or KEEP_RANK
    payload BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_by_grade ON outbox (grade, seq);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


KEEP_RANK = max(int(g) for g in Grade) + 1  # dropped after every graded alert


@dataclass(frozen=True, slots=True)
class Pending:
    seq: int
    id: str
    payload: bytes


class Outbox:
    def __init__(self, path: Path | str, max_alerts: int = 100_000) -> None:
        self.max_alerts = max_alerts
        if str(path) != ":memory:":
            # private from the first byte, also outside systemd's UMask: a new state
            # directory 0700, a new outbox 0600 (SQLite gives -wal and -shm the same mode)
            Path(path).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            if not Path(path).exists():
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        self.db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(SCHEMA)
        self._depth = self.db.execute("SELECT count(*) FROM outbox").fetchone()[0]
        self.dropped_unreported = sum(self.drops().values())  # cheap to poll on every send

    def _meta(self, key: str) -> int:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return int(row[0]) if row else 0

    def _set_meta(self, key: str, value: int) -> None:
        self.db.execute("INSERT INTO meta (key, value) VALUES (?, ?) "
                        "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (key, value))

    @property
    def depth(self) -> int:
        return int(self._depth)

    def next_seq(self) -> int:
        """The next per-device sequence number (the caller builds the alert with it)."""
        return self._meta("last_seq") + 1

    def add(self, alert: wire.Alert, keep: bool = False) -> list[str]:
        """Store ``alert`` durably; return the ids dropped to stay within the bound.

        ``keep`` ranks it above every grade, so it is the last to be dropped.
        """
        dropped: list[str] = []
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.db.execute("INSERT OR IGNORE INTO outbox (seq, id, grade, payload) "
                            "VALUES (?, ?, ?, ?)",
                            (alert.seq, alert.id, KEEP_RANK if keep else int(alert.grade),
                             wire.encode(alert)))
            self._set_meta("last_seq", max(alert.seq, self._meta("last_seq")))
            self._depth += 1
            excess = self._depth - self.max_alerts
            if excess > 0:
                victims = self.db.execute("SELECT seq, id, grade, payload FROM outbox "
                                          "ORDER BY grade, seq LIMIT ?", (excess,)).fetchall()
                for seq, alert_id, rank, payload in victims:
                    self.db.execute("DELETE FROM outbox WHERE seq = ?", (seq,))
                    label = (Grade(rank).label if rank != KEEP_RANK
                             else str(json.loads(payload)["grade"]))
                    key = f"dropped_{label}"
                    self._set_meta(key, self._meta(key) + 1)
                    dropped.append(alert_id)
                self._depth -= len(victims)
                self.dropped_unreported += len(victims)
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            self._depth = self.db.execute("SELECT count(*) FROM outbox").fetchone()[0]
            self.dropped_unreported = sum(self.drops().values())
            raise
        return dropped

    def pending(self, limit: int, after_seq: int = 0) -> list[Pending]:
        """Up to ``limit`` stored alerts in sequence order, after ``after_seq``."""
        rows = self.db.execute("SELECT seq, id, payload FROM outbox WHERE seq > ? "
                               "ORDER BY seq LIMIT ?", (after_seq, limit)).fetchall()
        return [Pending(int(s), str(i), bytes(p)) for s, i, p in rows]

    def acknowledge(self, ids: list[str] | tuple[str, ...]) -> int:
        """Forget alerts the hub has committed; return how many were still here."""
        if not ids:
            return 0
        self.db.execute("BEGIN IMMEDIATE")
        removed = 0
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            marks = ",".join("?" * len(chunk))
            removed += self.db.execute(f"DELETE FROM outbox WHERE id IN ({marks})",
                                       tuple(chunk)).rowcount
        self.db.execute("COMMIT")
        self._depth -= removed
        return removed

    def present(self, ids: set[str]) -> set[str]:
        """Those of ``ids`` still in the outbox."""
        found: set[str] = set()
        listed = list(ids)
        for start in range(0, len(listed), 500):
            chunk = listed[start:start + 500]
            found.update(r[0] for r in self.db.execute(
                f"SELECT id FROM outbox WHERE id IN ({','.join('?' * len(chunk))})", chunk))
        return found

    def drops(self) -> dict[str, int]:
        """Alerts dropped for space since the last ``reset_drops``, per grade."""
        return {g.label: n for g in Grade if (n := self._meta(f"dropped_{g.label}"))}

    def reset_drops(self) -> None:
        self.db.execute("DELETE FROM meta WHERE key LIKE 'dropped_%'")
        self.dropped_unreported = 0

    def close(self) -> None:
        self.db.close()
