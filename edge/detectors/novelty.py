"""Range novelty: a reading beyond everything seen lately is the anomaly an operator cares about.

Most labelled NAB anomalies, and most failures of a pipe or a gas line, first show as a value
the channel has not reached before: a burst drops pressure below any past trough, a leak lifts
methane above any past peak. The detector keeps the range the channel has covered, lets it
shrink slowly (``decay`` per reading, towards its centre) so an old excursion does not blind it
forever, and scores how far a reading goes beyond it, as a fraction of the range, through a
steep logistic centred at ``tolerance``.

After a crossing of ``alert_threshold`` the crossing score is held for ``hold`` readings (set it
to the decider's ``min_readings``, default 1, so the decider sees them in a row), then muted for
``refractory`` readings: one event gives one alert, not a storm of them while the level settles.
"""

from __future__ import annotations

import math
from typing import Any

from edge.detectors.base import Detector


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
    hold
        Readings (the crossing one included) that keep at least the crossing score.
    refractory
        Readings muted after the hold.
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
        self._mute = 0  # readings left in hold + refractory after a crossing
        self._held = 0.0  # the crossing score, repeated during the hold

    @property
    def warm(self) -> bool:
        return self._n >= self.warmup

    def update(self, value: float, ts: float) -> float:
        n = self._n
        self._n = n + 1
        lo = self._lo
        hi = self._hi
        if n == 0:
            self._lo = self._hi = value
            return 0.0
        score = 0.0
        span = hi - lo
        if n >= self.warmup and span > 0.0:
            excess = (value - hi if value > hi else lo - value) / span
            if excess > 0.0:
                x = self.steepness * (excess - self.tolerance)
                score = 1.0 / (1.0 + math.exp(-x)) if x > -700.0 else 0.0
            mute = self._mute
            if mute > 0:
                self._mute = mute - 1
                if mute <= self.refractory:
                    score = 0.0
                elif score < self._held:
                    score = self._held
            elif score >= self.alert_threshold:
                self._mute = self.hold - 1 + self.refractory
                self._held = score
        if value > hi:
            hi = value
        elif value < lo:
            lo = value
        shrink = (hi - lo) * 0.5 * self.decay
        self._lo = lo + shrink
        self._hi = hi - shrink
        return score

    def params(self) -> dict[str, Any]:
        return {"tolerance": self.tolerance, "steepness": self.steepness, "decay": self.decay,
                "warmup": self.warmup, "hold": self.hold, "refractory": self.refractory,
                "alert_threshold": self.alert_threshold}

    def state(self) -> dict[str, Any]:
        return {"n": self._n, "lo": self._lo, "hi": self._hi, "mute": self._mute, "held": self._held}

    def restore(self, state: dict[str, Any]) -> None:
        self._n = int(state["n"])
        self._lo = float(state["lo"])
        self._hi = float(state["hi"])
        self._mute = int(state["mute"])
        self._held = float(state["held"])
