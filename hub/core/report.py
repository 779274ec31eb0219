"""The response report: how fast each department (hazard, zone) acknowledged and resolved
its incidents, the deadlines it missed, the escalations, the false alarms. Pure: the store
reads the facts of each incident (``Store.response_facts``), this aggregates them.

Times: *to acknowledge* is from opening to the first acknowledgement (incidents never
acknowledged are left out of it, not counted as zero); *to resolve* is from opening to
resolution, for resolved incidents (by an operator, or by fusion when quiet). The median
of an even count is the mean of the middle two; p90 is the nearest rank (the smallest time
at or above which 10 % of the times lie). *Deadlines missed* counts the owner's own missed
deadlines (escalations to the first step), *escalations* every step taken; *false alarms*
are resolutions with ``--outcome false-alarm``.

By detector (``verdicts``), the operators' outcomes judge what raised each incident: an
incident counts once under every alert ``reason`` among its alerts (``limit``, ``anomaly``
...; ``(none)`` when no stored alert raised it: a citizen's report, or alerts already pruned),
so the groups may overlap while the total counts each incident once. *Precision* is
real / (real + false-alarm) over the resolved incidents that carry either outcome; maintenance,
test and resolutions without an outcome say nothing about a detector and are only counted.

>>> facts = [IncidentFacts(1, "gas-utility", "gas", "north", "resolved", 0.0, 60.0, 600.0,
...                        "real", 0, 0),
...          IncidentFacts(2, "gas-utility", "gas", "south", "resolved", 0.0, 400.0, 900.0,
...                        "false-alarm", 1, 2)]
>>> row = aggregate(facts, "owner")[0]
>>> row.group, row.incidents, row.ack_median_s, row.ack_p90_s, row.false_alarms
('gas-utility', 2, 230.0, 400.0, 1)
>>> import dataclasses
>>> facts = [dataclasses.replace(facts[0], reasons=("limit", "anomaly")),
...          dataclasses.replace(facts[1], reasons=("anomaly",))]
>>> [(r.group, r.real, r.false_alarms, r.precision) for r in verdicts(facts)]
[('anomaly', 1, 1, 0.5), ('limit', 1, 0, 1.0), ('(all)', 1, 1, 0.5)]
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = ["BY_DETECTOR", "GROUPINGS", "NO_ALERT", "TOTAL", "IncidentFacts", "ReportRow",
           "VerdictRow", "aggregate", "p90", "verdicts"]

GROUPINGS = ("owner", "hazard", "zone")
BY_DETECTOR = "detector"  # the operators' verdicts per alert reason (``verdicts``)
TOTAL = "(all)"  # the group of the row that sums every incident
NO_ALERT = "(none)"  # the detector group of incidents that no stored alert raised


@dataclass(frozen=True, slots=True)
class IncidentFacts:
    """What the report needs of one incident (wall times, epoch seconds)."""

    id: int
    owner: str | None
    hazard: str
    zone: str
    status: str
    opened_at: float
    acknowledged_at: float | None
    resolved_at: float | None
    outcome: str | None
    deadlines_missed: int
    escalations: int
    reasons: tuple[str, ...] = ()  # the distinct ``reason`` of its alerts, sorted


@dataclass(frozen=True, slots=True)
class ReportRow:
    """One group's figures (seconds; None where there is nothing to measure)."""

    group: str
    incidents: int
    acknowledged: int
    ack_median_s: float | None
    ack_p90_s: float | None
    resolved: int
    resolve_median_s: float | None
    resolve_p90_s: float | None
    deadlines_missed: int
    escalations: int
    false_alarms: int


def p90(values: Sequence[float]) -> float | None:
    """The nearest-rank 90th percentile.

    >>> p90([1.0, 2.0, 3.0]), p90(list(map(float, range(1, 11)))), p90([])
    (3.0, 9.0, None)
    """
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]


def _median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def _row(group: str, facts: Sequence[IncidentFacts]) -> ReportRow:
    acks = [f.acknowledged_at - f.opened_at for f in facts if f.acknowledged_at is not None]
    resolves = [f.resolved_at - f.opened_at for f in facts
                if f.status == "resolved" and f.resolved_at is not None]
    return ReportRow(
        group=group, incidents=len(facts), acknowledged=len(acks), ack_median_s=_median(acks),
        ack_p90_s=p90(acks), resolved=len(resolves), resolve_median_s=_median(resolves),
        resolve_p90_s=p90(resolves), deadlines_missed=sum(f.deadlines_missed for f in facts),
        escalations=sum(f.escalations for f in facts),
        false_alarms=sum(f.outcome == "false-alarm" for f in facts))


def aggregate(facts: Iterable[IncidentFacts], by: str) -> list[ReportRow]:
    """One row per group (``by``: owner, hazard or zone; by name), then ``TOTAL``'s."""
    if by not in GROUPINGS:
        raise ValueError(f"{by!r} is not one of {', '.join(GROUPINGS)}")
    every = list(facts)
    groups: dict[str, list[IncidentFacts]] = {}
    for fact in every:
        groups.setdefault(str(getattr(fact, by) or "-"), []).append(fact)
    return [*(_row(name, groups[name]) for name in sorted(groups)), _row(TOTAL, every)]


@dataclass(frozen=True, slots=True)
class VerdictRow:
    """One detector's (alert reason's) field verdicts: the operators' outcomes of the
    incidents its alerts raised; ``precision`` is None where none is real or a false alarm."""

    group: str
    incidents: int
    resolved: int
    real: int
    false_alarms: int
    maintenance: int
    test: int
    no_outcome: int
    precision: float | None


def _verdict_row(group: str, facts: Sequence[IncidentFacts]) -> VerdictRow:
    outcomes = [f.outcome for f in facts if f.status == "resolved"]
    real, false_alarms = outcomes.count("real"), outcomes.count("false-alarm")
    return VerdictRow(
        group=group, incidents=len(facts), resolved=len(outcomes), real=real,
        false_alarms=false_alarms, maintenance=outcomes.count("maintenance"),
        test=outcomes.count("test"), no_outcome=outcomes.count(None),
        precision=real / (real + false_alarms) if real + false_alarms else None)


def verdicts(facts: Iterable[IncidentFacts]) -> list[VerdictRow]:
    """One row per alert reason (by name; an incident under each of its reasons), then
    ``TOTAL``'s (each incident once)."""
    every = list(facts)
    groups: dict[str, list[IncidentFacts]] = {}
    for fact in every:
        for reason in fact.reasons or (NO_ALERT,):
            groups.setdefault(reason, []).append(fact)
    return [*(_verdict_row(name, groups[name]) for name in sorted(groups)),
            _verdict_row(TOTAL, every)]
