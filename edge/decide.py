"""Turn one channel's readings and anomaly scores into alert decisions, without flapping.

Two independent rules, limit first:

* **limit**: a calibrated value beyond ``low``/``high`` alerts at once (orange),
  beyond ``low_critical``/``high_critical`` red, whatever the model thinks.
* **anomaly**: the score must reach ``threshold`` for ``min_readings`` readings
  in a row; the alert then stays active until the score falls below
  ``clear_threshold`` (hysteresis), and a new one may not start within
  ``cooldown_s`` of the last clearing. The grade grows with how far (score) and
  how long (active time); a model alone never raises red.

Readings closer together than ``DENSE_BELOW_S`` (60 s) are not one decision each: on such a
channel an onset also needs two readings in a row and ``PERSIST_S`` (0.5 s) of them, so one
noisy sample at 10 Hz is not an event.

Every alarm has a lifetime: an **onset**, a **repeat** every ``repeat_s`` while a rule stays
active (and at once when the grade rises), and a **cleared** decision when the channel is back
to normal: no limit breached and the score below ``clear_threshold``, each for as many readings
in a row as an onset needs. The cleared decision carries the reason of the rule that ended
last. A limit breach that follows a reading back inside the limits alerts at once, as always,
even while the channel's limit alarm has not yet cleared. Pure: time is an argument.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from edge.config import ChannelConfig, DetectionConfig
from lifeline.grades import Grade
from lifeline.wire import Reason

ANOMALY_YELLOW_AFTER_S = 60.0
ANOMALY_ORANGE_AFTER_S = 600.0
DENSE_BELOW_S = 60.0  # readings closer together than this are not one decision each
PERSIST_S = 0.5  # an onset on such a channel lasts this long (two readings at least)
CLEAR_HOLD = 1  # calm readings in a row (at least) that end an anomaly alarm


@dataclass(frozen=True, slots=True)
class Decision:
    reason: Reason
    grade: Grade
    message: str
    cleared: bool = False


def limit_grade(channel: ChannelConfig, value: float) -> tuple[Grade, str] | None:
    """The grade and wording of a physical-limit breach, or None inside the limits."""
    unit = f" {channel.unit}" if channel.unit else ""
    if channel.low_critical is not None and value < channel.low_critical:
        return Grade.RED, f"{value:g}{unit} below critical low {channel.low_critical:g}"
    if channel.high_critical is not None and value > channel.high_critical:
        return Grade.RED, f"{value:g}{unit} above critical high {channel.high_critical:g}"
    if channel.low is not None and value < channel.low:
        return Grade.ORANGE, f"{value:g}{unit} below low limit {channel.low:g}"
    if channel.high is not None and value > channel.high:
        return Grade.ORANGE, f"{value:g}{unit} above high limit {channel.high:g}"
    return None


class ChannelDecider:
    """The alert state machine of one channel."""

    def __init__(self, channel: ChannelConfig, detection: DetectionConfig) -> None:
        self.channel = channel
        self.detection = detection
        self._limit_grade: Grade | None = None  # the current breach's grade, None inside
        self._limit_sent_at = -1e18
        self._limit_since: float | None = None  # when the channel's limit alarm started
        self._limit_peak = Grade.ORANGE  # its highest grade
        self._inside = 0  # readings in a row back inside the limits while it is up
        self._run = 0
        self._anomaly_since: float | None = None
        self._anomaly_grade: Grade | None = None
        self._anomaly_sent_at = -1e18
        self._calm = 0  # readings in a row below clear_threshold while an anomaly is active
        self._cleared_at = -1e18
        self._last_ts: float | None = None
        self._dt = math.inf  # smoothed interval between readings (s)
        self._ended: tuple[Reason, Grade, float] | None = None  # the rule that ended last

    @property
    def active(self) -> bool:
        """True while a limit alarm or an anomaly alarm is up (until its cleared decision)."""
        return self._limit_since is not None or self._anomaly_since is not None

    @property
    def limit_active(self) -> bool:
        return self._limit_since is not None

    @property
    def anomaly_since(self) -> float | None:
        """When the active anomaly alarm started, None when there is none."""
        return self._anomaly_since

    @property
    def pending(self) -> bool:
        """A run of scores at or above the threshold that is not (yet) an alarm."""
        return self._anomaly_since is None and self._run > 0

    def needed(self) -> int:
        """Readings in a row that make an onset (or, below the clear threshold, an end)."""
        dense = 1
        if self._dt < DENSE_BELOW_S:
            dense = max(2, 1 + int(PERSIST_S / max(self._dt, 1e-3)))
        return max(self.detection.min_readings, dense)

    def decide(self, ts: float, value: float, score: float) -> Decision | None:
        if self._last_ts is not None:
            gap = max(ts - self._last_ts, 0.0)
            self._dt = gap if math.isinf(self._dt) else self._dt + 0.1 * (gap - self._dt)
        self._last_ts = ts
        was_active = self.active
        limit = self._decide_limit(ts, value)
        anomaly = self._decide_anomaly(ts, score)
        if limit is not None:
            return limit
        if anomaly is not None and self._limit_grade is None:
            return anomaly
        if was_active and not self.active and self._ended is not None:
            return self._cleared(ts, value)
        return None

    def accept(self, ts: float, why: str) -> Decision | None:
        """End the active anomaly alarm because its level is accepted as the new normal
        (``why`` says how and names the new baseline); None when no anomaly alarm is up."""
        if self._anomaly_since is None:
            return None
        lasted = ts - self._anomaly_since
        grade = self._anomaly_grade or Grade.BLUE
        self._end_anomaly(ts)
        return Decision(Reason.ANOMALY, grade, f"{why} after {_duration(lasted)} of anomaly",
                        cleared=True)

    def _cleared(self, ts: float, value: float) -> Decision:
        assert self._ended is not None
        reason, grade, since = self._ended
        unit = f" {self.channel.unit}" if self.channel.unit else ""
        what = "limit breach" if reason is Reason.LIMIT else "anomaly"
        return Decision(reason, grade, f"back to normal at {value:g}{unit} after "
                        f"{_duration(ts - since)} of {what}", cleared=True)

    def _decide_limit(self, ts: float, value: float) -> Decision | None:
        breach = limit_grade(self.channel, value)
        if breach is None:
            # The breach is over for alerting (a new one alerts at once, as always); the
            # channel's limit alarm ends after `needed` readings inside, with a cleared alert.
            self._limit_grade = None
            if self._limit_since is not None:
                self._inside += 1
                if self._inside >= self.needed():
                    self._ended = (Reason.LIMIT, self._limit_peak, self._limit_since)
                    self._limit_since = None
            return None
        self._inside = 0
        grade, message = breach
        rising = self._limit_grade is None or grade > self._limit_grade
        due = ts - self._limit_sent_at >= self.detection.repeat_s
        if self._limit_since is None:
            self._limit_since = ts
            self._limit_peak = grade
        self._limit_peak = max(self._limit_peak, grade)
        self._limit_grade = grade if rising else max(grade, self._limit_grade or grade)
        if rising or due:
            self._limit_sent_at = ts
            return Decision(Reason.LIMIT, grade, message)
        return None

    def _end_anomaly(self, ts: float) -> None:
        if self._anomaly_since is not None:
            self._ended = (Reason.ANOMALY, self._anomaly_grade or Grade.BLUE, self._anomaly_since)
        self._anomaly_since = None
        self._anomaly_grade = None
        self._cleared_at = ts
        self._run = 0
        self._calm = 0

    def _decide_anomaly(self, ts: float, score: float) -> Decision | None:
        d = self.detection
        if self._anomaly_since is None:
            self._run = self._run + 1 if score >= d.threshold else 0
            if self._run < self.needed() or ts - self._cleared_at < d.cooldown_s:
                return None
            self._anomaly_since = ts
            self._calm = 0
        elif score < d.clear_threshold:
            self._calm += 1
            if self._calm >= max(self.needed(), CLEAR_HOLD):
                self._end_anomaly(ts)
            return None
        else:
            self._calm = 0
        grade = self._anomaly_grade_for(ts - self._anomaly_since, score)
        rising = self._anomaly_grade is None or grade > self._anomaly_grade
        if rising or ts - self._anomaly_sent_at >= d.repeat_s:
            self._anomaly_grade = max(grade, self._anomaly_grade or grade)
            self._anomaly_sent_at = ts
            return Decision(Reason.ANOMALY, self._anomaly_grade,
                            f"anomaly score {score:.3f} for {ts - self._anomaly_since:.0f} s")
        return None

    @staticmethod
    def _anomaly_grade_for(active_s: float, score: float) -> Grade:
        if active_s >= ANOMALY_ORANGE_AFTER_S:
            return Grade.ORANGE
        if active_s >= ANOMALY_YELLOW_AFTER_S or score >= 0.999:
            return Grade.YELLOW
        return Grade.BLUE


def _duration(seconds: float) -> str:
    """``45 s``, ``12 min``, ``6.0 h``: a duration a technician reads at a glance."""
    if seconds < 120.0:
        return f"{seconds:.0f} s"
    if seconds < 7200.0:
        return f"{seconds / 60.0:.0f} min"
    return f"{seconds / 3600.0:.1f} h"
