"""Robust z-score against an exponentially weighted median and spread.

Cheap (a handful of float operations per reading) and resistant to the
occasional spike: the location follows the median via a sign-step update, the
scale follows the mean absolute deviation. The score maps |z| through a
logistic curve so that z = ``z_alarm`` gives 0.5.
"""

from __future__ import annotations

import math
from typing import Any

from edge.detectors.base import Detector


class RobustZ(Detector):
    """Robust z-score detector.

    Parameters
    ----------
    alpha
        Smoothing factor of the running location and spread (0 < alpha < 1).
    warmup
        Readings to learn from before scoring.
    z_alarm
        The robust z at which the score is 0.5.
    """

    name = "robust_z"

    def __init__(self, alpha: float = 0.02, warmup: int = 30, z_alarm: float = 6.0) -> None:
        self.alpha = alpha
        self.warmup = warmup
        self.z_alarm = z_alarm
        self._n = 0
        self._loc = 0.0
        self._spread = 0.0

    @property
    def warm(self) -> bool:
        return self._n >= self.warmup

    def update(self, value: float, ts: float) -> float:
        scoring = self._n >= self.warmup  # warm before this reading, so the warm-up stays silent
        self._n += 1
        if self._n == 1:
            self._loc = value
            self._spread = abs(value) * 1e-3 + 1e-9
            return 0.0
        deviation = value - self._loc
        spread = max(self._spread, 1e-9)
        z = abs(deviation) / (1.2533 * spread)  # MAD of a normal is 0.798 sigma
        score = 1.0 / (1.0 + math.exp(-(z - self.z_alarm))) if scoring else 0.0
        # Do not learn from what we just flagged: the baseline would drift into the anomaly.
        weight = self.alpha if score < 0.5 else self.alpha * 0.05
        step = min(abs(deviation), 3.0 * spread)
        self._loc += weight * math.copysign(step, deviation)
        self._spread += weight * (min(abs(deviation), 5.0 * spread) - self._spread)
        return score

    def params(self) -> dict[str, Any]:
        return {"alpha": self.alpha, "warmup": self.warmup, "z_alarm": self.z_alarm}

    def state(self) -> dict[str, Any]:
        return {"n": self._n, "loc": self._loc, "spread": self._spread}

    def restore(self, state: dict[str, Any]) -> None:
        self._n = int(state["n"])
        self._loc = float(state["loc"])
        self._spread = float(state["spread"])
