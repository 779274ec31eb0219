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

An incident's channels enter the grade only through a ``Tally`` (highest alarming
peak, most episodes, fastest move). ``tally`` computes it from every channel;
fusion keeps one per incident up to date channel by channel (``hub.core.running``), so
grading an alert costs the same in an incident of ten channels or of ten thousand.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from hub.config import RuleConfig
from hub.core.incident import (
    DEVICE_GRADE,
    DEVICE_HAZARD,
    MAINTENANCE_HAZARD,
    Evidence,
    Incident,
    Readings,
)
from lifeline.grades import Grade

__all__ = ["MAX_EVIDENCE", "Assessment", "Tally", "add_evidence", "add_reading", "add_row",
           "add_value", "assess", "channel_move", "channel_summary", "merge_evidence", "merge_readings",
           "merge_rows", "merge_values", "next_summary", "readings_key", "tally"]

MAX_EVIDENCE = 200  # readings kept per channel (the newest); bounds the rule state


@dataclass(frozen=True, slots=True)
class Assessment:
    grade: Grade
    reasons: tuple[str, ...]
    confirmed: bool
    flapping: bool
    latched: bool


def add_row(rows: Evidence, ts: float, grade: int, cleared: bool) -> Evidence:
    """One channel's rows with one more (sorted, the newest MAX_EVIDENCE)."""
    row = (ts, int(grade), cleared)
    if not rows or row >= rows[-1]:  # in order, the usual case: no sort
        return (*rows[len(rows) + 1 - MAX_EVIDENCE:], row)
    return tuple(sorted((*rows, row)))[-MAX_EVIDENCE:]


def merge_rows(a: Evidence, b: Evidence) -> Evidence:
    """Two copies of one channel's rows as one (sorted, no repeats, the newest MAX_EVIDENCE)."""
    return tuple(sorted({*a, *b}))[-MAX_EVIDENCE:]


def add_evidence(evidence: Mapping[str, Evidence], key: str, ts: float, grade: Grade,
                 cleared: bool) -> dict[str, Evidence]:
    out = dict(evidence)
    out[key] = add_row(out.get(key, ()), ts, int(grade), cleared)
    return out


def merge_evidence(a: Mapping[str, Evidence], b: Mapping[str, Evidence]) -> dict[str, Evidence]:
    out = dict(a)
    for key, rows in b.items():
        out[key] = merge_rows(out.get(key, ()), rows)
    return out


def readings_key(kind: str, channel: str) -> str:
    """How readings are keyed: ``kind device/sensor/channel@zone`` (names hold no spaces)."""
    return f"{kind} {channel}"


def add_value(rows: Readings, ts: float, value: float) -> Readings:
    """One channel's readings with one more (sorted, the newest MAX_EVIDENCE)."""
    if not rows or (ts, value) >= rows[-1]:
        return (*rows[len(rows) + 1 - MAX_EVIDENCE:], (ts, value))
    return tuple(sorted((*rows, (ts, value))))[-MAX_EVIDENCE:]


def add_reading(readings: Mapping[str, Readings], key: str, ts: float,
                value: float) -> dict[str, Readings]:
    out = dict(readings)
    out[key] = add_value(out.get(key, ()), ts, value)
    return out


def merge_values(a: Readings, b: Readings) -> Readings:
    """Two copies of one channel's readings as one (sorted, no repeats, the newest MAX_EVIDENCE)."""
    return tuple(sorted({*a, *b}))[-MAX_EVIDENCE:]


def merge_readings(a: Mapping[str, Readings], b: Mapping[str, Readings]) -> dict[str, Readings]:
    out = dict(a)
    for key, rows in b.items():
        out[key] = merge_values(out.get(key, ()), rows)
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


def channel_move(key: str, readings: Readings, rows: Evidence, rule: RuleConfig
                 ) -> tuple[float, str] | None:
    """How fast one channel's readings (``key``: ``kind device/sensor/channel@zone``) move
    toward danger, as (speed / ``escalate_rate``, reason), when at least that rate; None when
    its kind has no rate rule, it is back to normal (``rows``: its evidence) or it is slower."""
    kind, _, channel = key.rpartition(" ")
    limit = dict(rule.escalate_rate).get(kind)
    if not limit or not rows or rows[-1][2]:  # no rule, or the channel is back to normal
        return None
    since = max([ts for ts, _, cleared in rows if cleared], default=-math.inf)
    speed = _speed(readings, since, rule.window_s or 0.0, math.copysign(1.0, limit))
    if speed < abs(limit):
        return None
    return speed / abs(limit), (f"{kind} {'rising' if limit > 0 else 'falling'} "
                                f"{speed:.3g}/min at {channel.partition('/')[0]} "
                                f"(escalate_rate {abs(limit):g}/min)")


def _fastest_move(incident: Incident, rule: RuleConfig) -> str | None:
    """Why the incident moves fast enough to rise a grade (``escalate_rate``), or None: the
    fastest channel relative to its rate, the first by key among equals."""
    best: tuple[float, str] | None = None
    for key in sorted(incident.readings):  # sorted: the reason must not depend on arrival
        move = channel_move(key, incident.readings[key],
                            incident.evidence.get(key.rpartition(" ")[2], ()), rule)
        if move is not None and (best is None or move[0] > best[0]):
            best = move
    return None if best is None else best[1]


def channel_summary(rows: Evidence) -> tuple[int, int, bool]:
    """A channel's alarming peak -- its highest grade since it last cleared, 0 if its
    latest alert cleared it --, its episodes: how many times it started alarming, and
    whether it is alarming now.

    A sensor repeating one alarm (a slow leak, a drift) is one episode, however sparse;
    one that alarms, clears and alarms again is toggling."""
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
    return peak, episodes, alarming


def next_summary(summary: tuple[int, int, bool], grade: int, cleared: bool
                 ) -> tuple[int, int, bool]:
    """``channel_summary`` of a channel's rows after one more row at their end."""
    peak, episodes, alarming = summary
    if cleared:
        return 0, episodes, False
    return max(peak, grade), episodes + (0 if alarming else 1), True


@dataclass(frozen=True, slots=True)
class Tally:
    """What grading needs from an incident's channels: the highest alarming peak (0 when
    every channel is back to normal), the most episodes of one channel, and the fastest
    move (``escalate_rate``; None without one). Fusion keeps it up to date channel by
    channel (``hub.core.running``); ``tally`` recomputes it from every channel."""

    peak: int
    episodes: int
    move: str | None


def tally(incident: Incident, rule: RuleConfig) -> Tally:
    """The ``Tally`` of ``incident`` from all its channels (the reference for ``hub.core.running``)."""
    summaries = [channel_summary(rows) for rows in incident.evidence.values()]
    return Tally(peak=max([peak for peak, _, _ in summaries], default=0),
                 episodes=max([count for _, count, _ in summaries], default=0),
                 move=_fastest_move(incident, rule) if rule.escalate_rate else None)


def assess(incident: Incident, rule: RuleConfig, flap_window_s: float,
           summary: Tally | None = None) -> Assessment:
    """The grade and flags ``incident`` deserves under ``rule`` (``rule.window_s`` filled in).

    ``summary`` is the incident's ``Tally`` when the caller keeps one; without it every
    channel is read (the cost then grows with the incident)."""
    if incident.hazard == DEVICE_HAZARD:
        return Assessment(DEVICE_GRADE, ("device offline",), True, False, False)
    summary = summary if summary is not None else tally(incident, rule)
    # an incident stored before evidence was kept: its stored grade
    peak = summary.peak if incident.evidence else int(incident.grade)
    base = peak or int(Grade.BLUE)
    reasons = [f"highest alarming reading {Grade(base).label}" if peak
               else "every sensor back to normal"]
    recent_flips = [t for t in incident.transitions
                    if t >= incident.transitions[-1] - flap_window_s]
    flapping = incident.flapping or rule.flap_episodes > 1 and (
        summary.episodes >= rule.flap_episodes
        or len(recent_flips) >= 2 * (rule.flap_episodes - 1))
    if incident.hazard == MAINTENANCE_HAZARD:
        return Assessment(Grade(base), tuple(reasons), True, flapping, False)
    bonus = 0
    n_devices = incident.n_devices
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
    if rule.escalate_rate and summary.move:
        bonus += 1
        reasons.append(summary.move)
    if rule.growth_devices and n_devices >= rule.growth_devices:
        bonus += 1
        reasons.append(f"spread to {n_devices} devices")
    grade = Grade(min(int(Grade.RED), base + bonus))
    latched = incident.latched or (rule.latch_red and grade is Grade.RED)
    if latched and grade is not Grade.RED:
        grade = Grade.RED
        reasons.append("latched red until a person resolves it")
    confirmed = corroborated or (rule.confirm_after_s > 0 and span >= rule.confirm_after_s)
    if incident.citizen_reports and incident.evidence and peak:  # a person and a sensor
        confirmed = True
        reasons.append(f"reported by {incident.citizen_reports} citizen(s) and seen by sensors")
    return Assessment(grade, tuple(reasons), confirmed, flapping, latched)
