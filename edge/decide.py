"""Turn one channel's readings and anomaly scores into alert decisions, without flapping.

Two independent rules, limit first:

* **limit**: a calibrated value beyond ``low``/``high`` alerts at once (orange),
  beyond ``low_critical``/``high_critical`` red, whatever the model thinks.
* **anomaly**: the score must reach ``threshold`` for ``min_readings`` readings
  in a row; the alert then stays active until the score falls below
  ``clear_threshold`` (hysteresis), and a new one may not start within
  ``cooldown_s`` of the last clearing. The grade grows with how far (score) and
  how long (active time); a model alone never raises red.

While a rule stays active the decision repeats every ``repeat_s`` (so the hub
sees the hazard is still there) and at once when the grade rises. Pure: time
is an argument.
"""

from __future__ import annotations

from dataclasses import dataclass

from edge.config import ChannelConfig, DetectionConfig
from lifeline.grades import Grade
from lifeline.wire import Reason

ANOMALY_YELLOW_AFTER_S = 60.0
ANOMALY_ORANGE_AFTER_S = 600.0


@dataclass(frozen=True, slots=True)
class Decision:
    reason: Reason
    grade: Grade
    message: str


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
        self._limit_grade: Grade | None = None
        self._limit_sent_at = -1e18
        self._run = 0
        self._anomaly_since: float | None = None
        self._anomaly_grade: Grade | None = None
        self._anomaly_sent_at = -1e18
        self._cleared_at = -1e18

    @property
    def active(self) -> bool:
        return self._limit_grade is not None or self._anomaly_since is not None

    def decide(self, ts: float, value: float, score: float) -> Decision | None:
        limit = self._decide_limit(ts, value)
        anomaly = self._decide_anomaly(ts, score)
        return limit or (anomaly if self._limit_grade is None else None)

    def _decide_limit(self, ts: float, value: float) -> Decision | None:
        breach = limit_grade(self.channel, value)
        if breach is None:
            self._limit_grade = None
            return None
        grade, message = breach
        rising = self._limit_grade is None or grade > self._limit_grade
        due = ts - self._limit_sent_at >= self.detection.repeat_s
        self._limit_grade = grade if rising else max(grade, self._limit_grade or grade)
        if rising or due:
            self._limit_sent_at = ts
            return Decision(Reason.LIMIT, grade, message)
        return None

    def _decide_anomaly(self, ts: float, score: float) -> Decision | None:
        d = self.detection
        if self._anomaly_since is None:
            self._run = self._run + 1 if score >= d.threshold else 0
            if self._run < d.min_readings or ts - self._cleared_at < d.cooldown_s:
                return None
            self._anomaly_since = ts
        elif score < d.clear_threshold:
            self._anomaly_since = None
            self._anomaly_grade = None
            self._cleared_at = ts
            self._run = 0
            return None
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
