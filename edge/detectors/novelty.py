"""Range novelty: a reading beyond everything seen lately is the anomaly an operator cares about.

Most labelled NAB anomalies, and most failures of a pipe or a gas line, first show as a value
the channel has not reached before: a burst drops pressure below any past trough, a leak lifts
methane above any past peak. The detector keeps the range the channel has covered, lets it
shrink slowly (``decay`` per reading, towards its centre) so an old excursion does not blind it
forever, and scores how far a reading goes beyond it, as a fraction of the range, through a
steep logistic centred at ``tolerance``.

``score`` reads the range; ``learn`` widens it. The pipeline keeps alarming readings out of
learning, so a burst does not widen the range and scores as high when it comes again. ``hold``
and ``refractory`` (which muted the score after a crossing, to tune NAB) are accepted for
existing configurations and unused: an alarm's lifetime is the decider's (edge/decide.py).
"""

from __future__ import annotations

import math
from typing import Any

from edge.detectors.base import Detector, all_finite


class RangeNovelty(Detector):
    """Score readings beyond the slowly forgetting range of past readings.

    Parameters
    ----------
    tolerance
        Excess over the range, as a fraction of the range, that scores 0.5.
    steepness
        Slope of the logistic around ``tolerance`` (per unit of range fraction).
    decay
        Per-reading fraction by which the range shrinks towards its centre.
    warmup
        Readings to learn the range from before scoring.
    hold, refractory
        Accepted for existing configurations; unused.
    alert_threshold
        The score at and above which to alert; the shipped default.

    Examples
    --------
    >>> d = RangeNovelty(warmup=20)
    >>> max(d.update(float(i % 4), float(i)) for i in range(24)) < d.alert_threshold
    True
    >>> d.update(4.5, 24.0) > 0.99
    True
    """

    name = "range_novelty"
    suspect_score = 1e-12  # any reading beyond a learned range

    def __init__(self, tolerance: float = 0.0, steepness: float = 50.0, decay: float = 1e-4,
                 warmup: int = 150, hold: int = 1, refractory: int = 150,
                 alert_threshold: float = 0.9) -> None:
        self.tolerance = tolerance
        self.steepness = steepness
        self.decay = decay
        self.warmup = warmup
        self.hold = hold
        self.refractory = refractory
        self.alert_threshold = alert_threshold
        self._n = 0
        self._lo = 0.0
        self._hi = 0.0

    @property
    def warm(self) -> bool:
        return self._n >= self.warmup

    def score(self, value: float, ts: float) -> float:
        n = self._n
        span = self._hi - self._lo
        if n < self.warmup or n == 0 or span <= 0.0:
            return 0.0
        if not all_finite(value):
            return 1.0
        excess = (value - self._hi if value > self._hi else self._lo - value) / span
        if not excess > 0.0:
            return 0.0
        x = self.steepness * (excess - self.tolerance)
        return 1.0 / (1.0 + math.exp(-x)) if x > -700.0 else 0.0

    def learn(self, value: float, ts: float) -> None:
        if not all_finite(value):
            return
        if self._n == 0:
            self._lo = self._hi = value
            self._n = 1
            return
        lo, hi = self._lo, self._hi
        if value > hi:
            hi = value
        elif value < lo:
            lo = value
        shrink = (hi - lo) * 0.5 * self.decay
        if not all_finite(lo + shrink, hi - shrink, hi - lo):
            return
        self._n += 1
        self._lo = lo + shrink
        self._hi = hi - shrink

    def params(self) -> dict[str, Any]:
        return {"tolerance": self.tolerance, "steepness": self.steepness, "decay": self.decay,
                "warmup": self.warmup, "hold": self.hold, "refractory": self.refractory,
                "alert_threshold": self.alert_threshold}

    def state(self) -> dict[str, Any]:
        return {"n": self._n, "lo": self._lo, "hi": self._hi}

    def restore(self, state: dict[str, Any]) -> None:
        lo, hi = float(state["lo"]), float(state["hi"])
        if not all_finite(lo, hi):
            raise ValueError("checkpoint holds a non-finite value")
        self._n = int(state["n"])
        self._lo = lo
        self._hi = hi
