"""Silences (maintenance windows): incident changes that match one are stored but not notified.

A silence names at least one of zone, device, sensor or hazard (all that are
given must match), always has an expiry and a comment, and may be tied to an
incident: it then ends when that incident resolves. ``matches`` is pure; the
small SQL helpers below keep silences in the store's ``silences`` table, so the
desk CLI adds them while the hub runs and the hub sees them on its next change.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from hub.core.incident import Incident
from hub.core.topology import Topology
from lifeline.errors import HubError
from lifeline.wire import INCIDENT_PREFIX, parse_incident_id

__all__ = ["Silence", "SilenceError", "active_silences", "add_silence", "covering_change",
           "end_silences_for", "expire_silence", "list_silences", "matching", "parse_duration"]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


class SilenceError(HubError, ValueError):
    """A silence that cannot be added or ended as asked."""


def parse_duration(text: str) -> float:
    """``"10m"`` -> 600.0; units s, m, h, d (seconds without one). ValueError otherwise."""
    found = _DURATION.match(text)
    if not found or float(found.group(1)) <= 0:
        raise ValueError(f"{text!r} is not a duration like 30s, 10m, 2h or 1d")
    return float(found.group(1)) * _UNITS[found.group(2)]


@dataclass(frozen=True, slots=True)
class Silence:
    id: int
    created_at: float
    created_by: str
    comment: str
    expires_at: float
    zone: str | None = None
    device: str | None = None
    sensor: str | None = None
    hazard: str | None = None
    incident_id: int | None = None
    ended_at: float | None = None
    ended_by: str | None = None
    end_reason: str | None = None

    def active(self, now: float) -> bool:
        return self.ended_at is None and now < self.expires_at

    def active_at(self, at: float) -> bool:
        """Was it in force at ``at`` (looking back: created by then, not yet expired or ended)?

        Up to and including the instant it ended: a silence tied to an incident ends in the
        same hub transaction, at the same time, as the resolve it still covered."""
        return (self.created_at <= at < self.expires_at
                and (self.ended_at is None or at <= self.ended_at))

    def matches(self, incident: Incident, alert: dict[str, object] | None = None,
                topology: Topology | None = None) -> bool:
        """Does this silence cover a change of ``incident`` (caused by ``alert``, if any)?
        A zone covers the zones under it."""
        return self.covers(incident.id, incident.hazard, incident.all_zones, incident.devices,
                           {key.split("/")[1] for key in incident.evidence}, alert, topology)

    def covers(self, incident_id: int, hazard: str, zones: Collection[str],
               devices: Collection[str], sensors: Collection[str],
               alert: Mapping[str, object] | None = None,
               topology: Topology | None = None) -> bool:
        """``matches`` on the incident's facts rather than an ``Incident`` (its JSON in the
        events feed, as ``tail`` sees it)."""
        if self.incident_id is not None and self.incident_id != incident_id:
            return False
        if self.hazard is not None and self.hazard != hazard:
            return False
        if self.zone is not None:
            topology = topology or Topology()
            if not any(self.zone in topology.ancestors(z) for z in zones):
                return False
        if self.device is not None and self.device not in devices and (
                alert is None or alert.get("device") != self.device):
            return False
        return self.sensor is None or self.sensor in sensors or (
            alert is not None and alert.get("sensor") == self.sensor)


def matching(silences: list[Silence], incident: Incident, now: float,
             alert: dict[str, object] | None = None,
             topology: Topology | None = None) -> list[Silence]:
    return [s for s in silences if s.active(now) and s.matches(incident, alert, topology)]


def covering_change(silences: Iterable[Silence], payload: Mapping[str, Any], at: float,
                    sensors: Collection[str] = (), topology: Topology | None = None
                    ) -> list[int]:
    """The ids of the silences in force at ``at`` that cover an events-feed change
    (``payload``: its incident's JSON after the change, and the alert, if one caused it).
    The same rule routing applies when it holds a change back from webhooks; ``sensors``
    are the incident's sensors, needed only by silences that name one."""
    incident = payload.get("incident")
    label = str(incident.get("id", "")) if isinstance(incident, Mapping) else ""
    number = parse_incident_id(label) if label.upper().startswith(INCIDENT_PREFIX) else None
    if not isinstance(incident, Mapping) or number is None:
        return []  # not an incident change (a refused message)
    alert = payload.get("alert")
    zones = incident.get("zones") or [incident.get("zone", "")]
    return [s.id for s in silences
            if s.active_at(at) and s.covers(
                number, str(incident.get("hazard")), zones,
                incident.get("devices") or (), sensors,
                alert if isinstance(alert, Mapping) else None, topology)]


_COLUMNS = ("id, created_at, created_by, comment, expires_at, zone, device, sensor, hazard, "
            "incident_id, ended_at, ended_by, end_reason")


def add_silence(db: sqlite3.Connection, *, by: str, comment: str, expires_at: float, now: float,
                zone: str | None = None, device: str | None = None, sensor: str | None = None,
                hazard: str | None = None, incident_id: int | None = None) -> int:
    if not comment.strip():
        raise SilenceError("A silence needs a comment saying why (--comment).")
    if expires_at <= now:
        raise SilenceError("A silence must expire in the future (--for 2h).")
    if not any((zone, device, sensor, hazard, incident_id)):
        raise SilenceError("Say what to silence: --zone, --device, --sensor, --hazard or "
                           "--incident.")
    cursor = db.execute(
        "INSERT INTO silences (created_at, created_by, comment, expires_at, zone, device, sensor,"
        " hazard, incident_id) VALUES (?,?,?,?,?,?,?,?,?)",
        (now, by, comment.strip(), expires_at, zone, device, sensor, hazard, incident_id))
    return int(cursor.lastrowid or 0)


def list_silences(db: sqlite3.Connection) -> list[Silence]:
    return [Silence(*row) for row in db.execute(f"SELECT {_COLUMNS} FROM silences ORDER BY id")]


def active_silences(db: sqlite3.Connection, now: float) -> list[Silence]:
    rows = db.execute(f"SELECT {_COLUMNS} FROM silences WHERE ended_at IS NULL AND expires_at > ?"
                      " ORDER BY id", (now,))
    return [Silence(*row) for row in rows]


def expire_silence(db: sqlite3.Connection, silence_id: int, by: str, now: float) -> None:
    found = db.execute("SELECT ended_at, expires_at FROM silences WHERE id = ?",
                       (silence_id,)).fetchone()
    if found is None:
        raise SilenceError(f"There is no silence {silence_id}.")
    if found[0] is not None or found[1] <= now:
        raise SilenceError(f"Silence {silence_id} has already ended.")
    db.execute("UPDATE silences SET ended_at = ?, ended_by = ?, end_reason = 'expired by hand' "
               "WHERE id = ?", (now, by, silence_id))


def end_silences_for(db: sqlite3.Connection, incident_id: int, now: float) -> int:
    """End the silences tied to an incident that has just resolved."""
    cursor = db.execute("UPDATE silences SET ended_at = ?, ended_by = 'hub', end_reason = "
                        "'incident resolved' WHERE incident_id = ? AND ended_at IS NULL",
                        (now, incident_id))
    return cursor.rowcount
