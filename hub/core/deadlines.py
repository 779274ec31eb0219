"""Deadlines to acknowledge and to resolve an incident, and the escalation a missed one causes.

Per grade, an incident must be acknowledged (defaults: red 5 min, orange 15 min, yellow
60 min, blue never) and resolved (red 4 h, orange 8 h, yellow 24 h, blue never) in time.
A deadline missed escalates one step along the owner's ``escalation`` chain, and the next
step gets the same time again, until the chain ends. Acknowledging stops the acknowledge
clock, resolving stops both; while the incident is silenced (or its device in maintenance)
nothing escalates, and what fell due meanwhile escalates when that ends.

Pure: the per-incident ``ResponseClock`` is plain data the store keeps, so deadlines
survive a restart, and every function takes the time as an argument (tests use a fake
clock).

>>> policy = DeadlinePolicy()
>>> clock = start_clock(Grade.RED, at=0.0, policy=policy)
>>> clock.ack_due, clock.resolve_due
(300.0, 14400.0)
>>> clock, due = step(clock, Grade.RED, owner="gas-utility", chain=("duty-officer",),
...                   acknowledged=False, resolved=False, held=False, now=301.0, policy=policy)
>>> [(e.what, e.level, e.missed_by, e.escalated_to) for e in due]
[('acknowledge', 1, 'gas-utility', 'duty-officer')]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from lifeline.grades import Grade

__all__ = ["ACKNOWLEDGE", "DeadlinePolicy", "Escalation", "RESOLVE", "ResponseClock",
           "regrade_clock", "start_clock", "step"]

ACKNOWLEDGE = "acknowledge"
RESOLVE = "resolve"

DEFAULT_ACKNOWLEDGE_S: Mapping[Grade, float | None] = MappingProxyType({
    Grade.RED: 300.0, Grade.ORANGE: 900.0, Grade.YELLOW: 3600.0, Grade.BLUE: None})
DEFAULT_RESOLVE_S: Mapping[Grade, float | None] = MappingProxyType({
    Grade.RED: 4 * 3600.0, Grade.ORANGE: 8 * 3600.0, Grade.YELLOW: 24 * 3600.0,
    Grade.BLUE: None})


@dataclass(frozen=True, slots=True)
class DeadlinePolicy:
    """``[deadlines.acknowledge]`` and ``[deadlines.resolve]`` of hub.toml: seconds per
    grade, None for no deadline."""

    acknowledge_s: Mapping[Grade, float | None] = field(
        default_factory=lambda: DEFAULT_ACKNOWLEDGE_S)
    resolve_s: Mapping[Grade, float | None] = field(default_factory=lambda: DEFAULT_RESOLVE_S)

    def limit(self, what: str, grade: Grade) -> float | None:
        table = self.acknowledge_s if what == ACKNOWLEDGE else self.resolve_s
        return table.get(grade)


@dataclass(frozen=True, slots=True)
class ResponseClock:
    """One incident's deadlines: when each falls due next (None: none running) and how many
    of each were missed so far (0: still with the owner; k: with the k-th step of the
    owner's escalation chain)."""

    ack_due: float | None
    resolve_due: float | None
    ack_level: int = 0
    resolve_level: int = 0


@dataclass(frozen=True, slots=True)
class Escalation:
    """A deadline was missed: ``missed_by`` (the owner, or the last step escalated to) did
    not ``what`` by ``due_at``; the incident goes to ``escalated_to`` (step ``level``), or
    to nobody further (None) when the chain is exhausted."""

    what: str
    level: int
    missed_by: str
    escalated_to: str | None
    due_at: float


def _due(policy: DeadlinePolicy, what: str, grade: Grade, since: float) -> float | None:
    limit = policy.limit(what, grade)
    return None if limit is None else since + limit


def start_clock(grade: Grade, at: float, policy: DeadlinePolicy) -> ResponseClock:
    """The clock of an incident opened at ``at`` with ``grade``."""
    return ResponseClock(ack_due=_due(policy, ACKNOWLEDGE, grade, at),
                         resolve_due=_due(policy, RESOLVE, grade, at))


def regrade_clock(clock: ResponseClock, grade: Grade, at: float,
                  policy: DeadlinePolicy) -> ResponseClock:
    """The incident became ``grade`` at ``at``: a graver grade's shorter deadline, counted
    from now, replaces a later one; a lower grade never extends a deadline already running.
    Steps already escalated stay (a regrade does not hand the incident back)."""

    def tighter(current: float | None, what: str, level: int) -> float | None:
        if level > 0:  # escalated: the next step's time is already running
            return current
        fresh = _due(policy, what, grade, at)
        if current is None:
            return fresh
        return current if fresh is None else min(current, fresh)

    return replace(clock, ack_due=tighter(clock.ack_due, ACKNOWLEDGE, clock.ack_level),
                   resolve_due=tighter(clock.resolve_due, RESOLVE, clock.resolve_level))


def _climb(what: str, due: float | None, level: int, grade: Grade, owner: str,
           chain: tuple[str, ...], now: float,
           policy: DeadlinePolicy) -> tuple[float | None, int, list[Escalation]]:
    """Every deadline missed by ``now`` (several, after a long hold or a hub that was down).

    Each climbs one step of the chain; the last step's missed deadline (or the owner's,
    with no chain) is still recorded, with nobody further to go to, and ends the clock."""
    found: list[Escalation] = []
    while due is not None and now >= due:
        missed_by = owner if level == 0 else chain[level - 1]
        to = chain[level] if level < len(chain) else None
        found.append(Escalation(what, level + 1, missed_by, to, due))
        level += 1
        limit = policy.limit(what, grade)
        due = None if to is None or limit is None else due + limit
    return due, level, found


def step(clock: ResponseClock, grade: Grade, *, owner: str, chain: tuple[str, ...],
         acknowledged: bool, resolved: bool, held: bool, now: float,
         policy: DeadlinePolicy) -> tuple[ResponseClock, list[Escalation]]:
    """Advance the clock to ``now``: the escalations due, acknowledge steps first.

    ``held``: silenced or in maintenance; nothing escalates now, and deadlines that fall
    due meanwhile escalate at the first step after the hold ends.
    """
    if resolved:
        return replace(clock, ack_due=None, resolve_due=None), []
    ack_due, ack_level = clock.ack_due, clock.ack_level
    if acknowledged:
        ack_due = None
    if held:
        return replace(clock, ack_due=ack_due), []
    ack_due, ack_level, acks = _climb(ACKNOWLEDGE, ack_due, ack_level, grade, owner, chain,
                                      now, policy)
    resolve_due, resolve_level, resolves = _climb(RESOLVE, clock.resolve_due,
                                                  clock.resolve_level, grade, owner, chain,
                                                  now, policy)
    return (ResponseClock(ack_due, resolve_due, ack_level, resolve_level), acks + resolves)
