"""Robust z-score against an exponentially weighted median and spread.

Cheap (a handful of float operations per reading) and resistant to the
occasional spike: the location follows the median via a sign-step update, the
scale follows the mean absolute deviation. The score maps |z| through a
logistic curve so that z = ``z_alarm`` gives 0.5.
"""

from __future__ import annotations

import math
from typing import Any

from edge.detectors.base import Detector, all_finite


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

    def _z(self, value: float) -> float:
        return abs(value - self._loc) / (1.2533 * max(self._spread, 1e-9))  # MAD of a normal: 0.798 sd

    def score(self, value: float, ts: float) -> float:
        if self._n < self.warmup or self._n == 0:  # the warm-up stays silent
            return 0.0
        if not all_finite(value):
            return 1.0
        x = self._z(value) - self.z_alarm
        return 1.0 / (1.0 + math.exp(-x)) if x > -700.0 else 0.0

    def learn(self, value: float, ts: float) -> None:
        if not all_finite(value):
            return
        if self._n == 0:
            self._n = 1
            self._loc = value
            self._spread = abs(value) * 1e-3 + 1e-9
            return
        deviation = value - self._loc
        spread = max(self._spread, 1e-9)
        # A reading far out moves the baseline little even when it is learned (update());
        # during the warm-up every reading counts fully, so the spread finds its level.
        far = self._n >= self.warmup and self._z(value) >= self.z_alarm
        weight = self.alpha * 0.05 if far else self.alpha
        step = min(abs(deviation), 3.0 * spread)
        loc = self._loc + weight * math.copysign(step, deviation)
        new_spread = self._spread + weight * (min(abs(deviation), 5.0 * spread) - self._spread)
        if not all_finite(loc, new_spread):
            return
        self._n += 1
        self._loc = loc
        self._spread = new_spread

    def params(self) -> dict[str, Any]:
        return {"alpha": self.alpha, "warmup": self.warmup, "z_alarm": self.z_alarm}

    def state(self) -> dict[str, Any]:
        return {"n": self._n, "loc": self._loc, "spread": self._spread}

    def restore(self, state: dict[str, Any]) -> None:
        loc, spread = float(state["loc"]), float(state["spread"])
        if not all_finite(loc, spread):
            raise ValueError("checkpoint holds a non-finite value")
        self._n = int(state["n"])
        self._loc = loc
        self._spread = spread
