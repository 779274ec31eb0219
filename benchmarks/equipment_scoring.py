"""Scoring of alarm sequences against labelled fault intervals: point-wise, per event, false episodes.

Point-wise (as public pump benchmarks score): every row after the learning period is a
prediction (alarm up or down) against its label (fault on or off): F1, false-alarm rate
FP / (FP + TN), missed-alarm rate FN / (FN + TP).
Per event: an event is detected when the alarm is up on any of its rows; its delay is from its
first row to the first row the alarm is up (0 when the alarm was already up).
False episodes: maximal runs of alarm rows that touch no event (nor the ``grace`` rows after it,
where an alarm is still clearing), per day of normal running (rows outside events and graces).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

LEARNING_ROWS = 400
GRACE_ROWS = 600  # 10 min at 1 Hz after an event's end: a clearing alarm is not a new false one


@dataclass
class Tally:
    """Counts summed over runs."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0
    events: int = 0
    detected: int = 0
    delays: list[float] = field(default_factory=list)  # seconds, detected events
    abrupt_delays: list[float] = field(default_factory=list)
    recurrences: int = 0
    recurrences_detected: int = 0
    false_episodes: int = 0
    normal_days: float = 0.0

    def add(self, other: Tally) -> None:
        for name in ("tp", "fp", "fn", "tn", "events", "detected", "recurrences",
                     "recurrences_detected", "false_episodes"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.normal_days += other.normal_days
        self.delays += other.delays
        self.abrupt_delays += other.abrupt_delays

    @property
    def f1(self) -> float:
        return 2 * self.tp / max(2 * self.tp + self.fp + self.fn, 1)

    @property
    def far(self) -> float:
        return self.fp / max(self.fp + self.tn, 1)

    @property
    def mar(self) -> float:
        return self.fn / max(self.fn + self.tp, 1)

    @property
    def recall(self) -> float:
        return self.detected / max(self.events, 1)

    @property
    def episodes_per_day(self) -> float:
        return self.false_episodes / self.normal_days if self.normal_days > 0 else 0.0

    @staticmethod
    def median(values: Sequence[float]) -> float | None:
        return statistics.median(values) if values else None


def episodes(alarm: np.ndarray) -> list[tuple[int, int]]:
    """``[start, end)`` of every run of nonzero rows."""
    padded = np.concatenate([[0], (alarm != 0).astype(np.int8), [0]])
    edges = np.flatnonzero(np.diff(padded))
    return list(zip(edges[0::2].tolist(), edges[1::2].tolist(), strict=True))


def score_run(labels: np.ndarray, alarm: np.ndarray, events: Iterable[tuple[int, int, str]],
              abrupt: bool, step_s: float = 1.0, skip: int = LEARNING_ROWS,
              grace: int = GRACE_ROWS) -> Tally:
    """Score one run's alarm (0/1 per row) against its labels and events ``(start, end, occurrence)``."""
    y, p = labels[skip:].astype(bool), alarm[skip:].astype(bool)
    t = Tally(tp=int(np.sum(y & p)), fp=int(np.sum(~y & p)), fn=int(np.sum(y & ~p)),
              tn=int(np.sum(~y & ~p)))
    covered = np.zeros(len(labels), dtype=bool)
    for start, end, occurrence in events:
        covered[start:end + grace] = True
        t.events += 1
        hits = np.flatnonzero(alarm[start:end])
        if occurrence != "first":
            t.recurrences += 1
        if len(hits):
            t.detected += 1
            t.recurrences_detected += occurrence != "first"
            delay = float(hits[0]) * step_s
            t.delays.append(delay)
            if abrupt:
                t.abrupt_delays.append(delay)
    for start, end in episodes(alarm):
        if end > skip and not covered[max(start, skip):end].any():
            t.false_episodes += 1
    t.normal_days = float(np.sum(~covered[skip:])) * step_s / 86_400.0
    return t


def best_threshold(pairs: Sequence[tuple[np.ndarray, np.ndarray]], max_far: float = 0.05,
                   skip: int = LEARNING_ROWS) -> float:
    """The score threshold with the best point-wise F1 at a false-alarm rate <= ``max_far`` over
    ``pairs`` of (labels, scores): how a baseline without a shipped threshold is given its best."""
    y = np.concatenate([lab[skip:] for lab, _ in pairs]).astype(bool)
    s = np.concatenate([sc[skip:] for _, sc in pairs])
    best, best_f1 = 1.0, -1.0
    for thr in np.unique(np.quantile(s, np.linspace(0.5, 0.9999, 400))):
        p = s >= thr
        tp, fp = int(np.sum(y & p)), int(np.sum(~y & p))
        fn, tn = int(np.sum(y & ~p)), int(np.sum(~y & ~p))
        if fp / max(fp + tn, 1) > max_far:
            continue
        f1 = 2 * tp / max(2 * tp + fp + fn, 1)
        if f1 > best_f1:
            best, best_f1 = float(thr), f1
    return best
