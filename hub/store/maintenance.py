"""The maintenance table: each device's latest maintenance mark, kept once over.

When a mark covers a device, and whether a device's own request is granted, are rules of
``hub.core.maintenance``; these operations only keep the rows. The table came with store
schema 5 (hub/store/schema.py).
"""

from __future__ import annotations

import sqlite3

from hub.core.maintenance import Mark

__all__ = ["Maintenance"]

_COLUMNS = "device, since, until, comment, by, ended_at, ended_by, asked_until"


class Maintenance:
    """The store's named operations on the ``maintenance`` table (``Store.maintenance``)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def start(self, mark: Mark) -> None:
        """Put ``mark.device`` in maintenance, replacing any earlier mark of it."""
        self._db.execute(
            f"INSERT INTO maintenance ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, NULL, NULL, ?) "
            "ON CONFLICT (device) DO UPDATE SET since = excluded.since, until = excluded.until,"
            " comment = excluded.comment, by = excluded.by, ended_at = NULL, ended_by = NULL,"
            " asked_until = excluded.asked_until",
            (mark.device, mark.since, mark.until, mark.comment, mark.by, mark.asked_until))

    def end(self, device: str, now: float, by: str) -> Mark | None:
        """End the device's mark now; the mark as it was, or None if none was in effect."""
        mark = self.mark(device)
        if mark is None or not mark.active(now):
            return None
        self._db.execute("UPDATE maintenance SET ended_at = ?, ended_by = ? WHERE device = ?",
                         (now, by, device))
        return mark

    def mark(self, device: str) -> Mark | None:
        """The device's latest mark (in effect or not), None if it never had one."""
        found = self._rows("WHERE device = ?", (device,))
        return found[0] if found else None

    def marks(self) -> list[Mark]:
        """Every device's latest mark, ended or not, by device."""
        return self._rows("ORDER BY device", ())

    def _rows(self, where: str, args: tuple[str, ...]) -> list[Mark]:
        # a desk command may read a store the hub of schema 4 still writes: no table, no mark
        try:
            rows = self._db.execute(f"SELECT {_COLUMNS} FROM maintenance {where}", args)
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return []
            raise
        return [Mark(*row) for row in rows]
