"""The silences table: the operators' maintenance windows, kept for the record once over.

What a silence covers, and whether one may be added or ended, are rules of
``hub.core.silences``; these operations only keep the rows.
"""

from __future__ import annotations

import sqlite3

from hub.core.silences import Silence
from hub.store.codec import SILENCE_COLUMNS, silence_from_row

__all__ = ["Silences"]


class Silences:
    """The store's named operations on the ``silences`` table (``Store.silences``)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def add(self, silence: Silence) -> int:
        """Keep a new silence (its ``id`` is ignored); returns the id it was given."""
        cursor = self._db.execute(
            "INSERT INTO silences (created_at, created_by, comment, expires_at, zone, device, "
            "sensor, hazard, incident_id) VALUES (?,?,?,?,?,?,?,?,?)",
            (silence.created_at, silence.created_by, silence.comment, silence.expires_at,
             silence.zone, silence.device, silence.sensor, silence.hazard, silence.incident_id))
        return int(cursor.lastrowid or 0)

    def all(self) -> list[Silence]:
        """Every silence ever added, by id (ended and expired ones too)."""
        return [silence_from_row(row) for row in self._db.execute(
            f"SELECT {SILENCE_COLUMNS} FROM silences ORDER BY id")]

    def active(self, now: float) -> list[Silence]:
        """The silences in force at ``now``, by id."""
        return [silence_from_row(row) for row in self._db.execute(
            f"SELECT {SILENCE_COLUMNS} FROM silences WHERE ended_at IS NULL AND expires_at > ? "
            "ORDER BY id", (now,))]

    def get(self, silence_id: int) -> Silence | None:
        row = self._db.execute(f"SELECT {SILENCE_COLUMNS} FROM silences WHERE id = ?",
                               (silence_id,)).fetchone()
        return None if row is None else silence_from_row(row)

    def end(self, silence: Silence) -> None:
        """Record how ``silence`` ended (its ``ended_at``, ``ended_by`` and ``end_reason``)."""
        self._db.execute("UPDATE silences SET ended_at = ?, ended_by = ?, end_reason = ? "
                         "WHERE id = ?",
                         (silence.ended_at, silence.ended_by, silence.end_reason, silence.id))

    def end_for_incident(self, incident_id: int, now: float) -> int:
        """End the silences tied to an incident that has just resolved; how many ended."""
        cursor = self._db.execute(
            "UPDATE silences SET ended_at = ?, ended_by = 'hub', end_reason = 'incident resolved' "
            "WHERE incident_id = ? AND ended_at IS NULL", (now, incident_id))
        return cursor.rowcount
