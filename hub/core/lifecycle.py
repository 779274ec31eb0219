"""What people do to incidents: acknowledge, assign, comment, resolve. Pure.

Each action takes an incident and returns the ``Change`` to record (the
incident after it, who, why), or raises ``LifecycleError`` with a sentence an
operator can act on. States: open -> acknowledged -> resolved, and a new alert
reopens a resolved incident. A latched (red) incident only ever resolves here.
"""

from __future__ import annotations

import dataclasses

from hub.core.incident import (
    OUTCOMES,
    Acknowledged,
    Assigned,
    Change,
    Commented,
    Incident,
    IncidentStatus,
    Resolved,
)
from lifeline.errors import HubError
from lifeline.wire import format_incident_id

__all__ = ["ACTIONS", "LifecycleError", "acknowledge", "assign", "assign_owner", "comment",
           "resolve"]

ACTIONS = ("ack", "assign", "comment", "resolve")


class LifecycleError(HubError):
    """The action does not apply to the incident in its current state."""


def _check_live(incident: Incident, action: str) -> None:
    if incident.status is IncidentStatus.MERGED:
        into = "another" if incident.merged_into is None else format_incident_id(incident.merged_into)
        raise LifecycleError(f"{incident.label} was merged into {into}; {action} that one instead.")


def acknowledge(incident: Incident, by: str, why: str, now: float) -> Change:
    _check_live(incident, "acknowledge")
    if not incident.active:
        raise LifecycleError(f"{incident.label} is {incident.status.value}; only an open "
                             "incident can be acknowledged.")
    if incident.status is IncidentStatus.ACKNOWLEDGED:
        raise LifecycleError(f"{incident.label} is already acknowledged.")
    clock = incident.clock and dataclasses.replace(incident.clock, ack_due=None)
    done = dataclasses.replace(incident, status=IncidentStatus.ACKNOWLEDGED, updated_at=now,
                               clock=clock)
    return Acknowledged(done, by=by, why=why)


def assign(incident: Incident, by: str, assignee: str, why: str, now: float) -> Change:
    _check_live(incident, "assign")
    if not assignee.strip():
        raise LifecycleError("Name someone to assign the incident to.")
    done = dataclasses.replace(incident, assignee=assignee.strip(), updated_at=now)
    return Assigned(done, by=by, assignee=assignee.strip(), why=why)


def assign_owner(incident: Incident, by: str, owner: str, why: str, now: float,
                 assignee: str = "") -> Change:
    """Hand the incident to department ``owner`` (and, with ``assignee``, to a person or
    team there). The owner stays with it: the ``[[owners]]`` rules no longer move it on a
    regrade, and its escalation chain is the one ``[[owners]]`` gives that department."""
    _check_live(incident, "assign")
    if not owner.strip():
        raise LifecycleError("Name the department to hand the incident to (--owner).")
    who = assignee.strip() or incident.assignee
    done = dataclasses.replace(incident, owner=owner.strip(), owner_fixed=True, assignee=who,
                               updated_at=now)
    return Assigned(done, by=by, assignee=assignee.strip(), why=why, owner=owner.strip())


def comment(incident: Incident, by: str, text: str, now: float) -> Change:
    _check_live(incident, "comment on")
    if not text.strip():
        raise LifecycleError("A comment needs some text.")
    return Commented(dataclasses.replace(incident, updated_at=now), by=by, text=text.strip())


def resolve(incident: Incident, by: str, why: str, now: float,
            outcome: str | None = None) -> Change:
    """Close the incident; ``outcome`` (one of ``OUTCOMES``) says what it was."""
    _check_live(incident, "resolve")
    if not incident.active:
        raise LifecycleError(f"{incident.label} is already {incident.status.value}.")
    if not why.strip():
        raise LifecycleError("Say why the incident is resolved (--why).")
    if outcome is not None and outcome not in OUTCOMES:
        raise LifecycleError(f"{outcome!r} is not an outcome; expected one of "
                             f"{', '.join(OUTCOMES)}.")
    clock = incident.clock and dataclasses.replace(incident.clock, ack_due=None,
                                                   resolve_due=None)
    done = dataclasses.replace(incident, status=IncidentStatus.RESOLVED, resolved_at=now,
                               updated_at=now, latched=False, clock=clock,
                               outcome=outcome or incident.outcome,
                               transitions=(*incident.transitions, now)[-20:])
    return Resolved(done, why=why.strip(), by=by, outcome=outcome)
