"""Windowed Gaussian: NAB's reference baseline, the tail probability of a reading under recent data.

The mean and standard deviation come from the last ``window`` readings, refreshed every ``step``
readings as NAB's ``windowedGaussian`` detector does; the score is ``1 - Q(|z|)`` with ``Q`` the
upper tail of the standard normal. Running sums keep it O(1) per reading.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any

from edge.detectors.base import Detector, all_finite


class WindowedGaussian(Detector):
    """Gaussian tail probability over a sliding window (a baseline, not a production detector).

    Parameters
    ----------
    window
        Readings the mean and spread are estimated from (NAB: 6400).
    step
        Readings between re-estimates once the window is full (NAB: 100).
    warmup
        Readings to learn from before scoring.

    Examples
    --------
    >>> d = WindowedGaussian(window=50, step=5, warmup=10)
    >>> scores = [d.update(float(i % 3), float(i)) for i in range(60)]
    >>> scores[5], round(d.update(30.0, 60.0), 3)
    (0.0, 1.0)
    """

    name = "windowed_gaussian"

    def __init__(self, window: int = 6400, step: int = 100, warmup: int = 30) -> None:
        self.window = window
        self.step = step
        self.warmup = warmup
        self._n = 0
        self._data: deque[float] = deque()
        self._pending: list[float] = []
        self._sum = 0.0
        self._sumsq = 0.0
        self._mean = 0.0
        self._std = 0.0

    @property
    def warm(self) -> bool:
        return self._n >= self.warmup

    def score(self, value: float, ts: float) -> float:
        if self._n < self.warmup or not self._data:
            return 0.0
        if not all_finite(value):
            return 1.0
        z = abs(value - self._mean) / self._std if self._std > 0 else (
            0.0 if value == self._mean else math.inf)
        return 1.0 - 0.5 * math.erfc(z / math.sqrt(2.0))

    def learn(self, value: float, ts: float) -> None:
        if not all_finite(value, value * value, self._sumsq + value * value):
            return
        self._n += 1
        if len(self._data) < self.window:
            self._add(value)
            self._refresh()
        else:
            self._pending.append(value)
            if len(self._pending) >= self.step:
                for v in self._pending:
                    self._add(v)
                    old = self._data.popleft()
                    self._sum -= old
                    self._sumsq -= old * old
                self._pending.clear()
                self._refresh()

    def _add(self, value: float) -> None:
        self._data.append(value)
        self._sum += value
        self._sumsq += value * value

    def _refresh(self) -> None:
        count = len(self._data)
        self._mean = self._sum / count
        self._std = math.sqrt(max(self._sumsq / count - self._mean * self._mean, 0.0))

    def params(self) -> dict[str, Any]:
        return {"window": self.window, "step": self.step, "warmup": self.warmup}

    def state(self) -> dict[str, Any]:
        return {"n": self._n, "data": list(self._data), "pending": list(self._pending)}

    def restore(self, state: dict[str, Any]) -> None:
        if not all_finite(*(float(v) for v in (*state["data"], *state["pending"]))):
            raise ValueError("checkpoint holds a non-finite value")
        self._n = int(state["n"])
        self._data = deque()
        self._sum = self._sumsq = 0.0
        for v in state["data"]:
            self._add(float(v))
        self._pending = [float(v) for v in state["pending"]]
        if self._data:
            self._refresh()
