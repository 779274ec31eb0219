"""The recurrence cases of issue 12: one hazard, three times, on a channel that was normal before.

A water-pressure channel around 300 kPa (noise sd 1 kPa, quantised to 0.1 kPa) at 1 Hz or
20 Hz; after ``FIRST_AFTER_S`` (3 h) of normal readings comes a hazard, then the same hazard
again ``AGAIN_AFTER_S[0]`` (10 min) after the first ended, and again ``AGAIN_AFTER_S[1]`` (6 h)
after the second. At 20 Hz the quiet spans are shorter (``FAST_FIRST_AFTER_S``,
``FAST_AGAIN_AFTER_S``: 30 min, then 10 min and 30 min): the detectors' rates are per time on fast
channels, so the long spans are the 1 Hz cases' to check, and 30 min at 20 Hz are already 36,000
readings learned between two occurrences (9.5 h at 20 Hz made each case take 15-18 s). Pure
generation: callers replay the rows and say where alerts started.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

BASE = 300.0
NOISE = 1.0
START = 1_767_225_600.0  # 2026-01-01T00:00:00Z
FIRST_AFTER_S = 3 * 3600.0
AGAIN_AFTER_S = (600.0, 6 * 3600.0)
FAST_HZ = 20.0  # from this rate on, the quiet spans below
FAST_FIRST_AFTER_S = 1800.0
FAST_AGAIN_AFTER_S = (600.0, 1800.0)
TAIL_S = 600.0
LATE_S = 30.0  # an alert this long after the hazard ended still counts for it


def _collapse(t: float) -> float:  # a main bursts: -150 kPa in 3 s, for 2 min, back in 10 s
    if t < 3.0:
        return -150.0 * t / 3.0
    if t < 123.0:
        return -150.0
    return -150.0 * max(0.0, 1.0 - (t - 123.0) / 10.0)


def _surge(t: float) -> float:  # a pressure transient: +100 kPa for 3 s
    return 100.0 if 1.0 <= t < 4.0 else 100.0 * t if t < 1.0 else 100.0 * max(0.0, 5.0 - t)


def _step(t: float) -> float:  # a valve misset: +12 kPa for 5 min
    return 12.0


def _ramp(t: float) -> float:  # a slow loss: -25 kPa over 10 min, then back in 1 min
    return -25.0 * t / 600.0 if t < 600.0 else -25.0 * max(0.0, 1.0 - (t - 600.0) / 60.0)


# kind -> (offset from normal at t seconds into the hazard, hazard duration in s)
KINDS: dict[str, tuple[Callable[[float], float], float]] = {
    "collapse": (_collapse, 133.0),
    "surge": (_surge, 5.0),
    "step": (_step, 300.0),
    "ramp": (_ramp, 660.0),
}
RATES_HZ = (1.0, 20.0)


@dataclass(frozen=True)
class Case:
    kind: str
    rate_hz: float
    seed: int = 12

    @property
    def label(self) -> str:
        return f"{self.kind}@{self.rate_hz:g}Hz"

    @property
    def duration_s(self) -> float:
        return KINDS[self.kind][1]

    def occurrences(self) -> tuple[tuple[float, float], ...]:
        """(start, end) epoch seconds of the three hazards."""
        fast = self.rate_hz >= FAST_HZ
        again = FAST_AGAIN_AFTER_S if fast else AGAIN_AFTER_S
        first = START + (FAST_FIRST_AFTER_S if fast else FIRST_AFTER_S)
        second = first + self.duration_s + again[0]
        third = second + self.duration_s + again[1]
        return tuple((s, s + self.duration_s) for s in (first, second, third))

    def rows(self) -> Iterator[tuple[float, float]]:
        """(ts, calibrated value) in time order, from START to TAIL_S after the last hazard."""
        rng = random.Random(self.seed)
        shape = KINDS[self.kind][0]
        spans = self.occurrences()
        end = spans[-1][1] + TAIL_S
        step = 1.0 / self.rate_hz
        n = int((end - START) * self.rate_hz)
        k = 0
        for i in range(n):
            ts = START + i * step
            while k < len(spans) and ts >= spans[k][1]:
                k += 1
            offset = shape(ts - spans[k][0]) if k < len(spans) and ts >= spans[k][0] else 0.0
            value = BASE + offset + rng.gauss(0.0, NOISE)
            yield round(ts, 3), math.floor(value * 10.0 + 0.5) / 10.0


def detected(case: Case, onsets: Sequence[float]) -> tuple[bool, ...]:
    """For each occurrence: did an alert start between its start and LATE_S after its end?"""
    return tuple(any(s <= t <= e + LATE_S for t in onsets) for s, e in case.occurrences())


def false_onsets(case: Case, onsets: Sequence[float]) -> int:
    """Alert onsets outside every occurrence (and its LATE_S)."""
    spans = case.occurrences()
    return sum(not any(s <= t <= e + LATE_S for s, e in spans) for t in onsets)


CASES = tuple(Case(kind, rate) for kind in KINDS for rate in RATES_HZ)
