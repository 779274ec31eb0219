"""Prediction error turned into an anomaly likelihood, plus novelty of range: the default detector.

Three cheap ideas from the best NAB detectors, fused in one pass of plain float arithmetic:

* **Raw surprise**: the distance of the reading from an exponentially weighted mean, in units
  of the exponentially weighted mean absolute deviation, squashed into [0, 1).
* **Anomaly likelihood** (Ahmad et al. 2017): a raw score is noisy and its level differs
  from series to series; what matters is whether the *recent* surprise (a short average) is
  unusual for *this* series. The long-run mean and spread of that short average give a
  Gaussian tail probability; the score is its log, scaled so that a tail of 1e-10 is 1.
* **Range novelty** (as in Numenta's detector): a reading beyond the range seen so far, by more
  than ``range_tolerance`` of that range, is anomalous whatever the model expects.

After the score crosses ``alert_threshold`` it is held for ``hold`` readings, then muted for
``refractory`` readings: one event gives one alert, and the baselines do not learn from
readings they flagged.
"""

from __future__ import annotations

import math
from typing import Any

from edge.detectors.base import Detector

_SQRT1_2 = 1.0 / math.sqrt(2.0)
_LOG_FLOOR = 1e-10
_LOG_SCALE = 1.0 / math.log(_LOG_FLOOR)


class Likelihood(Detector):
    """Anomaly likelihood of an EWMA prediction error, with range novelty.

    Parameters
    ----------
    alpha
        Smoothing of the expected value and its mean absolute deviation.
    short
        Smoothing of the recent surprise (about 2/short readings of memory).
    long
        Smoothing of the long-run mean and variance of the recent surprise.
    warmup
        Readings to learn from before scoring.
    range_tolerance
        Fraction of the seen range a reading must exceed it by to count as novel.
    hold, refractory
        Readings the alert level is held, then muted, after a crossing.
    alert_threshold
        The score at and above which to alert; the shipped default.

    Examples
    --------
    >>> d = Likelihood(warmup=50)
    >>> scores = [d.update(10.0 + (i % 5) * 0.1, float(i)) for i in range(300)]
    >>> max(scores) < d.alert_threshold
    True
    >>> d.update(25.0, 300.0) >= d.alert_threshold
    True
    """

    name = "likelihood"

    def __init__(self, alpha: float = 0.05, short: float = 0.2, long: float = 0.002, warmup: int = 150,
                 range_tolerance: float = 0.05, hold: int = 3, refractory: int = 200,
                 alert_threshold: float = 0.5, stdev_floor: float = 0.01) -> None:
        self.alpha = alpha
        self.short = short
        self.long = long
        self.warmup = warmup
        self.range_tolerance = range_tolerance
        self.hold = hold
        self.refractory = refractory
        self.alert_threshold = alert_threshold
        self.stdev_floor = stdev_floor
        self._n = 0
        self._mean = 0.0
        self._dev = 0.0
        self._lo = 0.0
        self._hi = 0.0
        self._recent = 0.0
        self._lmean = 0.0
        self._lvar = 0.0
        self._since_alert = -1  # readings since the score last crossed; -1: none pending

    @property
    def warm(self) -> bool:
        return self._n >= self.warmup

    def update(self, value: float, ts: float) -> float:
        n = self._n = self._n + 1
        if n == 1:
            self._mean = self._lo = self._hi = value
            return 0.0
        mean = self._mean
        dev = self._dev
        err = value - mean if value >= mean else mean - value
        raw = err / (err + 3.0 * dev) if dev > 0.0 else (1.0 if err > 0.0 else 0.0)
        recent = self._recent = self._recent + self.short * (raw - self._recent)
        lmean = self._lmean
        lvar = self._lvar
        lo = self._lo
        hi = self._hi
        score = 0.0
        if n > self.warmup:
            std = math.sqrt(lvar)
            if std < self.stdev_floor:
                std = self.stdev_floor
            tail = 0.5 * math.erfc((recent - lmean) / std * _SQRT1_2)
            score = math.log(tail + _LOG_FLOOR) * _LOG_SCALE if tail < 0.5 else 0.0
            margin = (hi - lo) * self.range_tolerance
            if value > hi + margin or value < lo - margin:
                score = 1.0
            since = self._since_alert
            if since >= 0:
                since += 1
                if since > self.hold + self.refractory:
                    since = -1
                elif since > self.hold:
                    score = 0.0
                else:
                    score = 1.0 if score < self.alert_threshold else score
            if since < 0 and score >= self.alert_threshold:
                since = 0
            self._since_alert = since
        # Learn, except from what we flag: the baseline would drift into the anomaly.
        if score < self.alert_threshold:
            a = self.alpha
            self._mean = mean + a * (value - mean)
            self._dev = dev + a * (err - dev)
            b = self.long
            d = recent - lmean
            self._lmean = lmean + b * d
            self._lvar = (1.0 - b) * (lvar + b * d * d)
        if value > hi:
            self._hi = value
        elif value < lo:
            self._lo = value
        return score

    def params(self) -> dict[str, Any]:
        return {"alpha": self.alpha, "short": self.short, "long": self.long, "warmup": self.warmup,
                "range_tolerance": self.range_tolerance, "hold": self.hold, "refractory": self.refractory,
                "alert_threshold": self.alert_threshold, "stdev_floor": self.stdev_floor}

    def state(self) -> dict[str, Any]:
        return {"n": self._n, "mean": self._mean, "dev": self._dev, "lo": self._lo, "hi": self._hi,
                "recent": self._recent, "lmean": self._lmean, "lvar": self._lvar,
                "since_alert": self._since_alert}

    def restore(self, state: dict[str, Any]) -> None:
        self._n = int(state["n"])
        for key in ("mean", "dev", "lo", "hi", "recent", "lmean", "lvar"):
            setattr(self, "_" + key, float(state[key]))
        self._since_alert = int(state["since_alert"])
