"""Profile novelty: a reading, its trend or its deviation from the daily profile going where it never went.

The default detector. It follows the range novelty idea (``novelty.py``) on four views of one
channel, each a cheap running quantity:

* ``value``: the reading itself: bursts, leaks and stuck-high sensors leave the usual range;
* ``level``: an exponentially smoothed reading: a slow drift or a small persistent shift that
  single readings hide in their noise;
* ``profile``: the reading minus the usual reading at this hour of the day (an exponentially
  weighted mean per hour slot): a night-time flow as high as the daytime peak is within the
  value range but far outside the profile's residual range;
* ``profile_level``: that residual, smoothed: a whole day that runs unlike the others.

Each view keeps the range it has covered, shrinking slowly (``decay`` per reading) so one old
excursion does not blind it forever. A view's *excess* is how far a reading lies beyond its
range, as a fraction of the range; the score is a logistic of the largest excess, calibrated so
that an excess of exactly the view's tolerance scores ``alert_threshold``. Ranges learned from
few readings are less trustworthy, so the tolerance starts higher by ``early_tolerance / n``.

``score`` reads these ranges and changes nothing; ``learn`` widens them (and moves the level,
the residual and the hour's usual value). The pipeline learns only readings taken while the
channel is not alarming, so a hazard never widens a range: the same burst scores as high the
second time as the first. What used to live here to tune NAB (an excursion kept out of
learning, a refractory period, a raised tolerance after an alert, a minimum persistence of fast
channels) is now the pipeline's and the decider's job (edge/pipeline.py, edge/decide.py); the
parameters that configured it are still accepted so existing configurations keep loading, and
do nothing.
Pure float arithmetic on a handful of locals: about 1.5 µs per reading in CPython 3.11.
"""

from __future__ import annotations

import math
from typing import Any

from edge.detectors.base import Detector, all_finite

_SLOTS = 24  # hour-of-day profile
_VIEWS = 4  # value, level, profile, profile_level
# The smallest range of a smoothed view (level, profile_level), as a share of the range of the
# view it smooths: on a fast channel the smoothed level barely moves, and a shift of a
# thousandth of the noise beyond its thin range is no event.
_SMOOTHED_SPAN = 0.1
_FRESH = 10.0  # usual intervals without learning after which the smoothed views fall silent
_SLOT_MATURE = 30  # readings an hour slot learns before its usual value is trusted


class ProfileNovelty(Detector):
    """Novelty of the reading, its smoothed level and its deviation from the hourly profile.

    Parameters
    ----------
    tolerance, level_tolerance, profile_tolerance, profile_level_tolerance
        Excess over each view's range, as a fraction of that range, that scores ``alert_threshold``.
    decay, level_decay, profile_decay, profile_level_decay
        Per-reading fraction by which each view's range shrinks towards its centre.
    level_alpha
        Smoothing factor of the level (about 2 / level_alpha readings of memory).
    profile_alpha
        Smoothing factor of each hour slot's usual value.
    profile_level_alpha
        Smoothing factor of the profile residual.
    steepness
        Slope of the logistic, per unit of range fraction.
    early_tolerance
        Extra tolerance ``early_tolerance / n`` while the ranges are young (n readings seen).
    warmup
        Readings to learn from before scoring.
    excursion, hold, refractory, recovery_tolerance, recovery_readings, persist_s, single_reading_s
        Accepted for configurations written before the score/learn split; unused (the pipeline
        keeps alarming readings out of learning and the decider needs persistence on fast
        channels, see docs/detectors.md).
    interval_s
        Readings closer together than this learn with the weight of their gap over
        ``interval_s``: a fast channel forgets by the hour, not by the reading.
    alert_threshold
        The score at and above which to alert; the shipped default.

    Examples
    --------
    >>> d = ProfileNovelty(warmup=50)
    >>> quiet = [d.update(10.0 + (i % 5) * 0.1, 60.0 * i) for i in range(300)]
    >>> max(quiet) < d.alert_threshold
    True
    >>> d.update(25.0, 60.0 * 300) >= d.alert_threshold
    True
    """

    name = "profile_novelty"
    suspect_score = 1e-12  # any reading beyond a learned range

    def __init__(self, tolerance: float = 0.02, level_tolerance: float = 0.05,
                 profile_tolerance: float = 0.05, profile_level_tolerance: float = 0.05,
                 decay: float = 3e-5, level_decay: float = 3e-4, profile_decay: float = 1e-4,
                 profile_level_decay: float = 1e-4, level_alpha: float = 0.05, profile_alpha: float = 0.05,
                 profile_level_alpha: float = 0.1, steepness: float = 20.0, early_tolerance: float = 25.0,
                 warmup: int = 150, excursion: int = 1, hold: bool = False, refractory: int = 60,
                 recovery_tolerance: float = 0.1, recovery_readings: float = 500.0,
                 interval_s: float = 60.0, persist_s: float = 0.5, single_reading_s: float = 60.0,
                 alert_threshold: float = 0.9) -> None:
        if interval_s <= 0.0 or persist_s < 0.0 or single_reading_s <= 0.0:
            raise ValueError("interval_s and single_reading_s must be positive and persist_s not negative")
        if not 0.0 < alert_threshold < 1.0:
            raise ValueError(f"alert_threshold must be in (0, 1), got {alert_threshold}")
        self.tolerance = tolerance
        self.level_tolerance = level_tolerance
        self.profile_tolerance = profile_tolerance
        self.profile_level_tolerance = profile_level_tolerance
        self.decay = decay
        self.level_decay = level_decay
        self.profile_decay = profile_decay
        self.profile_level_decay = profile_level_decay
        self.level_alpha = level_alpha
        self.profile_alpha = profile_alpha
        self.profile_level_alpha = profile_level_alpha
        self.steepness = steepness
        self.early_tolerance = early_tolerance
        self.warmup = warmup
        self.excursion = excursion
        self.hold = hold
        self.refractory = refractory
        self.recovery_tolerance = recovery_tolerance
        self.recovery_readings = recovery_readings
        self.interval_s = interval_s
        self.persist_s = persist_s
        self.single_reading_s = single_reading_s
        self.alert_threshold = alert_threshold
        self._tolerances = (tolerance, level_tolerance, profile_tolerance, profile_level_tolerance)
        self._decays = (decay, level_decay, profile_decay, profile_level_decay)
        self._logit = math.log(alert_threshold / (1.0 - alert_threshold))
        self._n = 0
        self._level = 0.0
        self._residual = 0.0
        self._profile: list[float | None] = [None] * _SLOTS
        self._slot_counts = [0] * _SLOTS  # readings learned per hour slot
        # the range of readings each hour slot has learned: a deviation from the hour's usual
        # value is news only if the reading is also beyond what this hour has done
        self._slot_lo = [0.0] * _SLOTS
        self._slot_hi = [0.0] * _SLOTS
        self._lo = [0.0] * _VIEWS
        self._hi = [0.0] * _VIEWS
        self._last_ts = 0.0  # the last learned reading's ts
        self._dt = 0.0  # the usual interval between learned readings (s)

    @property
    def warm(self) -> bool:
        return self._n >= self.warmup

    def _views(self, value: float, ts: float) -> tuple[float, float, float, float, float, int, float]:
        """The four views of ``value`` against the learned state, its forgetting weight, its
        hour slot and the usual value of that slot. Reads the state, changes nothing."""
        slot = int(ts // 3600.0) % _SLOTS
        known = self._profile[slot]
        # a young hour slot's usual value is still noise: the level stands in for it
        usual = known if known is not None and self._slot_counts[slot] >= _SLOT_MATURE else (
            self._level)
        # One reading's step: the time since the last learned reading, but no more than the
        # usual interval, so readings kept out of learning (an alarm) do not make the next
        # one jump the smoothed views.
        gap = ts - self._last_ts
        if gap > 4.0 * self._dt > 0.0:
            gap = self._dt
        # The per-reading rates are per reading of NAB-like series (a minute or more apart) and
        # per interval_s of time for faster ones: a 10 Hz channel forgets by the hour, not by
        # the 600 readings.
        weight = 1.0 if gap >= self.interval_s else max(gap, 0.0) / self.interval_s
        # While few readings are learned the smoothed views are running means, not an
        # exponential average still on its way from the first reading (on a 10 Hz channel that
        # way takes half an hour, and its young range would alarm on noise).
        start = 1.0 / (self._n + 1)
        level = self._level + max(self.level_alpha * weight, start) * (value - self._level)
        deviation = value - usual
        residual = self._residual + max(self.profile_level_alpha * weight, start) * (
            deviation - self._residual)
        return value, level, deviation, residual, weight, slot, usual

    def score(self, value: float, ts: float) -> float:
        n = self._n
        if n < self.warmup or n == 0:
            return 0.0
        if not all_finite(value, ts):
            return 1.0
        views = self._views(value, ts)
        lo, hi = self._lo, self._hi
        excess_max = -math.inf
        share = 1.0
        # The smoothed views speak for the present only while their state is: once nothing
        # has been learned for _FRESH usual intervals (an alarm is up), the reading and its
        # deviation from the profile alone say whether the channel is still abnormal.
        fresh = self._dt <= 0.0 or ts - self._last_ts <= _FRESH * self._dt
        for k in range(_VIEWS):
            if k % 2 and not fresh:
                continue
            span = hi[k] - lo[k]
            if k % 2:  # a smoothed view: its range is at least a share of its raw view's range
                span = max(span, _SMOOTHED_SPAN * (hi[k - 1] - lo[k - 1]))
            if span > 0.0:
                x = views[k]
                beyond = (x - hi[k] if x > hi[k] else lo[k] - x) / span
                if k == 2 and beyond > 0.0 and self._slot_counts[views[5]] >= _SLOT_MATURE:
                    # ... and beyond the range of this hour slot, in the same units: a spike
                    # that pulls an hour's usual value up makes that hour's ordinary readings
                    # deviate, but not leave the hour's own range
                    slot_lo, slot_hi = self._slot_lo[views[5]], self._slot_hi[views[5]]
                    outside = (value - slot_hi if value > slot_hi else slot_lo - value) / span
                    beyond = min(beyond, outside)
                if beyond > 0.0 and beyond - self._tolerances[k] > excess_max:
                    excess_max = beyond - self._tolerances[k]
                    share = beyond / self._tolerances[k] if self._tolerances[k] > 0.0 else 1.0
        if excess_max == -math.inf:
            return 0.0  # inside every range: normal
        excess_max -= self.early_tolerance / (n + 1)
        z = self.steepness * excess_max + self._logit
        if math.isnan(z):
            return 1.0
        score = 1.0 / (1.0 + math.exp(-z)) if z > -700.0 else 0.0
        # Between a range's edge and its tolerance the score falls to 0 at the edge, so a
        # reading at the edge of what is normal (a quantised signal hits it all the time) is
        # below any clear_threshold: an alarm ends when the channel is back in its range.
        # At and beyond the tolerance nothing changes: the same readings reach alert_threshold.
        return score * share if share < 1.0 else score

    def learn(self, value: float, ts: float) -> None:
        if not all_finite(value, ts):
            return
        if self._n == 0:
            slot = int(ts // 3600.0) % _SLOTS
            self._profile[slot] = value
            self._slot_counts[slot] = 1
            self._slot_lo[slot] = self._slot_hi[slot] = value
            self._level = value
            self._lo = [value, value, 0.0, 0.0]
            self._hi = [value, value, 0.0, 0.0]
            self._last_ts = ts
            self._n = 1
            return
        views = self._views(value, ts)
        _, level, _, residual, weight, slot, usual = views
        # a young hour slot's usual value is the mean of its readings so far (not its first one)
        seen = self._slot_counts[slot]
        known = self._profile[slot]
        own = value if known is None else known
        profile = own + max(self.profile_alpha * weight, 1.0 / (seen + 1)) * (value - own)
        lo, hi = list(self._lo), list(self._hi)
        for k in range(_VIEWS):
            x = views[k]
            low = lo[k]
            high = hi[k]
            if x > high:
                high = x
            elif x < low:
                low = x
            shrink = (high - low) * 0.5 * self._decays[k] * weight
            lo[k] = low + shrink
            hi[k] = high - shrink
        if seen == 0:
            slot_lo = slot_hi = value
        else:
            # the slot's range forgets as fast per hour of time as the profile view's does
            # (a slot learns one reading in _SLOTS)
            slot_lo, slot_hi = min(self._slot_lo[slot], value), max(self._slot_hi[slot], value)
            shrink = (slot_hi - slot_lo) * 0.5 * min(self.profile_decay * _SLOTS * weight, 0.5)
            slot_lo, slot_hi = slot_lo + shrink, slot_hi - shrink
        if not all_finite(level, residual, profile, slot_lo, slot_hi, *lo, *hi):
            return  # e.g. 1e308 and -1e308: a range wider than a float; never a non-finite state
        gap = ts - self._last_ts
        if self._n == 1:
            self._dt = max(gap, 0.0)
        elif 0.0 <= gap <= 4.0 * self._dt:  # a gap of an alarm or an outage is no interval
            self._dt += 0.05 * (gap - self._dt)
        self._n += 1
        self._last_ts = max(ts, self._last_ts)
        self._level = level
        self._residual = residual
        self._profile[slot] = profile
        self._slot_counts[slot] = seen + 1
        self._slot_lo[slot] = slot_lo
        self._slot_hi[slot] = slot_hi
        self._lo = lo
        self._hi = hi


    def state(self) -> dict[str, Any]:
        return {"n": self._n, "level": self._level, "residual": self._residual,
                "profile": list(self._profile), "lo": list(self._lo), "hi": list(self._hi),
                "last_ts": self._last_ts, "dt": self._dt, "slot_counts": list(self._slot_counts),
                "slot_lo": list(self._slot_lo), "slot_hi": list(self._slot_hi)}

    def restore(self, state: dict[str, Any]) -> None:
        # Checkpoints written before the score/learn split also hold the excursion, mute and
        # recovery bookkeeping of the old update(); the alarm logic lives in the pipeline now.
        profile = [None if p is None else float(p) for p in state["profile"]]
        if len(profile) != _SLOTS or len(state["lo"]) != _VIEWS or len(state["hi"]) != _VIEWS:
            raise ValueError("checkpoint has the wrong number of profile slots or views")
        lo = [float(v) for v in state["lo"]]
        hi = [float(v) for v in state["hi"]]
        level, residual = float(state["level"]), float(state["residual"])
        last_ts = float(state.get("last_ts", 0.0))
        if not all_finite(level, residual, last_ts, *lo, *hi, *(p for p in profile if p is not None)):
            raise ValueError("checkpoint holds a non-finite value")
        self._n = int(state["n"])
        self._level = level
        self._residual = residual
        self._profile = profile
        self._lo = lo
        self._hi = hi
        self._last_ts = last_ts
        self._dt = float(state.get("dt", 0.0))
        # before slot counts were kept, a slot with a usual value counts as mature
        counts = state.get("slot_counts") or [0 if p is None else 1_000_000 for p in profile]
        if len(counts) != _SLOTS:
            raise ValueError("checkpoint has the wrong number of profile slots")
        self._slot_counts = [int(c) for c in counts]
        # before slot ranges were kept, a slot's range is its usual value alone (no veto yet)
        usual = [0.0 if p is None else p for p in profile]
        slot_lo = [float(v) for v in state.get("slot_lo") or usual]
        slot_hi = [float(v) for v in state.get("slot_hi") or usual]
        if len(slot_lo) != _SLOTS or len(slot_hi) != _SLOTS or not all_finite(*slot_lo, *slot_hi):
            raise ValueError("checkpoint has the wrong number of slot ranges or a non-finite one")
        self._slot_lo = slot_lo
        self._slot_hi = slot_hi
