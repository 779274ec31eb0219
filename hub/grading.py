"""How an incident's grade, confirmation and flapping follow from its evidence. Pure.

Everything here is a function of the incident's alert set (per-sensor lists of
``(ts, grade, cleared)``), never of arrival order, so fusion stays
order-independent:

* **base**: the highest grade among sensor channels still alarming -- a channel
  whose latest alert (by reading time) is ``cleared`` no longer counts, which is
  how an incident de-escalates when readings return to normal;
* **+1 corroborated** by ``corroborate_devices`` independent devices;
* **+1 signature**: every kind in ``signature`` present (a burst: pressure drop
  *and* flow rise);
* **+1 lasting** ``escalate_after_s`` of reading time;
* **+1 moving fast**: an alarming channel whose kind has an ``escalate_rate``
  moved toward danger at least that many units per minute, measured from its
  newest alert back over the family's ``window_s`` (alerts of its current
  alarm only, a change over less than a minute counted as taking a minute);
  when it slows down, the step goes again;
* **+1 spreading** to ``growth_devices`` devices;
* capped at red. A red incident of a ``latch_red`` family is **latched**: it
  stays red and open until a person resolves it.

``confirmed``: corroborated, or lasting ``confirm_after_s``. ``flapping``: one
channel started alarming ``flap_episodes`` times (alarm, clear, alarm ...), or the
incident resolved and reopened that often.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from hub.config import RuleConfig
from hub.incident import (
    DEVICE_GRADE,
    DEVICE_HAZARD,
    MAINTENANCE_HAZARD,
    Evidence,
    Incident,
    Readings,
)
from lifeline.grades import Grade

__all__ = ["MAX_EVIDENCE", "Assessment", "add_evidence", "add_reading", "assess",
           "merge_evidence", "merge_readings", "readings_key"]

MAX_EVIDENCE = 200  # readings kept per channel (the newest); bounds the rule state


@dataclass(frozen=True, slots=True)
class Assessment:
    grade: Grade
    reasons: tuple[str, ...]
    confirmed: bool
    flapping: bool
    latched: bool


def add_evidence(evidence: Mapping[str, Evidence], key: str, ts: float, grade: Grade,
                 cleared: bool) -> dict[str, Evidence]:
    out = dict(evidence)
    rows, row = out.get(key, ()), (ts, int(grade), cleared)
    if not rows or row >= rows[-1]:  # in order, the usual case: no sort
        out[key] = (*rows[len(rows) + 1 - MAX_EVIDENCE:], row)
    else:
        out[key] = tuple(sorted((*rows, row)))[-MAX_EVIDENCE:]
    return out


def merge_evidence(a: Mapping[str, Evidence], b: Mapping[str, Evidence]) -> dict[str, Evidence]:
    out = dict(a)
    for key, rows in b.items():
        out[key] = tuple(sorted({*out.get(key, ()), *rows}))[-MAX_EVIDENCE:]
    return out


def readings_key(kind: str, channel: str) -> str:
    """How readings are keyed: ``kind device/sensor/channel@zone`` (names hold no spaces)."""
    return f"{kind} {channel}"


def add_reading(readings: Mapping[str, Readings], key: str, ts: float,
                value: float) -> dict[str, Readings]:
    out = dict(readings)
    out[key] = tuple(sorted((*out.get(key, ()), (ts, value))))[-MAX_EVIDENCE:]
    return out


def merge_readings(a: Mapping[str, Readings], b: Mapping[str, Readings]) -> dict[str, Readings]:
    out = dict(a)
    for key, rows in b.items():
        out[key] = tuple(sorted({*out.get(key, ()), *rows}))[-MAX_EVIDENCE:]
    return out


def _speed(readings: Readings, since: float, lookback_s: float, direction: float) -> float:
    """Units per minute toward danger (``direction`` +1 rising, -1 falling) of the newest
    reading after ``since``, against each earlier one within ``lookback_s`` of it; the
    fastest. A change over less than a minute counts as taking a minute, so two readings
    a second apart need the whole change, not sixty times it."""
    run = [r for r in readings if r[0] > since]
    if len(run) < 2:
        return 0.0
    newest_ts, newest = run[-1]
    return max([(newest - value) * direction * 60.0 / max(newest_ts - ts, 60.0)
                for ts, value in run[:-1] if newest_ts - lookback_s <= ts < newest_ts],
               default=0.0)


def _fastest_move(incident: Incident, rule: RuleConfig) -> str | None:
    """Why the incident moves fast enough to rise a grade (``escalate_rate``), or None."""
    rates = dict(rule.escalate_rate)
    best: tuple[float, str] | None = None
    for key in sorted(incident.readings):  # sorted: the reason must not depend on arrival
        kind, _, channel = key.rpartition(" ")
        limit = rates.get(kind)
        rows = incident.evidence.get(channel, ())
        if not limit or not rows or rows[-1][2]:  # no rule, or the channel is back to normal
            continue
        since = max([ts for ts, _, cleared in rows if cleared], default=-math.inf)
        speed = _speed(incident.readings[key], since, rule.window_s or 0.0,
                       math.copysign(1.0, limit))
        if speed >= abs(limit) and (best is None or speed / abs(limit) > best[0]):
            best = (speed / abs(limit), f"{kind} {'rising' if limit > 0 else 'falling'} "
                    f"{speed:.3g}/min at {channel.partition('/')[0]} "
                    f"(escalate_rate {abs(limit):g}/min)")
    return None if best is None else best[1]


# (alarming peak, episodes) of evidence rows, by incident and channel, valid while the
# rows are the same object. An incident's evidence is immutable and one alert replaces
# one channel's rows, so assessing an incident of many channels re-reads only the
# channel that moved. One entry per channel: superseded rows are not kept alive.
_SUMMARIES: dict[tuple[int, str], tuple[Evidence, int, int]] = {}
_SUMMARIES_MAX = 20_000  # channels; past it, start again (incidents long gone drop out)


def _summary(rows: Evidence, incident_id: int, key: str) -> tuple[int, int]:
    """A channel's alarming peak -- its highest grade since it last cleared, 0 if its
    latest alert cleared it -- and its episodes: how many times it started alarming.

    A sensor repeating one alarm (a slow leak, a drift) is one episode, however sparse;
    one that alarms, clears and alarms again is toggling."""
    hit = _SUMMARIES.get((incident_id, key))
    if hit is not None and hit[0] is rows:
        return hit[1], hit[2]
    peak = episodes = 0
    alarming = False
    for _, grade, cleared in rows:
        if cleared:
            peak, alarming = 0, False
        else:
            peak = max(peak, grade)
            if not alarming:
                episodes += 1
            alarming = True
    if len(_SUMMARIES) >= _SUMMARIES_MAX:
        _SUMMARIES.clear()
    _SUMMARIES[incident_id, key] = (rows, peak, episodes)
    return peak, episodes


def assess(incident: Incident, rule: RuleConfig, flap_window_s: float) -> Assessment:
    """The grade and flags ``incident`` deserves under ``rule`` (``rule.window_s`` filled in)."""
    if incident.hazard == DEVICE_HAZARD:
        return Assessment(DEVICE_GRADE, ("device offline",), True, False, False)
    summaries = [_summary(rows, incident.id, key) for key, rows in incident.evidence.items()]
    peaks = [peak for peak, _ in summaries]
    if not incident.evidence:  # an incident stored before evidence was kept
        peaks = [int(incident.grade)]
    base = max([p for p in peaks if p] or [int(Grade.BLUE)])
    reasons = [f"highest alarming reading {Grade(base).label}" if any(peaks)
               else "every sensor back to normal"]
    episodes = max([count for _, count in summaries] or [0])
    recent_flips = [t for t in incident.transitions
                    if t >= incident.transitions[-1] - flap_window_s]
    flapping = incident.flapping or rule.flap_episodes > 1 and (
        episodes >= rule.flap_episodes or len(recent_flips) >= 2 * (rule.flap_episodes - 1))
    if incident.hazard == MAINTENANCE_HAZARD:
        return Assessment(Grade(base), tuple(reasons), True, flapping, False)
    bonus = 0
    n_devices = len(incident.devices)
    span = incident.last_ts - incident.first_ts
    corroborated = rule.corroborate_devices > 0 and n_devices >= rule.corroborate_devices
    if corroborated:
        bonus += 1
        reasons.append(f"corroborated by {n_devices} independent devices")
    if rule.signature and all(k in incident.kinds for k in rule.signature):
        bonus += 1
        reasons.append(f"signature {' + '.join(rule.signature)}")
    if rule.escalate_after_s and span >= rule.escalate_after_s:
        bonus += 1
        reasons.append(f"lasting {span / 60:.0f} min")
    if rule.escalate_rate and (moving := _fastest_move(incident, rule)):
        bonus += 1
        reasons.append(moving)
    if rule.growth_devices and n_devices >= rule.growth_devices:
        bonus += 1
        reasons.append(f"spread to {n_devices} devices")
    grade = Grade(min(int(Grade.RED), base + bonus))
    latched = incident.latched or (rule.latch_red and grade is Grade.RED)
    if latched and grade is not Grade.RED:
        grade = Grade.RED
        reasons.append("latched red until a person resolves it")
    confirmed = corroborated or (rule.confirm_after_s > 0 and span >= rule.confirm_after_s)
    return Assessment(grade, tuple(reasons), confirmed, flapping, latched)
