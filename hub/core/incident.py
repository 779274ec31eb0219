"""What fusion produces: ``Incident`` values and the ``Change`` records of what happened to them.

Pure data, no behaviour beyond small derived properties. Every change but
``Flapped`` becomes one row of the store's ``events`` feed, which is also the incident's timeline:
system changes (opened, joined, regraded, merged, confirmed, flapping,
resolved) and operator actions (acknowledged, assigned, commented, resolved by
a person) alike, none of them editable.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar, TypeVar

from hub.core.deadlines import ResponseClock
from lifeline.grades import Grade
from lifeline.wire import Alert, format_incident_id

__all__ = [
    "ACTIVE", "DEVICE_GRADE", "DEVICE_HAZARD", "MAINTENANCE_HAZARD", "Acknowledged", "Assigned",
    "Change", "CitizenReported", "Commented", "Confirmed", "Escalated", "Evidence", "Flapped", "Flapping",
    "GradeChanged", "Incident",
    "IncidentStatus", "Joined", "MAX_DEVICES", "Merged", "OUTCOMES", "Opened", "Readings", "Reopened",
    "Resolved", "RuleRows", "changed_channels", "saved_channels",
]

DEVICE_HAZARD = "device"
MAINTENANCE_HAZARD = "maintenance"
DEVICE_GRADE = Grade.YELLOW
# Devices an incident names (the first by name); ``device_count`` counts them all. An
# earthquake's incident has tens of thousands: copying and saving them all with every
# alert made each alert cost more than the one before.
MAX_DEVICES = 1000

# One sensor channel's alerts inside an incident: (ts, grade, cleared), sorted by ts.
Evidence = tuple[tuple[float, int, bool], ...]
# One sensor channel's alert values: (ts, value), sorted by ts; kept for kinds with a rate rule.
Readings = tuple[tuple[float, float], ...]

_Rows = TypeVar("_Rows")


class RuleRows(dict[str, _Rows]):
    """An incident's rule state (channel key -> rows) as fusion keeps it, noting which
    channels were set since the store last saved it (``changed``; None: not known, so
    every channel may be new). A save then looks at those channels only: walking all of
    a 10,000-channel incident's for each batch made an alert cost more the larger its
    incident (issue 16). The rows themselves are values; only which keys were set is
    noted, and only ``d[key] = rows`` (what ``hub.core.running`` does) notes it."""

    def __init__(self, rows: Mapping[str, _Rows] | None = None) -> None:
        super().__init__(rows or {})
        self.changed: set[str] | None = None

    def __setitem__(self, key: str, value: _Rows) -> None:
        super().__setitem__(key, value)
        if self.changed is not None:
            self.changed.add(key)


def changed_channels(rows: Mapping[str, object]) -> set[str] | None:
    """The channels of ``rows`` set since ``saved_channels`` was last called on it; None if
    that is not known (a plain mapping, or never saved): then any may have changed."""
    return rows.changed if isinstance(rows, RuleRows) else None


def saved_channels(rows: Mapping[str, object]) -> None:
    """The store has written ``rows`` as they are now: note changes from here on."""
    if isinstance(rows, RuleRows):
        rows.changed = set()


class IncidentStatus(enum.StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    MERGED = "merged"  # absorbed into another incident by a bridging alert or a cause


ACTIVE = (IncidentStatus.OPEN, IncidentStatus.ACKNOWLEDGED)
# What an operator's resolution says the incident was (``incidents resolve --outcome``):
# the response report counts false alarms, and the detectors' evaluation can use them.
OUTCOMES = ("real", "false-alarm", "maintenance", "test")


@dataclass(frozen=True, slots=True)
class Incident:
    """One incident as the fusion rule sees it. Wall times: ``*_at``, ``last_arrival``;
    event times of its alerts: ``first_ts``, ``last_ts``.

    The rule state lives here too, so that the store can rebuild fusion after a
    restart: ``evidence`` per sensor channel (``device/sensor/channel``),
    ``transitions`` (wall times of resolves and reopens, for flapping), and
    ``readings``, the values of channels whose kind has an ``escalate_rate``, keyed
    ``kind device/sensor/channel@zone`` (for the rate of change).

    In the values fusion makes, ``evidence`` and ``readings`` are its live rule state
    (``hub.core.running``): successive values of one incident share them, so they show the
    incident as it is now, not as it was at that change. Everything else is the value's.
    """

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
    zones: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    assignee: str | None = None
    latched: bool = False
    flapping: bool = False
    confirmed: bool = False
    suppressed: int = 0
    reasons: tuple[str, ...] = ()
    evidence: Mapping[str, Evidence] = field(default_factory=dict, compare=False)
    transitions: tuple[float, ...] = ()
    readings: Mapping[str, Readings] = field(default_factory=dict, compare=False)
    flaps: int = 0  # a device incident: how many times the device went offline again
    device_count: int = 0  # devices in all (``devices`` names at most MAX_DEVICES); see n_devices
    # Accountability (hub/core/accountability.py): the owning department (``owner_fixed``:
    # an operator chose it, the ``[[owners]]`` rules no longer move it), its response clock
    # (deadlines and escalation levels), and the outcome an operator's resolution gave.
    citizen_reports: int = 0  # reports by people (``report-citizen``): evidence too
    owner: str | None = None
    owner_fixed: bool = False
    clock: ResponseClock | None = None
    outcome: str | None = None

    @property
    def label(self) -> str:
        return format_incident_id(self.id)

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @property
    def n_devices(self) -> int:
        """How many devices' alerts are evidence of it (``devices`` names the first
        MAX_DEVICES by name)."""
        return max(self.device_count, len(self.devices))

    @property
    def all_zones(self) -> tuple[str, ...]:
        """Every zone involved (the opening zone first)."""
        return self.zones or (self.zone,)

    @property
    def is_hazard(self) -> bool:
        return self.hazard not in (DEVICE_HAZARD, MAINTENANCE_HAZARD)


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
    """An alert became part of the incident; ``why`` is set when a cause absorbed it."""

    kind: ClassVar[str] = "joined"
    alert: Alert | None = None
    why: str = ""


@dataclass(frozen=True, slots=True)
class Reopened(Change):
    kind: ClassVar[str] = "reopened"
    alert: Alert | None = None


@dataclass(frozen=True, slots=True)
class GradeChanged(Change):
    kind: ClassVar[str] = "grade_changed"
    previous: Grade = Grade.BLUE
    why: str = ""


@dataclass(frozen=True, slots=True)
class Resolved(Change):
    kind: ClassVar[str] = "resolved"
    why: str = ""
    by: str | None = None
    outcome: str | None = None  # an operator's: one of OUTCOMES


@dataclass(frozen=True, slots=True)
class Merged(Change):
    """``absorbed`` (now status merged) was folded into ``incident``."""

    kind: ClassVar[str] = "merged"
    absorbed: Incident | None = None
    why: str = ""


@dataclass(frozen=True, slots=True)
class Confirmed(Change):
    """Enough independent evidence (devices, duration) that this is a real event."""

    kind: ClassVar[str] = "confirmed"
    why: str = ""


@dataclass(frozen=True, slots=True)
class Flapping(Change):
    """A sensor keeps toggling: the incident stays open instead of resolving and reopening."""

    kind: ClassVar[str] = "flapping"
    why: str = ""


@dataclass(frozen=True, slots=True)
class Flapped(Change):
    """One more coming or going of a device already marked flapping: its counters moved.

    Saved with the incident but not an event of the feed (nor routed, nor logged above
    DEBUG): a flapping connection makes thousands, and the incident says how many."""

    kind: ClassVar[str] = "flapped"


@dataclass(frozen=True, slots=True)
class Acknowledged(Change):
    kind: ClassVar[str] = "acknowledged"
    by: str = ""
    why: str = ""


@dataclass(frozen=True, slots=True)
class Assigned(Change):
    """Given to a person or team (``assignee``), or handed to another department
    (``owner``, when set: ``incidents assign --owner``)."""

    kind: ClassVar[str] = "assigned"
    by: str = ""
    assignee: str = ""
    why: str = ""
    owner: str = ""


@dataclass(frozen=True, slots=True)
class Commented(Change):
    kind: ClassVar[str] = "commented"
    by: str = ""
    text: str = ""


@dataclass(frozen=True, slots=True)
class Escalated(Change):
    """A deadline was missed (hub/core/deadlines.py): ``missed_by`` did not ``what``
    (acknowledge, resolve) by ``due_at``; the incident goes to ``escalated_to``, step
    ``level`` of the owner's escalation chain (None: nobody further)."""

    kind: ClassVar[str] = "escalated"
    what: str = ""
    level: int = 0
    missed_by: str = ""
    escalated_to: str | None = None
    due_at: float = 0.0


@dataclass(frozen=True, slots=True)
class CitizenReported(Change):
    """A person reported the hazard (a resident's call to the hotline): ``text`` what they
    said, ``by`` who took it in (an operator, or the hotline system). The reporter's
    contact is kept apart (the store's ``citizen_contacts``), never in a change."""

    kind: ClassVar[str] = "citizen_report"
    text: str = ""
    by: str = ""
