"""One channel's path from a raw number to an alert draft: calibrate, score, decide, maybe learn.

The detector scores every reading (``Detector.score`` changes nothing) and the decider
(edge/decide.py) turns scores into an alarm with a lifetime. The model of normal learns a
reading only when it is normal (``Detector.learn``):

* never while the channel alarms (a limit breach or an anomaly, until its cleared alert), nor
  while its sensor has an active fault (``learn=False`` from the agent);
* never the excursion that led to an alarm: from a *suspect* reading (one that scores the
  detector's ``suspect_score`` or more, or ``clear_threshold`` if that is lower: for the
  default detector, any reading beyond a range it has learned) while no alarm is up, readings
  are *held back*; if an alarm starts, the held readings are dropped; once no reading has been
  suspect for ``HOLD_RELEASE`` readings in a row and ``HOLD_RELEASE_S`` seconds, they are
  learned, in order (at most ``HOLD_BACK`` readings or ``HOLD_BACK_S`` seconds are held; older
  ones are learned when the hold is full, so a drift slower than that is followed, as normal
  wear and seasons are); a held run that would have been an alarm but for the decider's
  cool-down (``min_readings`` readings in a row at or above ``threshold``) is never learned:
  it is dropped as an alarm's readings are;
* a genuinely new normal is accepted only explicitly: an anomaly alarm that lasts
  ``accept_after_s`` ends with a cleared alert naming the new baseline, and the detector learns
  the readings of the alarm's last hour (``ACCEPT_LEARNS_S``); ``lifeline-edge relearn`` starts
  a sensor's detectors afresh on a technician's word.

Pure: the agent feeds readings with their time and stamps ids and sequence numbers on what
comes out.
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from dataclasses import dataclass

from edge.config import ChannelConfig, SensorConfig
from edge.decide import ChannelDecider, Decision
from edge.detectors import DEFAULT_DETECTOR, Detector, make_detector
from lifeline.grades import Grade
from lifeline.wire import Reason

CONTEXT_VALUES = 16
HOLD_BACK = 12_000  # readings of a pre-alarm run held out of learning, at most (10 min at 20 Hz)
HOLD_BACK_S = 600.0  # ... and for at most this long
ACCEPT_LEARNS_S = 3600.0  # an accepted level is learned from the readings of its last hour
ACCEPT_LEARNS = 3600  # ... at most this many (the last hour at 1 Hz)
HOLD_RELEASE = 10  # readings in a row not suspect that end a run without an alarm ...
HOLD_RELEASE_S = 60.0  # ... and for at least this long


@dataclass(frozen=True, slots=True)
class AlertDraft:
    """An alert before the agent gives it an id, a sequence number and the device's identity."""

    sensor: str
    channel: str
    kind: str
    ts: float
    value: float | None
    unit: str | None
    score: float
    grade: Grade
    reason: Reason
    context: tuple[float, ...]
    message: str
    cleared: bool = False


def build_detector(sensor: SensorConfig) -> Detector:
    name = sensor.detection.detector
    return make_detector(DEFAULT_DETECTOR if name == "default" else name, sensor.detection.params)


class ChannelPipeline:
    """Calibrate, score, decide and (only when normal) learn one channel's readings.

    ``last_score`` is the latest reading's score, ``alarming`` whether an alert state of this
    channel is active (what ``replay``'s ``alarm`` column shows), ``accepted`` how many times
    an alarm's level was accepted as the new normal.
    """

    def __init__(self, sensor: SensorConfig, channel: ChannelConfig, detector: Detector) -> None:
        self.sensor = sensor
        self.channel = channel
        self.detector = detector
        self.decider = ChannelDecider(channel, sensor.detection)
        self.context: deque[float] = deque(maxlen=CONTEXT_VALUES)
        self.held: deque[tuple[float, float]] = deque()
        self.recent: deque[tuple[float, float]] = deque()  # (value, ts) of the last ACCEPT_LEARNS_S
        self.last_score = 0.0
        self.accepted = 0
        self._calm = 0  # readings in a row not suspect since the held run's last suspect one
        self._over = 0  # readings in a row at or above the alarm threshold in the held run
        self._alarm_worthy = False  # the held run had an alarm's onset (the cool-down kept it off)
        self._suspect_at = -math.inf  # when the last suspect reading came

    @property
    def alarming(self) -> bool:
        return self.decider.active

    def calibrate(self, raw: float) -> float:
        return raw * self.channel.scale + self.channel.offset

    def process(self, ts: float, raw: float, learn: bool = True) -> AlertDraft | None:
        """One raw reading; ``learn=False`` while the sensor has an active fault."""
        return self.process_value(ts, self.calibrate(raw), learn)

    def process_value(self, ts: float, value: float, learn: bool = True) -> AlertDraft | None:
        """One calibrated reading. A non-finite value is no reading: the caller counts it as a
        bad read (edge/health.py); here it is ignored, so no detector or alert ever sees one."""
        score = self.observe(ts, value)
        if score is None:
            return None
        return self.conclude(ts, value, score, learn)

    def observe(self, ts: float, value: float) -> float | None:
        """The first half of ``process_value``: keep the reading's context and score it (None
        for a non-finite value, which is no reading). Changes no model."""
        if not math.isfinite(value):
            return None
        self.context.append(round(value, 6))
        self.recent.append((value, ts))
        while ts - self.recent[0][1] > ACCEPT_LEARNS_S or len(self.recent) > ACCEPT_LEARNS:
            self.recent.popleft()
        score = self.detector.score(value, ts)
        if not 0.0 <= score <= 1.0:  # NaN included: a detector that cannot tell says "anomalous"
            score = 1.0 if not score < 0.0 else 0.0
        self.last_score = score
        return score

    def conclude(self, ts: float, value: float, score: float, learn: bool = True) -> AlertDraft | None:
        """The second half of ``process_value``: decide on ``score`` (the detector's, or what a
        device-level arbitration made of it, edge/device_pipeline.py) and learn the reading if
        the channel judged it normal."""
        decision = self.decider.decide(ts, value, score)
        if learn:
            self._learn(ts, value, score)
        else:
            self._drop_held()
        accepted = self._accept(ts, value)
        if accepted is not None:
            decision = accepted
        if decision is None:
            return None
        return self.draft(ts, value, score, decision)

    def draft(self, ts: float, value: float, score: float, decision: Decision) -> AlertDraft:
        return AlertDraft(
            sensor=self.sensor.id, channel=self.channel.name, kind=self.sensor.kind, ts=ts,
            value=value, unit=self.channel.unit, score=min(max(score, 0.0), 1.0),
            grade=decision.grade, reason=decision.reason, context=tuple(self.context),
            message=decision.message, cleared=decision.cleared,
        )

    def _learn(self, ts: float, value: float, score: float) -> None:
        if self.decider.active:
            self._drop_held()  # the excursion that led to the alarm is never learned
            return
        threshold = min(self.detector.suspect_score, self.sensor.detection.clear_threshold)
        suspect = score > 0.0 and score >= threshold or self.decider.pending
        if not suspect and not self.held:
            self.detector.learn(value, ts)
            return
        # A run is open: hold everything (in order) until it has been calm for long enough.
        self.held.append((value, ts))
        self._calm = 0 if suspect else self._calm + 1
        if suspect:
            self._suspect_at = ts
        self._over = self._over + 1 if score >= self.sensor.detection.threshold else 0
        if self._over >= self.decider.needed():
            self._alarm_worthy = True  # an onset the cool-down suppressed: a hazard all the same
        if self._calm >= max(HOLD_RELEASE, self.decider.needed()) and \
                ts - self._suspect_at >= HOLD_RELEASE_S:
            if not self._alarm_worthy:
                for held in self.held:
                    self.detector.learn(*held)
            self._drop_held()
            return
        while len(self.held) > HOLD_BACK or ts - self.held[0][1] > HOLD_BACK_S:
            held = self.held.popleft()
            if not self._alarm_worthy:
                self.detector.learn(*held)

    def _accept(self, ts: float, value: float) -> Decision | None:
        """An anomaly alarm that has lasted ``accept_after_s`` (no limit breached): its level
        is the new normal. The detector starts afresh from it, and a cleared alert says so."""
        since = self.decider.anomaly_since
        if since is None or self.decider.limit_active or \
                ts - since < self.sensor.detection.accept_after_s:
            return None
        self.accepted += 1
        unit = f" {self.channel.unit}" if self.channel.unit else ""
        baseline = f"{statistics.median(v for v, _ in self.recent):g}{unit}"
        # The model keeps what it knew (its daily profile, its ranges) and learns the level that
        # stayed: the readings of the last ACCEPT_LEARNS_S, in order.
        for old_value, old_ts in self.recent:
            self.detector.learn(old_value, old_ts)
        self._drop_held()
        return self.decider.accept(ts, f"accepted as the new normal, baseline now {baseline} "
                                   f"(median of the last {len(self.recent)} readings),")

    def _end_and_relearn(self, ts: float, how: str) -> Decision | None:
        unit = f" {self.channel.unit}" if self.channel.unit else ""
        baseline = (f"{statistics.median(self.context):g}{unit} (median of the last "
                    f"{len(self.context)} readings)") if self.context else "learned afresh"
        self.relearn()
        return self.decider.accept(ts, f"{how}, baseline now {baseline},")

    def relearn(self) -> None:
        """Forget everything learned: a fresh detector of the same configuration."""
        self.detector = make_detector(self.detector.name, self.detector.params())
        self._drop_held()

    def _drop_held(self) -> None:
        """End the held run without learning what is left of it."""
        self.held.clear()
        self._calm = 0
        self._over = 0
        self._alarm_worthy = False

    def relearn_now(self, ts: float, how: str) -> AlertDraft | None:
        """A technician's relearn: a fresh detector, and a cleared alert if an anomaly was up."""
        decision = self._end_and_relearn(ts, how)
        if decision is None or not self.context:
            return None
        return self.draft(ts, self.context[-1], 0.0, decision)
