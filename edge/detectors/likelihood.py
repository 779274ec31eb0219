"""Anomaly likelihood (Ahmad et al. 2017): any detector's raw score turned into a tail probability.

A raw score is noisy and its usual level differs from channel to channel: a noisy pump reads
0.3 all day, a quiet tank 0.01. What matters is whether the *recent* raw score (a moving
average over ``short`` readings) is unusual for *this* channel. The long-run mean and variance
of that average (exponentially weighted) give a Gaussian tail probability ``q``; the score is
``log(q) / log(1e-10)`` clipped to [0, 1], so 0.5 means a one-in-1e5 recent surprise and 0.9 a
one-in-1e9 one.

``score`` judges the reading's raw score (the inner detector's ``score``) averaged with the
last ``short - 1`` learned raw scores; ``learn`` teaches the inner detector and the running
statistics. The pipeline learns only readings taken while the channel is not alarming.
``excursion`` and ``refractory`` (the muting that tuned NAB) are accepted for existing
configurations and unused.

Any registered detector can be wrapped (``inner``, ``inner_params``).
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any

from edge.detectors.base import Detector, all_finite

_SQRT1_2 = 1.0 / math.sqrt(2.0)
_FLOOR = 1e-10
_LOG_FLOOR = math.log(_FLOOR)


class AnomalyLikelihood(Detector):
    """Tail probability of the recent average of an inner detector's raw score.

    Parameters
    ----------
    inner, inner_params
        Registry name and parameters of the detector whose raw score is judged.
    short
        Readings in the moving average of the raw score.
    long
        Smoothing factor of the long-run mean and variance of that average.
    stdev_floor
        Smallest standard deviation used, so a perfectly quiet history does not alarm on noise.
    warmup
        Readings to learn from before scoring (counted after the inner detector is warm).
    excursion, refractory
        Accepted for existing configurations; unused.
    alert_threshold
        The score at and above which to alert; the shipped default.

    Examples
    --------
    >>> d = AnomalyLikelihood(warmup=100)
    >>> quiet = [d.update(10.0 + (i % 7) * 0.1, float(i)) for i in range(400)]
    >>> max(quiet) < d.alert_threshold
    True
    >>> max(d.update(40.0, float(400 + i)) for i in range(5)) >= d.alert_threshold
    True
    """

    name = "likelihood"

    def __init__(self, inner: str = "robust_z", inner_params: dict[str, Any] | None = None,
                 short: int = 10, long: float = 0.002, stdev_floor: float = 0.01, warmup: int = 150,
                 excursion: int = 1, refractory: int = 60, alert_threshold: float = 0.9) -> None:
        from edge.detectors import make_detector  # the registry imports this module lazily

        if inner == self.name:
            raise ValueError("the likelihood detector cannot wrap itself")
        self.inner = inner
        self.inner_params = dict(inner_params or {})
        self.short = short
        self.long = long
        self.stdev_floor = stdev_floor
        self.warmup = warmup
        self.excursion = excursion
        self.refractory = refractory
        self.alert_threshold = alert_threshold
        self._inner = make_detector(inner, self.inner_params)
        self._n = 0
        self._recent: deque[float] = deque()
        self._sum = 0.0
        self._mean = 0.0
        self._var = 0.0

    @property
    def warm(self) -> bool:
        return self._n >= self.warmup

    def _average(self, raw: float) -> float:
        """The mean of ``raw`` and the last ``short - 1`` learned raw scores."""
        recent = self._recent
        kept = min(len(recent), self.short - 1)
        total = raw + (sum(list(recent)[len(recent) - kept:]) if kept else 0.0)
        return total / (kept + 1)

    def score(self, value: float, ts: float) -> float:
        if not self._inner.warm or self._n < self.warmup:
            return 0.0
        if not all_finite(value):
            return 1.0
        average = self._average(self._inner.score(value, ts))
        std = math.sqrt(self._var)
        tail = 0.5 * math.erfc((average - self._mean) / max(std, self.stdev_floor) * _SQRT1_2)
        return min(math.log(tail + _FLOOR) / _LOG_FLOOR, 1.0) if tail < 0.5 else 0.0

    def learn(self, value: float, ts: float) -> None:
        if not all_finite(value):
            return
        raw = self._inner.score(value, ts) if self._inner.warm else None
        self._inner.learn(value, ts)
        if raw is None:
            return
        average = self._average(raw)
        d = average - self._mean
        mean = self._mean + self.long * d
        var = (1.0 - self.long) * (self._var + self.long * d * d)
        if not all_finite(average, mean, var):
            return
        self._recent.append(raw)
        self._sum += raw
        if len(self._recent) > self.short:
            self._sum -= self._recent.popleft()
        self._n += 1
        self._mean = mean
        self._var = var

    def params(self) -> dict[str, Any]:
        return {"inner": self.inner, "inner_params": dict(self.inner_params), "short": self.short,
                "long": self.long, "stdev_floor": self.stdev_floor, "warmup": self.warmup,
                "excursion": self.excursion, "refractory": self.refractory,
                "alert_threshold": self.alert_threshold}

    def state(self) -> dict[str, Any]:
        return {"inner": self._inner.state(), "n": self._n, "recent": list(self._recent),
                "sum": self._sum, "mean": self._mean, "var": self._var}

    def restore(self, state: dict[str, Any]) -> None:
        self._inner.restore(state["inner"])
        self._n = int(state["n"])
        self._recent = deque(float(v) for v in state["recent"])
        self._sum = float(state["sum"])  # the running sum, not a fresh one: same rounding
        self._mean = float(state["mean"])
        self._var = float(state["var"])
