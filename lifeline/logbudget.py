"""A log budget: per key, a few lines per time window, the rest counted and said later.

The hub already counts invalid messages and logs the first ten per reason between two stats
lines (hub/service/ingest.py); the edge has no stats line, so this keeps a window per key instead:
at most ``per_window`` lines per ``window_s``, and the next line after a quiet spell says how
many were left out. Pure: time is an argument; no logging here, the caller logs.

>>> budget = LogBudget(per_window=2, window_s=60.0)
>>> [budget.take("s1/not_number", t) for t in (0.0, 1.0, 2.0, 3.0)]
[0, 0, None, None]
>>> budget.take("s1/not_number", 61.0)  # a new window: log, and 2 were left out before it
2
>>> budget.take("s2/checksum", 3.0)     # keys have their own budget
0
"""

from __future__ import annotations

from collections.abc import Hashable

__all__ = ["LogBudget"]


class LogBudget:
    def __init__(self, per_window: int = 10, window_s: float = 60.0,
                 max_keys: int = 1024) -> None:
        if per_window < 1 or window_s <= 0:
            raise ValueError("per_window must be at least 1 and window_s above 0")
        self.per_window = per_window
        self.window_s = window_s
        self.max_keys = max_keys
        # key -> [window start, lines logged in the window, left out since the last line]
        self._keys: dict[Hashable, list[float]] = {}

    def take(self, key: Hashable, now: float) -> int | None:
        """None: do not log this occurrence of ``key`` (it is counted). Otherwise log it;
        the number is how many occurrences of ``key`` were left out before it."""
        state = self._keys.get(key)
        if state is None or now - state[0] >= self.window_s:
            left_out = 0 if state is None else int(state[2])
            if state is None and len(self._keys) >= self.max_keys:
                self._forget_quiet(now)
            self._keys[key] = [now, 1, 0]
            return left_out
        if state[1] < self.per_window:
            state[1] += 1
            left_out, state[2] = int(state[2]), 0
            return left_out
        state[2] += 1
        return None

    def _forget_quiet(self, now: float) -> None:
        """Bound the keys: drop those whose window is over (their left-out counts with them)."""
        for key in [k for k, s in self._keys.items() if now - s[0] >= self.window_s]:
            del self._keys[key]
        while len(self._keys) >= self.max_keys:  # all busy: the oldest window goes
            del self._keys[min(self._keys, key=lambda k: self._keys[k][0])]
