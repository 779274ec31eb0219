"""The hub's side of deadlines: advance every active incident's response clock on a timer.

Each tick (inside the hub's write transaction, ``Ingest.tick``) the incidents fusion
holds whose deadline has come are stepped by the pure rule (``hub.core.deadlines.step``)
with the hub's clock; a missed deadline becomes an ``Escalated`` change: an ``escalated``
event in the incident's timeline, routed like the other changes (webhooks, the MQTT
republish) with who missed what and whom it goes to next. The clocks are columns of the
incident rows, so deadlines survive a restart. An incident covered by a silence, or
whose devices are all in maintenance, is held: nothing escalates meanwhile, and what
fell due escalates when that ends. Acknowledging stops the acknowledge deadline,
resolving both.
"""

from __future__ import annotations

import dataclasses
import logging

from hub.core.deadlines import DeadlinePolicy, step
from hub.core.fusion import Fusion
from hub.core.incident import Change, Escalated, Incident, IncidentStatus
from hub.core.maintenance import Mark
from hub.core.silences import Silence, matching
from hub.core.topology import Topology
from hub.store import Store

__all__ = ["escalate"]

log = logging.getLogger(__name__)


def _due(incident: Incident, now: float) -> bool:
    """Is there anything for ``step`` to do? Asked every second of every incident fusion
    holds, and nearly always no: written for speed."""
    clock = incident.clock
    if clock is None:
        return False
    status = incident.status
    if status is IncidentStatus.OPEN:
        if clock.ack_due is not None and now >= clock.ack_due:
            return True
    elif status is IncidentStatus.ACKNOWLEDGED:
        if clock.ack_due is not None:  # stop it
            return True
    else:
        return False
    return clock.resolve_due is not None and now >= clock.resolve_due


def _held(incident: Incident, now: float, silences: list[Silence], marks: dict[str, Mark],
          topology: Topology) -> bool:
    """Silenced, or every device of it in maintenance: its deadlines wait."""
    if matching(silences, incident, now, None, topology):
        return True
    return bool(incident.devices) and all(
        (mark := marks.get(device)) is not None and mark.active(now)
        for device in incident.devices)


def escalate(fusion: Fusion, store: Store, deadlines: DeadlinePolicy, topology: Topology,
             now: float) -> list[Change]:
    """Step the clocks of fusion's incidents to ``now``; the escalations due, as changes
    (the caller applies and routes them in its transaction). Clocks that moved without an
    escalation (an acknowledgement) are saved here."""
    accountable = fusion.accountable
    if accountable is None:
        return []
    changes: list[Change] = []
    quiet: list[Incident] = []
    silences: list[Silence] | None = None
    marks: dict[str, Mark] = {}
    for incident in fusion.incidents:
        if not _due(incident, now):
            continue
        # the store's word, not fusion's copy: another hub on the same database (or this
        # one before a restart) may have escalated it already
        stored = store.response_clock(incident.id)
        if stored is not None and stored != incident.clock:
            incident = fusion.amend(dataclasses.replace(incident, clock=stored))
            if not _due(incident, now):
                continue
        assert incident.clock is not None
        if silences is None:  # read once per tick, and only when a deadline has come
            silences = store.silences.active(now)
            marks = {m.device: m for m in store.maintenance.marks()}
        clock, missed = step(
            incident.clock, incident.grade, owner=incident.owner or "",
            chain=accountable.chain(incident),
            acknowledged=incident.status is IncidentStatus.ACKNOWLEDGED, resolved=False,
            held=_held(incident, now, silences, marks, topology), now=now, policy=deadlines)
        if clock == incident.clock:
            continue
        updated = fusion.amend(dataclasses.replace(incident, clock=clock))
        if not missed:
            quiet.append(updated)
        for due in missed:
            log.warning("incident %s escalated: %s did not %s by the deadline; now with %s "
                        "(level %d)", incident.label, due.missed_by, due.what,
                        due.escalated_to or "nobody further", due.level)
            changes.append(Escalated(updated, what=due.what, level=due.level,
                                     missed_by=due.missed_by, escalated_to=due.escalated_to,
                                     due_at=due.due_at))
    if quiet:
        store.save_incidents(quiet)
    return changes
