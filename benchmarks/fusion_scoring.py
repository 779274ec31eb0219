"""Scoring incidents against a city scenario's ground truth, and the baselines. Pure.

An incident is represented by the labels of the messages it holds (``Found``);
``score`` turns a run's incidents into the figures of ``bench_fusion.py``:

* **exactly one**: a true event whose alerts all landed in one incident;
* **mixed**: an incident holding messages of two different events;
* **precision**: incidents that are the (largest) incident of exactly one true event,
  over all incidents -- a false alarm's incident or a second incident for one event
  counts against it; also over the incidents the hub *confirmed*; **recall**: true
  events that got such an incident;
* **compression**: alerts per incident, overall and for storms (bursts, gas leaks);
* **latency**: wall time from an event's first published alert to its first incident,
  and reading time from an event's first alert to the one that confirmed its incident.

The baselines group the same messages without the hub: one incident per alert, and
issue 2's naive grouping (one per zone and hazard, runs of alerts ``window_s`` apart).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from benchmarks.city_scenario import Scenario
from lifeline import wire

__all__ = ["Found", "Score", "baseline_naive", "baseline_per_alert", "combine", "score"]

NAIVE_WINDOW_S = 300.0  # the naive grouping's window: the hub's fusion.window_s


@dataclass(frozen=True)
class Found:
    """One incident as the evaluation sees it: which labelled messages it holds."""

    id: str
    hazard: str
    labels: Counter[str]              # event label -> alerts (or device statuses) it holds
    confirmed: bool = False
    opened_at: float | None = None    # wall time (hub clock)
    confirmed_ts: float | None = None  # reading time of the alert that confirmed it
    grade: str = ""
    flapping: bool = False

    @property
    def size(self) -> int:
        return sum(self.labels.values())


@dataclass
class Score:
    true_events: int
    false_events: int
    exactly_one: int
    detected: int
    incidents: int
    mixed: int
    true_positive: int
    confirmed: int
    confirmed_true: int
    storm_alerts: int
    storm_incidents: int
    worst_storm: float
    alerts: int
    latency_s: list[float]
    to_confirm_s: dict[str, list[float]]
    per_kind: dict[str, tuple[int, int, int, int]]  # events, exactly one, alerts, incidents
    graded: dict[str, Counter[str]]  # kind -> events, confirmed, flapping, "grade <g>" of its incident
    split: list[str]                                 # labels of true events not in one incident
    mixed_ids: list[str]

    @property
    def exactly_one_share(self) -> float:
        return self.exactly_one / self.true_events if self.true_events else 1.0

    @property
    def precision(self) -> float:
        return self.true_positive / self.incidents if self.incidents else 1.0

    @property
    def confirmed_precision(self) -> float:
        return self.confirmed_true / self.confirmed if self.confirmed else 1.0

    @property
    def recall(self) -> float:
        return self.detected / self.true_events if self.true_events else 1.0

    @property
    def storm_compression(self) -> float:
        return self.storm_alerts / self.storm_incidents if self.storm_incidents else 0.0

    @property
    def compression(self) -> float:
        return self.alerts / self.incidents if self.incidents else 0.0

    def meets_targets(self) -> bool:
        return (self.exactly_one_share >= 0.95 and self.mixed == 0
                and self.storm_compression >= 20 and self.worst_storm >= 20)


def score(scenario: Scenario, incidents: Sequence[Found],
          first_publish: dict[str, float] | None = None) -> Score:
    """Score ``incidents`` against the scenario's ground truth."""
    alerts_of = Counter(m.label for m in scenario.messages if m.alert is not None)
    first_ts: dict[str, float] = {}
    for m in scenario.messages:
        if m.alert is not None:
            first_ts[m.label] = min(m.ts, first_ts.get(m.label, m.ts))
    holders: dict[str, list[Found]] = defaultdict(list)
    for incident in incidents:
        for label in incident.labels:
            holders[label].append(incident)
    true_events = [e for e in scenario.events if e.true and alerts_of[e.label]]
    owner: dict[str, str] = {}  # incident id -> the true event it is the (largest) incident of
    for e in true_events:
        pure = [i for i in holders[e.label] if set(i.labels) == {e.label}]
        if pure:
            owner[max(pure, key=lambda i: (i.labels[e.label], i.id)).id] = e.label
    latency, to_confirm = [], defaultdict(list)
    per_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    split, storm_alerts, storm_incidents, worst = [], 0, 0, float("inf")
    for e in true_events:
        mine = holders[e.label]
        row = per_kind[e.kind]
        row[0] += 1
        row[1] += len(mine) == 1
        row[2] += alerts_of[e.label]
        row[3] += len(mine)
        if len(mine) != 1:
            split.append(f"{e.label} in {len(mine)} incidents")
        if e.storm and mine:
            storm_alerts += alerts_of[e.label]
            storm_incidents += len(mine)
            worst = min(worst, alerts_of[e.label] / len(mine))
        opened = [i.opened_at for i in mine if i.opened_at is not None]
        if first_publish and opened and e.label in first_publish:
            latency.append(max(0.0, min(opened) - first_publish[e.label]))
        confirmed = [i.confirmed_ts for i in mine if i.confirmed_ts is not None]
        if confirmed:
            to_confirm[e.kind].append(max(0.0, min(confirmed) - first_ts[e.label]))
    graded: dict[str, Counter[str]] = defaultdict(Counter)
    for e in scenario.events:  # false alarms too: were they confirmed?
        if not holders[e.label]:
            continue
        main = max(holders[e.label], key=lambda i: (i.labels[e.label], i.id))
        graded[e.kind].update({"events": 1, "confirmed": int(main.confirmed),
                               "flapping": int(main.flapping), f"grade {main.grade}": 1})
    mixed = [i for i in incidents if len(i.labels) > 1]
    confirmed_incidents = [i for i in incidents if i.confirmed]
    return Score(
        true_events=len(true_events),
        false_events=sum(1 for e in scenario.events if not e.true and alerts_of[e.label]),
        exactly_one=sum(len(holders[e.label]) == 1 for e in true_events),
        detected=len(set(owner.values())), incidents=len(incidents), mixed=len(mixed),
        true_positive=len(owner), confirmed=len(confirmed_incidents),
        confirmed_true=sum(i.id in owner for i in confirmed_incidents),
        storm_alerts=storm_alerts, storm_incidents=storm_incidents,
        worst_storm=worst if storm_incidents else 0.0,
        alerts=sum(alerts_of.values()), latency_s=latency, to_confirm_s=dict(to_confirm),
        per_kind={k: (v[0], v[1], v[2], v[3]) for k, v in per_kind.items()},
        graded=dict(graded), split=split, mixed_ids=[f"{i.id}: {dict(i.labels)}" for i in mixed])


# -- baselines (on the scenario's messages, no hub) -----------------------------------
def _hazard(alert: wire.Alert) -> str:
    return "maintenance" if alert.reason is wire.Reason.SENSOR_FAULT else alert.family


def baseline_per_alert(scenario: Scenario) -> list[Found]:
    """One incident per alert, and one per offline status."""
    found = []
    for n, m in enumerate(scenario.messages):
        if m.alert is not None:
            found.append(Found(f"A{n}", _hazard(m.alert), Counter({m.label: 1})))
        elif m.status is not None and m.status.state == "offline":
            found.append(Found(f"A{n}", "device", Counter({m.label: 1})))
    return found


def baseline_naive(scenario: Scenario, window_s: float = NAIVE_WINDOW_S) -> list[Found]:
    """Issue 2's grouping: per (zone, hazard), runs of alerts at most ``window_s`` apart
    (by reading time); one device incident per offline status."""
    runs: dict[tuple[str, str], list[tuple[float, Counter[str]]]] = {}
    found = []
    for n, m in enumerate(sorted(scenario.messages, key=lambda m: m.ts)):
        if m.status is not None and m.status.state == "offline":
            found.append(Found(f"N{n}", "device", Counter({m.label: 1})))
        if m.alert is None:
            continue
        key = (m.alert.zone, _hazard(m.alert))
        chain = runs.setdefault(key, [])
        if chain and m.ts - chain[-1][0] <= window_s:
            chain[-1] = (m.ts, chain[-1][1])
        else:
            chain.append((m.ts, Counter()))
        chain[-1][1][m.label] += 1
    for (zone, hazard), chain in sorted(runs.items()):
        found += [Found(f"N-{zone}-{hazard}-{k}", hazard, labels)
                  for k, (_, labels) in enumerate(chain)]
    return found


def combine(scores: Sequence[Score]) -> Score:
    """Sum the counts of several runs (seeds) into one score."""
    per_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    to_confirm: dict[str, list[float]] = defaultdict(list)
    graded: dict[str, Counter[str]] = defaultdict(Counter)
    for s in scores:
        for kind, counts in s.graded.items():
            graded[kind].update(counts)
        for kind, row in s.per_kind.items():
            per_kind[kind] = [a + b for a, b in zip(per_kind[kind], row, strict=True)]
        for kind, values in s.to_confirm_s.items():
            to_confirm[kind] += values
    storms = [s.worst_storm for s in scores if s.storm_incidents]
    return Score(
        true_events=sum(s.true_events for s in scores),
        false_events=sum(s.false_events for s in scores),
        exactly_one=sum(s.exactly_one for s in scores), detected=sum(s.detected for s in scores),
        incidents=sum(s.incidents for s in scores), mixed=sum(s.mixed for s in scores),
        true_positive=sum(s.true_positive for s in scores),
        confirmed=sum(s.confirmed for s in scores),
        confirmed_true=sum(s.confirmed_true for s in scores),
        storm_alerts=sum(s.storm_alerts for s in scores),
        storm_incidents=sum(s.storm_incidents for s in scores),
        worst_storm=min(storms) if storms else 0.0, alerts=sum(s.alerts for s in scores),
        latency_s=[v for s in scores for v in s.latency_s], to_confirm_s=dict(to_confirm),
        per_kind={k: (v[0], v[1], v[2], v[3]) for k, v in per_kind.items()},
        graded=dict(graded), split=[x for s in scores for x in s.split],
        mixed_ids=[x for s in scores for x in s.mixed_ids])

