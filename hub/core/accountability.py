"""Who answers for an incident, and by when: the owner and the response clock it carries.

Fusion stamps every incident it puts into its state (``Accountable.stamp``): a new
incident gets its owner (``hub.core.ownership.owner_of``) and its clock
(``hub.core.deadlines.start_clock``); a grade change moves the owner when the
``[[owners]]`` rules say so (an entry's ``min_grade``), unless an operator chose the owner
(``incidents assign --owner``), and tightens the clock (``regrade_clock``); a reopened
incident starts a fresh clock. The hub's timer then advances the clocks
(``hub.service.escalation``). Pure: time comes in the incident (``updated_at``).

>>> from hub.core.ownership import OwnerPolicy, OwnerRule
>>> from hub.core.topology import Topology
>>> policy = OwnerPolicy((OwnerRule("gas-utility", hazards=("gas",)),))
>>> stamp = Accountable(policy, DeadlinePolicy(), Topology.build((), {})).stamp
>>> fresh = Incident(1, "north", "gas", Grade.RED, IncidentStatus.OPEN, 100.0, 100.0,
...                  100.0, 100.0, 100.0)
>>> stamped = stamp(fresh, None)
>>> stamped.owner, stamped.clock.ack_due
('gas-utility', 400.0)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from hub.core.deadlines import DeadlinePolicy, regrade_clock, start_clock
from hub.core.incident import Incident, IncidentStatus
from hub.core.ownership import OwnerPolicy, owner_of
from hub.core.topology import Topology
from lifeline.grades import Grade

__all__ = ["Accountable", "departments"]


def departments(policy: OwnerPolicy) -> list[str]:
    """Every department ``[[owners]]`` names (owners and escalation steps), sorted."""
    names = {policy.default.department, *policy.default.escalation}
    for rule in policy.rules:
        names.add(rule.department)
        names.update(rule.escalation)
    return sorted(names)


@dataclass
class Accountable:
    """The ``[[owners]]`` and ``[deadlines]`` of hub.toml with the zones' topology: stamps
    incidents with owner and clock, and names the escalation chain of an incident."""

    owners: OwnerPolicy
    deadlines: DeadlinePolicy
    topology: Topology
    # (hazard, zone, grade) -> owner and chain: the rules are immutable, and fusion asks
    # for every incident it touches
    _cache: dict[tuple[str, str, Grade], tuple[str, tuple[str, ...]]] = field(
        default_factory=dict, repr=False)

    def owner(self, hazard: str, zone: str, grade: Grade) -> tuple[str, tuple[str, ...]]:
        """The owning department of (hazard, zone, grade) and its escalation chain."""
        key = (hazard, zone, grade)
        found = self._cache.get(key)
        if found is None:
            rule = owner_of(self.owners, hazard, zone, grade, self.topology.ancestors(zone)[1:])
            found = self._cache[key] = (rule.department, rule.escalation)
        return found

    def chain(self, incident: Incident) -> tuple[str, ...]:
        """Whom a missed deadline of ``incident`` goes to, nearest first: the chain of its
        owner's rule (of the first ``[[owners]]`` entry naming an owner an operator chose)."""
        department, chain = self.owner(incident.hazard, incident.zone, incident.grade)
        if incident.owner is None or incident.owner == department:
            return chain
        for rule in (*self.owners.rules, self.owners.default):
            if rule.department == incident.owner:
                return rule.escalation
        return ()

    def stamp(self, incident: Incident, previous: Incident | None) -> Incident:
        """``incident`` (fusion's next value of it; ``previous``: the one before, None for a
        new one or a reload) with its owner and clock as the rules make them."""
        if (previous is not None and previous.grade is incident.grade
                and previous.status is incident.status and incident.owner is not None
                and incident.clock is not None):
            return incident  # nearly every alert joining an incident: nothing to do
        regraded = previous is not None and previous.grade != incident.grade
        owner, clock = incident.owner, incident.clock
        if not incident.owner_fixed and (owner is None or regraded):
            owner = self.owner(incident.hazard, incident.zone, incident.grade)[0]
        if not incident.active:
            if clock is not None and (clock.ack_due, clock.resolve_due) != (None, None):
                clock = dataclasses.replace(clock, ack_due=None, resolve_due=None)
        else:
            reopened = previous is not None and not previous.active
            if clock is None or reopened:
                clock = start_clock(incident.grade, incident.updated_at, self.deadlines)
                if incident.status is IncidentStatus.ACKNOWLEDGED:  # (a store from before)
                    clock = dataclasses.replace(clock, ack_due=None)
            elif regraded:
                clock = regrade_clock(clock, incident.grade, incident.updated_at,
                                      self.deadlines)
        if owner == incident.owner and clock == incident.clock:
            return incident
        return dataclasses.replace(incident, owner=owner, clock=clock)
