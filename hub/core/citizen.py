"""Citizens' reports as evidence: a resident's report joins the open incident of its zone and
hazard, or opens one (blue, unconfirmed) that sensor alerts then join and confirm.

Pure: the caller (the desk, hub/desk/citizen.py) hands in the incidents of the store,
the next free incident id and the time; the reporter's contact never enters an incident
or a change (the store keeps it apart, ``citizen_contacts``).

>>> from hub.core.accountability import Accountable
>>> from hub.core.deadlines import DeadlinePolicy
>>> from hub.core.ownership import OwnerPolicy
>>> from hub.core.topology import Topology
>>> stamp = Accountable(OwnerPolicy(), DeadlinePolicy(), Topology.build((), {})).stamp
>>> [c.kind for c in citizen_report([], "north", "gas", "smell of gas", "desk:ann", 100.0,
...                                 lambda: 7, stamp)]
['opened', 'citizen_report']
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

from hub.core.incident import (
    Change,
    CitizenReported,
    Confirmed,
    Incident,
    IncidentStatus,
    Opened,
)
from lifeline.grades import Grade

__all__ = ["CITIZEN_REASON", "TEXT_MAX", "citizen_report", "joinable"]

CITIZEN_REASON = "reported by a citizen; not yet seen by sensors"
TEXT_MAX = 2000


def joinable(incidents: Sequence[Incident], zone: str, hazard: str) -> Incident | None:
    """The active incident of ``hazard`` that covers ``zone`` (the oldest, if several)."""
    found = [i for i in incidents if i.active and i.hazard == hazard and zone in i.all_zones]
    return min(found, key=lambda i: i.id) if found else None


def citizen_report(incidents: Sequence[Incident], zone: str, hazard: str, text: str, by: str,
                   now: float, next_id: Callable[[], int],
                   stamp: Callable[[Incident, Incident | None], Incident]) -> list[Change]:
    """The changes a citizen's report makes: joined to an open incident of its zone and
    hazard (which it confirms if sensors already saw it), or a new blue one (its id from
    ``next_id``, asked only then), owned and clocked by ``stamp`` (``Accountable.stamp``)."""
    text = text.strip()
    if not text:
        raise ValueError("A citizen's report needs some text (what they saw, smelt, heard).")
    text = text[:TEXT_MAX]
    host = joinable(incidents, zone, hazard)
    if host is None:
        opened = stamp(Incident(
            id=next_id(), zone=zone, hazard=hazard, grade=Grade.BLUE, status=IncidentStatus.OPEN,
            opened_at=now, updated_at=now, first_ts=now, last_ts=now, last_arrival=now,
            zones=(zone,), citizen_reports=1, reasons=(CITIZEN_REASON,)), None)
        return [Opened(opened), CitizenReported(opened, text=text, by=by)]
    seen = bool(host.evidence) or host.alert_count > 0
    joined = dataclasses.replace(host, citizen_reports=host.citizen_reports + 1, updated_at=now,
                                 confirmed=host.confirmed or seen)
    changes: list[Change] = [CitizenReported(joined, text=text, by=by)]
    if joined.confirmed and not host.confirmed:
        changes.append(Confirmed(joined, why="reported by a citizen and seen by sensors"))
    return changes
