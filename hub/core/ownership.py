"""Who owns an incident: the department that must act on it, and whom to escalate to.

hub.toml's ``[[owners]]`` entries each name a department and, optionally, the hazards,
zones and lowest grade they cover; the most specific entry that matches an incident
wins, and one entry without conditions is the default, so no incident is unowned. Pure:
the zone's ancestors come from the topology as an argument.

>>> gas = OwnerRule("gas-utility", hazards=("gas",), escalation=("duty-officer",))
>>> north_gas = OwnerRule("north-gas-crew", hazards=("gas",), zones=("north",))
>>> policy = OwnerPolicy((gas, north_gas), default=OwnerRule("control-room"))
>>> owner_of(policy, "gas", "north-3", Grade.RED, ancestors=("north",)).department
'north-gas-crew'
>>> owner_of(policy, "gas", "south", Grade.RED, ancestors=()).department
'gas-utility'
>>> owner_of(policy, "water", "north", Grade.RED, ancestors=()).department
'control-room'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from lifeline.grades import Grade

__all__ = ["DEFAULT_DEPARTMENT", "OwnerPolicy", "OwnerRule", "owner_of"]

# The owner of everything when hub.toml has no [[owners]] at all (a single control room).
DEFAULT_DEPARTMENT = "control-room"


@dataclass(frozen=True, slots=True)
class OwnerRule:
    """One ``[[owners]]`` entry. Empty ``hazards``/``zones`` match any; ``min_grade``
    covers that grade and above. ``escalation`` is the chain a missed deadline climbs,
    nearest first (for example a district duty officer, then the city command centre)."""

    department: str
    hazards: tuple[str, ...] = ()
    zones: tuple[str, ...] = ()
    min_grade: Grade = Grade.BLUE
    escalation: tuple[str, ...] = ()

    @property
    def unconditional(self) -> bool:
        return not self.hazards and not self.zones and self.min_grade is Grade.BLUE


@dataclass(frozen=True, slots=True)
class OwnerPolicy:
    rules: tuple[OwnerRule, ...] = ()
    default: OwnerRule = OwnerRule(DEFAULT_DEPARTMENT)


def _zone_match(rule: OwnerRule, zone: str, ancestors: Sequence[str]) -> int | None:
    """How closely the rule's zones fit: 0 for any zone, else higher for a nearer zone
    (the zone itself beats its parent, which beats the grandparent); None: no match."""
    if not rule.zones:
        return 0
    lineage = (zone, *ancestors)  # nearest first
    depths = [len(lineage) - i for i, z in enumerate(lineage) if z in rule.zones]
    return max(depths) if depths else None


def owner_of(policy: OwnerPolicy, hazard: str, zone: str, grade: Grade,
             ancestors: Sequence[str] = ()) -> OwnerRule:
    """The most specific matching rule: nearest zone first, then a named hazard, then the
    highest ``min_grade``; among equals the first in the file. The default otherwise."""
    best: tuple[tuple[int, int, int], int, OwnerRule] | None = None
    for index, rule in enumerate(policy.rules):
        if rule.hazards and hazard not in rule.hazards:
            continue
        if grade < rule.min_grade:
            continue
        zone_fit = _zone_match(rule, zone, ancestors)
        if zone_fit is None:
            continue
        key = (zone_fit, 1 if rule.hazards else 0, int(rule.min_grade))
        if best is None or key > best[0]:
            best = (key, index, rule)
    return policy.default if best is None else best[2]
