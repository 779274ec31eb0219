"""The outbox table: routed incident changes waiting for their route, with their attempts.

Routing adds rows inside the hub's transaction; delivery (webhooks, the MQTT republish)
takes the due ones and records each outcome. Rows of one route go strictly in order.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from hub.store.codec import OutboxRow
from hub.store.dialect import Database

__all__ = ["Outbox"]


class Outbox:
    """The store's named operations on the ``outbox`` table (``Store.outbox``)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def add(self, route: str, url: str, body: str, now: float) -> None:
        """Queue ``body`` for ``route`` (to ``url``: a webhook's address or a topic), due now."""
        self._db.execute("INSERT INTO outbox (created_at, route, url, body, next_attempt_at) "
                         "VALUES (?,?,?,?,?)", (now, route, url, body, now))

    def due(self, now: float, route: str | None = None, exclude: Collection[int] = frozenset(),
            limit: int = 100) -> list[OutboxRow]:
        """Undelivered rows whose next attempt is due, oldest first (``route`` only, if given;
        never the ids in ``exclude``, those in flight)."""
        where = "delivered_at IS NULL AND next_attempt_at <= ?"
        args: list[Any] = [now]
        if route is not None:
            where += " AND route = ?"
            args.append(route)
        rows = self._db.execute(f"SELECT id, route, url, body, attempts FROM outbox WHERE {where} "
                                "ORDER BY id LIMIT ?", (*args, limit + len(exclude))).fetchall()
        return [OutboxRow(*r) for r in rows if r[0] not in exclude][:limit]

    def heads(self, now: float, skip: Collection[str], limit: int = 50) -> list[list[OutboxRow]]:
        """Per route not in ``skip``: its oldest undelivered rows (up to ``limit``), if the
        oldest is due. Nothing overtakes a row waiting to be retried."""
        batches = []
        for (route,) in self._db.execute("SELECT DISTINCT route FROM outbox WHERE delivered_at "
                                         "IS NULL").fetchall():
            if route in skip:
                continue
            rows = [OutboxRow(*r) for r in self._db.execute(
                "SELECT id, route, url, body, attempts FROM outbox WHERE delivered_at IS NULL AND "
                "route = ? ORDER BY id LIMIT ?", (route, limit))]
            head = self._db.execute("SELECT next_attempt_at FROM outbox WHERE id = ?",
                                    (rows[0].id,)).fetchone()[0]
            if head <= now:
                batches.append(rows)
        return batches

    def claim(self, row_ids: Collection[int], now: float, until: float) -> list[int]:
        """Several hubs: take the due rows among ``row_ids`` for a delivery about to be
        sent (their next attempt moves to ``until``); the ids taken, in order. Call in a
        transaction and commit before sending: a row some other hub claimed meanwhile is
        not due any more and is left alone, and a holder that dies mid-send leaves its
        rows to the next one only at ``until`` (its outcome is then unknown: sent again,
        at least once, as after a restart)."""
        taken = []
        for row_id in row_ids:
            if self._db.execute("UPDATE outbox SET next_attempt_at = ? WHERE id = ? AND "
                                "delivered_at IS NULL AND next_attempt_at <= ?",
                                (until, row_id, now)).rowcount == 1:
                taken.append(row_id)
        return taken

    def release(self, row_ids: Collection[int], now: float) -> None:
        """Claimed rows that were not sent after all: due again at ``now``."""
        for row_id in row_ids:
            self._db.execute("UPDATE outbox SET next_attempt_at = ? WHERE id = ? AND "
                             "delivered_at IS NULL", (now, row_id))

    def delivered(self, row_id: int, now: float) -> None:
        self._db.execute("UPDATE outbox SET delivered_at = ?, attempts = attempts + 1, "
                         "last_error = NULL WHERE id = ?", (now, row_id))

    def attempts(self, row_id: int) -> int:
        """Attempts that failed so far (a delivered row counts its last one too)."""
        return int(self._db.execute("SELECT attempts FROM outbox WHERE id = ?",
                                    (row_id,)).fetchone()[0])

    def retry(self, row_id: int, attempts: int, at: float, error: str) -> None:
        """Record a failed attempt: ``attempts`` so far, the next at ``at``, and why."""
        self._db.execute("UPDATE outbox SET attempts = ?, next_attempt_at = ?, last_error = ? "
                         "WHERE id = ?", (attempts, at, error[:500], row_id))

    def pending(self) -> int:
        """Rows not delivered yet (``status``'s "routed changes waiting")."""
        return int(self._db.execute("SELECT count(*) FROM outbox WHERE delivered_at IS NULL"
                                    ).fetchone()[0])

    def pending_by_route(self) -> dict[str, tuple[int, int]]:
        """Per route: rows not delivered yet, and how many of them failed at least once
        (the hub's metrics: ``lifeline_hub_outbox_pending``/``_failing``)."""
        return {r[0]: (int(r[1]), int(r[2] or 0)) for r in self._db.execute(
            "SELECT route, count(*), sum(attempts > 0) FROM outbox WHERE delivered_at IS NULL "
            "GROUP BY route")}
