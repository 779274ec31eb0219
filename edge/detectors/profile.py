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

A reading that crosses ``alert_threshold`` opens an *excursion* of ``excursion`` readings
(default 1, the agent decider's default ``min_readings``) that are not learned: they are scored
against the ranges from before it. With ``hold`` an excursion reading that scores lower repeats
the opening score, so a decider that wants ``min_readings = excursion`` readings in a row
alerts on a one-reading event too; without it (the default) every event is one reading at or
above the threshold, which is what NAB rewards. Then the ranges learn again and the score is
muted for ``refractory`` readings, after which the tolerance of the view that alerted stays
raised by ``recovery_tolerance``, decaying over ``recovery_readings``: one event, one alert. The
other views keep their tolerance, so a different kind of novelty soon after (a level shift after
a spike, a day unlike the others after a record) is still a new event.
Pure float arithmetic on a handful of locals: about 1.3 µs per reading in CPython 3.11.
"""

from __future__ import annotations

import math
from typing import Any

from edge.detectors.base import Detector

_SLOTS = 24  # hour-of-day profile
_VIEWS = 4  # value, level, profile, profile_level
_PENDING = 0.5  # the most an excursion not yet long enough to count scores


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
    recovery_tolerance, recovery_readings
        Extra tolerance of the view that alerted, right after the alert, decaying by e every
        ``recovery_readings``: the aftermath of an event (its oscillations, its recovery) is not
        a new event of the same kind.
    excursion
        Readings of one excursion (the crossing one included) kept out of learning; match
        the decider's ``min_readings`` (default 1).
    hold
        Repeat the opening score for the rest of the excursion, so every crossing reaches the
        decider as ``excursion`` readings in a row. Use ``hold=True, excursion=2`` with
        ``min_readings = 2``.
    refractory
        Readings muted after an excursion.
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
        self._recovery_factor = math.exp(-1.0 / recovery_readings)
        self._n = 0
        self._level = 0.0
        self._residual = 0.0
        self._profile: list[float | None] = [None] * _SLOTS
        self._lo = [0.0] * _VIEWS
        self._hi = [0.0] * _VIEWS
        self._mute = 0.0  # readings (of interval_s each at most) left muted after an excursion
        self._excursion = 0  # readings of the current excursion so far; 0: none
        self._boosts = [0.0] * _VIEWS  # extra tolerance of a view that alerted, decaying back to 0
        self._held = 0.0  # the score that opened the current excursion
        self._last_ts = 0.0  # the previous reading's ts
        self._dt = 0.0  # smoothed interval between readings (s)
        self._pending = 0  # crossing readings so far of an excursion not yet long enough to count

    @property
    def warm(self) -> bool:
        return self._n >= self.warmup

    def update(self, value: float, ts: float) -> float:
        n = self._n
        self._n = n + 1
        slot = int(ts // 3600.0) % _SLOTS
        known = self._profile[slot]
        usual = value if known is None else known
        if n == 0:
            self._profile[slot] = value
            self._level = value
            self._lo = [value, value, 0.0, 0.0]
            self._hi = [value, value, 0.0, 0.0]
            self._last_ts = ts
            return 0.0
        gap = ts - self._last_ts
        self._last_ts = ts
        if gap < 0.0:
            gap = 0.0
        # The per-reading rates are per reading of NAB-like series (a minute or more apart) and
        # per interval_s of time for faster ones: a 10 Hz channel forgets by the hour, not by
        # the 600 readings.
        weight = 1.0 if gap >= self.interval_s else gap / self.interval_s
        self._dt = gap if n == 1 else self._dt + 0.1 * (gap - self._dt)
        level_alpha = self.level_alpha * weight
        level = self._level + level_alpha * (value - self._level)
        deviation = value - usual
        residual = self._residual + self.profile_level_alpha * weight * (deviation - self._residual)
        views = (value, level, deviation, residual)
        lo, hi = self._lo, self._hi
        score = 0.0
        if n >= self.warmup:
            fade = self._recovery_factor if weight == 1.0 else math.exp(-weight / self.recovery_readings)
            boosts = self._boosts
            excess_max = -math.inf
            view = 0
            for k in range(_VIEWS):
                boosts[k] *= fade
                span = hi[k] - lo[k]
                if span > 0.0:
                    x = views[k]
                    excess = ((x - hi[k] if x > hi[k] else lo[k] - x) / span - self._tolerances[k]
                              - boosts[k])
                    if excess > excess_max:
                        excess_max = excess
                        view = k
            excess_max -= self.early_tolerance / (n + 1)
            if excess_max > -1.0:  # beyond ~one range inside: the logistic is ~0 there anyway
                z = self.steepness * excess_max + self._logit
                score = 1.0 / (1.0 + math.exp(-z)) if z > -700.0 else 0.0
            # Readings closer together than single_reading_s are not one decision each: an
            # excursion counts once it has lasted persist_s (and two readings at least), so a
            # noise spike of one sample at 10 Hz is not an event. Then it is held for two
            # readings at least, so a decider wanting min_readings = 2 sees it too.
            dense = self._dt < self.single_reading_s
            if self._mute > 0.0:
                self._mute -= weight
                score = 0.0
            elif score >= self.alert_threshold or (self._excursion and (self.hold or dense)):
                if dense and not self._excursion and self._pending + 1 < self._needed():
                    self._pending += 1
                    return score if score < _PENDING else _PENDING  # not learned either
                self._pending = 0
                if not self._excursion:
                    self._held = score
                elif score < self._held:
                    score = self._held
                boosts[view] = self.recovery_tolerance
                run = self._excursion + 1
                if run >= (max(self.excursion, 2) if dense else self.excursion):
                    self._excursion = 0
                    self._mute = self.refractory
                else:
                    self._excursion = run
                return score  # not learned: the rest of the excursion is scored against the past
            elif self._excursion:
                self._excursion = 0
                self._mute = self.refractory
            self._pending = 0
        profile_alpha = self.profile_alpha * weight
        self._profile[slot] = usual + profile_alpha * (value - usual)
        self._level = level
        self._residual = residual
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
        return score

    def _needed(self) -> int:
        """Crossing readings in a row that make an excursion of dense readings."""
        return max(2, 1 + int(self.persist_s / max(self._dt, 1e-3)))

    def params(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in (
            "tolerance", "level_tolerance", "profile_tolerance", "profile_level_tolerance", "decay",
            "level_decay", "profile_decay", "profile_level_decay", "level_alpha", "profile_alpha",
            "profile_level_alpha", "steepness", "early_tolerance", "warmup", "excursion", "hold",
            "refractory", "recovery_tolerance", "recovery_readings", "interval_s", "persist_s",
            "single_reading_s", "alert_threshold")}

    def state(self) -> dict[str, Any]:
        return {"n": self._n, "level": self._level, "residual": self._residual,
                "profile": list(self._profile), "lo": list(self._lo), "hi": list(self._hi),
                "mute": self._mute, "excursion": self._excursion, "boosts": list(self._boosts),
                "held": self._held, "last_ts": self._last_ts, "dt": self._dt, "pending": self._pending}

    def restore(self, state: dict[str, Any]) -> None:
        profile = [None if p is None else float(p) for p in state["profile"]]
        if len(profile) != _SLOTS or len(state["lo"]) != _VIEWS or len(state["hi"]) != _VIEWS:
            raise ValueError("checkpoint has the wrong number of profile slots or views")
        self._n = int(state["n"])
        self._level = float(state["level"])
        self._residual = float(state["residual"])
        self._profile = profile
        self._lo = [float(v) for v in state["lo"]]
        self._hi = [float(v) for v in state["hi"]]
        self._mute = float(state["mute"])
        self._excursion = int(state["excursion"])
        # checkpoints from before the per-view recovery hold one "boost" for every view
        boosts = state["boosts"] if "boosts" in state else [state["boost"]] * _VIEWS
        if len(boosts) != _VIEWS:
            raise ValueError("checkpoint has the wrong number of views")
        self._boosts = [float(b) for b in boosts]
        self._held = float(state["held"])
        self._last_ts = float(state.get("last_ts", 0.0))
        self._dt = float(state.get("dt", 0.0))
        self._pending = int(state.get("pending", 0))
