"""Silences (maintenance windows): incident changes that match one are stored but not notified.

A silence names at least one of zone, device, sensor or hazard (all that are
given must match), always has an expiry and a comment, and may be tied to an
incident: it then ends when that incident resolves. These are the rules only
(``new_silence``, ``expired_by_hand``, ``matches``, ``covering_change``); the store keeps
the silences (``Store.silences``), so the desk CLI adds them while the hub runs and
the hub sees them on its next change.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from hub.core.incident import Incident
from hub.core.topology import Topology
from lifeline.errors import HubError
from lifeline.wire import INCIDENT_PREFIX, parse_incident_id

__all__ = ["Silence", "SilenceError", "covering_change", "expired_by_hand", "matching",
           "new_silence", "parse_duration"]

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


def new_silence(*, by: str, comment: str, expires_at: float, now: float,
                zone: str | None = None, device: str | None = None, sensor: str | None = None,
                hazard: str | None = None, incident_id: int | None = None) -> Silence:
    """A silence an operator asks for at ``now`` (id 0 until the store keeps it), or
    SilenceError saying what it lacks.

    >>> new_silence(by="ops", comment=" works ", expires_at=60.0, now=0.0, zone="north").comment
    'works'
    >>> new_silence(by="ops", comment="works", expires_at=60.0, now=0.0)
    Traceback (most recent call last):
    ...
    hub.core.silences.SilenceError: Say what to silence: --zone, --device, --sensor, --hazard or --incident.
    """
    if not comment.strip():
        raise SilenceError("A silence needs a comment saying why (--comment).")
    if expires_at <= now:
        raise SilenceError("A silence must expire in the future (--for 2h).")
    if not any((zone, device, sensor, hazard, incident_id)):
        raise SilenceError("Say what to silence: --zone, --device, --sensor, --hazard or "
                           "--incident.")
    return Silence(id=0, created_at=now, created_by=by, comment=comment.strip(),
                   expires_at=expires_at, zone=zone, device=device, sensor=sensor, hazard=hazard,
                   incident_id=incident_id)


def expired_by_hand(silence: Silence | None, silence_id: int, by: str, now: float) -> Silence:
    """``silence`` (the store's silence ``silence_id``, None if there is none) ended by an
    operator at ``now``; SilenceError if there is none or it is already over."""
    if silence is None:
        raise SilenceError(f"There is no silence {silence_id}.")
    if silence.ended_at is not None or silence.expires_at <= now:
        raise SilenceError(f"Silence {silence_id} has already ended.")
    return replace(silence, ended_at=now, ended_by=by, end_reason="expired by hand")
