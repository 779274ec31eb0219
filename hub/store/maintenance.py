"""The store's maintenance marks: one row per device, the latest mark (hub.core.maintenance).

A mixin of ``hub.store.Store``: the SQL for marks lives here, the rules in the pure core.
The table came with store schema 5; opening an older store creates it (``CREATE TABLE IF
NOT EXISTS``, nothing to copy).
"""

from __future__ import annotations

import sqlite3

from hub.core.maintenance import Mark

__all__ = ["MAINTENANCE_SCHEMA", "MaintenanceStore"]

MAINTENANCE_SCHEMA = """
CREATE TABLE IF NOT EXISTS maintenance (
    device TEXT PRIMARY KEY, since REAL NOT NULL, until REAL NOT NULL, comment TEXT NOT NULL,
    by TEXT NOT NULL, ended_at REAL, ended_by TEXT, asked_until REAL);
"""
_COLUMNS = "device, since, until, comment, by, ended_at, ended_by, asked_until"


class MaintenanceStore:
    """Named operations on maintenance marks (``Store`` has them)."""

    db: sqlite3.Connection

    def start_maintenance(self, mark: Mark) -> None:
        """Put ``mark.device`` in maintenance, replacing any earlier mark of it."""
        self.db.execute(
            f"INSERT INTO maintenance ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, NULL, NULL, ?) "
            "ON CONFLICT (device) DO UPDATE SET since = excluded.since, until = excluded.until,"
            " comment = excluded.comment, by = excluded.by, ended_at = NULL, ended_by = NULL,"
            " asked_until = excluded.asked_until",
            (mark.device, mark.since, mark.until, mark.comment, mark.by, mark.asked_until))

    def end_maintenance(self, device: str, now: float, by: str) -> Mark | None:
        """End the device's mark now; the mark as it was, or None if none was in effect."""
        mark = self.maintenance_mark(device)
        if mark is None or not mark.active(now):
            return None
        self.db.execute("UPDATE maintenance SET ended_at = ?, ended_by = ? WHERE device = ?",
                        (now, by, device))
        return mark

    def maintenance_mark(self, device: str) -> Mark | None:
        row = self.db.execute(f"SELECT {_COLUMNS} FROM maintenance WHERE device = ?",
                              (device,)).fetchone()
        return None if row is None else Mark(*row)

    def maintenance_marks(self) -> list[Mark]:
        """Every device's latest mark, ended or not, by device (none in a store a hub of
        schema 4 still writes: a desk command may read it before the hub is upgraded)."""
        try:
            rows = self.db.execute(f"SELECT {_COLUMNS} FROM maintenance ORDER BY device")
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return []
            raise
        return [Mark(*row) for row in rows]

    def offline_devices(self) -> list[tuple[str, str, float]]:
        """(device, zone, status ts) of the devices whose latest status is offline."""
        return [(r[0], r[1], r[2]) for r in self.db.execute(
            "SELECT device, zone, status_ts FROM devices WHERE state = 'offline' "
            "ORDER BY device")]
