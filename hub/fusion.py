"""The fusion rule: alerts and device statuses in, incident changes out. Pure: no I/O, no clock.

An alert's *hazard* is its family (``water``, ``gas``, ``structure``) when it is
about the world (reason ``limit`` or ``anomaly``) and ``maintenance`` when it is
about the instrument (``sensor_fault``). Incidents are keyed on (zone, hazard).

Alerts fuse by **event time** (``alert.ts``), not arrival time, so the outcome does
not depend on the order in which alerts arrive: an alert whose ts lies within
``window_s`` of an incident's alert span ``[first_ts, last_ts]`` joins it, and an
alert that bridges two incidents merges them (the older id survives). The
incidents are thus the runs of same-key alerts whose gaps are at most
``window_s`` -- whatever the arrival order -- as long as no incident would span
more than ``max_span_s`` (a guard against one endless incident). A resolved
incident that a late alert falls into is reopened rather than duplicated.

An incident's grade is the highest grade of its alerts. It resolves by itself
once ``quiet_s`` of wall time pass without a new alert (``tick(now)``). A device
going offline opens a ``device`` incident for that device in its zone; the
device coming back online resolves it.

The state is a set of ``Incident`` values, so the hub rebuilds it on start from
the incidents its store holds (open ones and recently resolved ones).
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar

from hub.config import FusionConfig
from lifeline.grades import Grade
from lifeline.wire import Alert, Reason, Status

__all__ = [
    "DEVICE_GRADE", "DEVICE_HAZARD", "MAINTENANCE_HAZARD", "Change", "Fusion", "GradeChanged",
    "Incident", "IncidentStatus", "Joined", "Merged", "Opened", "Reopened", "Resolved",
    "hazard_of",
]

DEVICE_HAZARD = "device"
MAINTENANCE_HAZARD = "maintenance"
DEVICE_GRADE = Grade.YELLOW


class IncidentStatus(enum.StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    MERGED = "merged"  # absorbed into another incident by a bridging alert


ACTIVE = (IncidentStatus.OPEN, IncidentStatus.ACKNOWLEDGED)


def hazard_of(alert: Alert) -> str:
    """The hazard an alert is evidence of: its family, or ``maintenance`` for a sensor fault."""
    return MAINTENANCE_HAZARD if alert.reason is Reason.SENSOR_FAULT else alert.family


@dataclass(frozen=True, slots=True)
class Incident:
    """One incident as the fusion rule sees it. Wall times: ``*_at``, ``last_arrival``;
    event times of its alerts: ``first_ts``, ``last_ts``."""

    id: int
    zone: str
    hazard: str
    grade: Grade
    status: IncidentStatus
    opened_at: float
    updated_at: float
    first_ts: float
    last_ts: float
    last_arrival: float
    alert_count: int = 0
    devices: tuple[str, ...] = ()
    resolved_at: float | None = None
    merged_into: int | None = None

    @property
    def label(self) -> str:
        return f"INC-{self.id}"

    @property
    def active(self) -> bool:
        return self.status in ACTIVE


@dataclass(frozen=True, slots=True)
class Change:
    """Something that happened to an incident; ``incident`` is its state afterwards."""

    kind: ClassVar[str] = "change"
    incident: Incident


@dataclass(frozen=True, slots=True)
class Opened(Change):
    kind: ClassVar[str] = "opened"
    alert: Alert | None = None
    device: str | None = None


@dataclass(frozen=True, slots=True)
class Joined(Change):
    kind: ClassVar[str] = "joined"
    alert: Alert | None = None


@dataclass(frozen=True, slots=True)
class Reopened(Change):
    kind: ClassVar[str] = "reopened"
    alert: Alert | None = None


@dataclass(frozen=True, slots=True)
class GradeChanged(Change):
    kind: ClassVar[str] = "grade_changed"
    previous: Grade = Grade.BLUE


@dataclass(frozen=True, slots=True)
class Resolved(Change):
    kind: ClassVar[str] = "resolved"
    why: str = ""


@dataclass(frozen=True, slots=True)
class Merged(Change):
    """``absorbed`` (now status merged) was folded into ``incident`` by a bridging alert."""

    kind: ClassVar[str] = "merged"
    absorbed: Incident | None = None


class Fusion:
    """The live incident set. Feed it alerts and statuses; call ``tick`` now and then."""

    def __init__(self, config: FusionConfig, incidents: Iterable[Incident] = (),
                 next_id: int = 1) -> None:
        self.config = config
        self._incidents: dict[int, Incident] = {
            i.id: i for i in incidents if i.status is not IncidentStatus.MERGED}
        self._next_id = max([next_id, *(i + 1 for i in self._incidents)])

    @property
    def incidents(self) -> list[Incident]:
        """Incidents still in play (active, or resolved recently enough to reopen), by id."""
        return [self._incidents[k] for k in sorted(self._incidents)]

    # -- alerts ------------------------------------------------------------
    def alert(self, alert: Alert, now: float) -> list[Change]:
        """Fuse one new alert (the caller drops duplicates) arriving at wall time ``now``."""
        hazard = hazard_of(alert)
        candidates = sorted((i for i in self._incidents.values() if i.hazard == hazard
                             and i.zone == alert.zone and self._reaches(i, alert.ts)),
                            key=lambda i: i.id)
        if not candidates:
            return [self._open_for_alert(alert, hazard, now)]
        survivor, changes = candidates[0], list[Change]()
        before = survivor.grade
        for other in candidates[1:]:
            if self._span(survivor, other.first_ts, other.last_ts, alert.ts) <= self.config.max_span_s:
                survivor, absorbed = self._merge(survivor, other, now)
                changes.append(Merged(survivor, absorbed=absorbed))
        if not survivor.active:
            survivor = self._put(dataclasses.replace(
                survivor, status=IncidentStatus.OPEN, resolved_at=None, updated_at=now))
            changes.append(Reopened(survivor, alert=alert))
        survivor = self._put(_with_alert(survivor, alert, now))
        changes.append(Joined(survivor, alert=alert))
        if survivor.grade > before:
            changes.append(GradeChanged(survivor, previous=before))
        return changes

    def _reaches(self, incident: Incident, ts: float) -> bool:
        window = self.config.window_s
        return (incident.first_ts - window <= ts <= incident.last_ts + window
                and self._span(incident, ts) <= self.config.max_span_s)

    @staticmethod
    def _span(incident: Incident, *times: float) -> float:
        return max(incident.last_ts, *times) - min(incident.first_ts, *times)

    def _open_for_alert(self, alert: Alert, hazard: str, now: float) -> Opened:
        incident = Incident(
            id=self._take_id(), zone=alert.zone, hazard=hazard, grade=alert.grade,
            status=IncidentStatus.OPEN, opened_at=now, updated_at=now, first_ts=alert.ts,
            last_ts=alert.ts, last_arrival=now, alert_count=1, devices=(alert.device,))
        return Opened(self._put(incident), alert=alert)

    def _merge(self, survivor: Incident, other: Incident, now: float) -> tuple[Incident, Incident]:
        merged = dataclasses.replace(
            survivor,
            grade=max(survivor.grade, other.grade),
            status=IncidentStatus.OPEN if survivor.active or other.active else survivor.status,
            resolved_at=None if survivor.active or other.active else survivor.resolved_at,
            opened_at=min(survivor.opened_at, other.opened_at), updated_at=now,
            first_ts=min(survivor.first_ts, other.first_ts),
            last_ts=max(survivor.last_ts, other.last_ts),
            last_arrival=max(survivor.last_arrival, other.last_arrival),
            alert_count=survivor.alert_count + other.alert_count,
            devices=tuple(sorted({*survivor.devices, *other.devices})))
        absorbed = dataclasses.replace(other, status=IncidentStatus.MERGED,
                                       merged_into=survivor.id, updated_at=now)
        del self._incidents[other.id]
        return self._put(merged), absorbed

    # -- device liveness -----------------------------------------------------
    def status(self, status: Status, now: float) -> list[Change]:
        """A device said online/offline (or its last will did): open or resolve its device incident."""
        current = [i for i in self._incidents.values() if i.active
                   and i.hazard == DEVICE_HAZARD and i.devices == (status.device,)]
        if status.state == "offline":
            if current:
                return []
            incident = Incident(
                id=self._take_id(), zone=status.zone, hazard=DEVICE_HAZARD, grade=DEVICE_GRADE,
                status=IncidentStatus.OPEN, opened_at=now, updated_at=now, first_ts=now,
                last_ts=now, last_arrival=now, devices=(status.device,))
            return [Opened(self._put(incident), device=status.device)]
        return [self._resolve(i, now, f"device {status.device} is online again")
                for i in current]

    # -- time ------------------------------------------------------------------
    def tick(self, now: float) -> list[Change]:
        """Resolve incidents quiet for ``quiet_s``; forget resolved ones too old to reopen."""
        changes: list[Change] = [self._resolve(i, now, f"no new alert for {self.config.quiet_s:g} s")
                   for i in self.incidents
                   if i.active and i.hazard != DEVICE_HAZARD
                   and now - i.last_arrival >= self.config.quiet_s]
        for incident in list(self._incidents.values()):
            if (incident.resolved_at is not None
                    and now - incident.resolved_at > self.config.max_span_s):
                del self._incidents[incident.id]
        return changes

    def _resolve(self, incident: Incident, now: float, why: str) -> Resolved:
        done = dataclasses.replace(incident, status=IncidentStatus.RESOLVED, resolved_at=now,
                                   updated_at=now)
        return Resolved(self._put(done), why=why)

    # -- bookkeeping -------------------------------------------------------------
    def _take_id(self) -> int:
        self._next_id += 1
        return self._next_id - 1

    def _put(self, incident: Incident) -> Incident:
        self._incidents[incident.id] = incident
        return incident


def _with_alert(incident: Incident, alert: Alert, now: float) -> Incident:
    return dataclasses.replace(
        incident,
        grade=max(incident.grade, alert.grade),
        updated_at=now,
        first_ts=min(incident.first_ts, alert.ts),
        last_ts=max(incident.last_ts, alert.ts),
        last_arrival=max(incident.last_arrival, now),
        alert_count=incident.alert_count + 1,
        devices=tuple(sorted({*incident.devices, alert.device})),
    )
