"""One multi-column sensor's path from a vector of raw numbers to alert drafts: every channel, and the
whole machine.

Each channel runs its own ``ChannelPipeline`` (edge/pipeline.py: calibrate, detect, decide). A
sensor with at least ``MIN_CHANNELS`` channels also gets a multichannel detector over the calibrated
vector (edge/detectors/multichannel.py) and a decider of its own: it alarms when the channels stop
moving together, even while each stays in its usual range. Its alerts go out on the channel that
contributed most when the alarm began (kept for the alarm's lifetime, so its repeats and its
clearing reach the hub as one stream), the message names the top contributors, and ``context`` is
that channel's recent values.

A channel's own anomaly score is arbitrated by the machine before the channel's decider sees it
(``DevicePipeline.arbitrate``): a channel that leaves its range while the multichannel detector
finds the vector consistent with how the channels move together is in a new regime (a second pump,
a demand step), not a hazard: no alarm, so the reading is normal and every detector learns it. A
channel alarm needs the machine's confirmation (its score elevated, and that channel among the
contributors); limits and sensor faults are never arbitrated. While the multichannel detector is
still warming up (a day: the device's commissioning) only limits and sensor faults alarm.

The multichannel detector learns a vector only when nothing is alarming: no channel of the
sensor, and not itself (its score below the threshold). It observes every vector before scoring
it (its slow residual, an average over minutes, sees a gauge drifting off the joint pattern).
``[sensors.detection] multichannel = "none"`` turns it off. Pure: time is an argument; the agent
and ``lifeline-edge replay --all-columns`` both drive it.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

from edge.config import ChannelConfig, DetectionConfig, SensorConfig
from edge.decide import ChannelDecider
from edge.pipeline import AlertDraft, ChannelPipeline, build_detector
from lifeline.grades import Grade
from lifeline.wire import Reason

MIN_CHANNELS = 3  # multichannel detection is on by default from this many channels
DEFAULT_MULTICHANNEL = "pca_t2q"
OFF = "none"
# The multichannel decider wants this many readings in a row over the threshold (at least the
# sensor's own min_readings): one noisy vector of ten channels is not a broken machine, nor is a
# pump's few-second start-up surge. Picked on the equipment benchmark's tuning split (3, 6, 8).
MIN_READINGS = 6
TOP_CHANNELS = 3
# A channel's own score that stands without the machine's confirmation. None does by default:
# on the equipment benchmark's tuning split, letting a score of 0.999 stand alone (a channel a
# quarter of its range beyond what it learned) turned the large consumer's demand steps into
# channel alarms that were never learned and stayed up for hours (F1 0.53 at 2.7 % false alarms,
# against 0.75 at 0.30 % without). A channel truly far outside is far outside the machine's
# model too (T² or Q), and a limit catches what must never be. Until the multichannel detector
# is warm (its first day: the device's commissioning) nothing confirms a channel's score: every
# channel learns its daily cycle and regimes then, and only limits and sensor faults alarm.
ALONE = math.inf
# When the machine confirms (its score at least `confirm`, or its alarm up), a channel's score
# stands if the channel carries at least this share of the multichannel excess (10 channels: a
# fair share), so a leak alarms the flow meters and not every channel that happens to be high.
SHARE = 0.1
# A gauge is stuck when its value has not changed for STUCK_FACTOR times the longest run of
# unchanged readings it had in normal running, and for STUCK_MIN readings at least.
STUCK_FACTOR = 2.0
STUCK_MIN = 30
STUCK_LIVE = 5.0  # a live gauge: its value changed every 5 readings or more often, on average


def multichannel_name(sensor: SensorConfig) -> str | None:
    """The vector detector this sensor runs, or None.

    Read defensively: ``multichannel`` is a ``[sensors.detection]`` key (``"none"`` turns it off;
    ``"auto"`` or absent: on from ``MIN_CHANNELS`` channels).
    """
    name = str(getattr(sensor.detection, "multichannel", "auto") or "auto")
    if name == OFF or len(sensor.channels) < MIN_CHANNELS:
        return None
    return DEFAULT_MULTICHANNEL if name in ("auto", "default") else name


def multichannel_detection(detection: DetectionConfig, min_readings: int = MIN_READINGS) -> DetectionConfig:
    """The decider settings of the multichannel alarm: the sensor's, with a minimum run."""
    return dataclasses.replace(detection, min_readings=max(detection.min_readings, min_readings))


class DevicePipeline:
    """Every channel of one sensor, and the multichannel detector over them.

    ``channel_pipelines`` and ``multichannel`` may be given (the agent builds the channel
    pipelines itself); by default they are built from the sensor's configuration.
    ``min_readings``: readings in a row over the threshold the multichannel alarm wants.
    """

    def __init__(self, sensor: SensorConfig,
                 channel_pipelines: Sequence[ChannelPipeline] | None = None,
                 multichannel: Any = "default", min_readings: int = MIN_READINGS,
                 confirm: float | None = None, alone: float = ALONE,
                 confirm_scores: bool = True, share: float = SHARE) -> None:
        from edge.detectors import make_vector_detector

        self.sensor = sensor
        self.channels = list(channel_pipelines) if channel_pipelines is not None else [
            ChannelPipeline(sensor, ch, build_detector(sensor)) for ch in sensor.channels]
        if multichannel == "default":
            name = multichannel_name(sensor)
            params: dict[str, Any] = dict(getattr(sensor.detection, "multichannel_params", {}) or {})
            multichannel = None if name is None else make_vector_detector(name, params)
        self.multichannel = multichannel
        self.decider = ChannelDecider(ChannelConfig(name="multichannel"),
                                      multichannel_detection(sensor.detection, min_readings))
        self.confirm = sensor.detection.clear_threshold if confirm is None else confirm
        self.alone = alone
        self.confirm_scores = confirm_scores
        self.share = share
        self._last: list[float] = []  # each channel's last value, its run of unchanged readings,
        self._run: list[int] = []  # and whether every reading of that run was normal
        self._run_clean: list[bool] = []
        self._learned = True  # whether the multichannel detector learned the last vector
        self.score = 0.0  # the multichannel score of the last vector
        self.scores: list[float] = [0.0] * len(self.channels)  # each channel's last score
        self._owner: int | None = None  # the channel the active multichannel alarm is sent on
        # the contributions of the vector being processed, computed at most once per vector
        # (arbitration, the alarm's owner and its message all want them)
        self._shares: tuple[tuple[float, tuple[float, ...]], list[float]] | None = None

    @property
    def alarm(self) -> bool:
        """True while any alarm of this sensor (a channel's or the multichannel one) is active."""
        return self.decider.active or any(p.decider.active for p in self.channels)

    @property
    def multichannel_active(self) -> bool:
        return self.decider.active

    def process(self, ts: float, raws: Sequence[float], learn: bool = True) -> list[AlertDraft]:
        """Run one vector through every channel, then the multichannel detector; return the drafts.
        ``learn=False`` (the sensor has an active fault): nothing is learned, by any detector.

        With a multichannel detector, a channel's anomaly score is arbitrated before its decider
        sees it (``arbitrate``): a channel that leaves its own range while the whole machine is
        consistent is in a new regime, not a hazard."""
        drafts: list[AlertDraft] = []
        values = [raw * p.channel.scale + p.channel.offset
                  for p, raw in zip(self.channels, raws, strict=True)]
        ended = self._track_runs(values)
        scores = [p.observe(ts, v) for p, v in zip(self.channels, values, strict=True)]
        mc_score = None
        stuck: list[int] = []
        if self.multichannel is not None:
            self.multichannel.observe(values, ts)
            mc_score = self.multichannel.score(values, ts)
            scores = self.arbitrate(scores, mc_score, values, ts)
            stuck = self.stuck()
            for i in stuck:
                scores[i] = 1.0 if scores[i] is not None else None
        for i, (pipeline, value, score) in enumerate(zip(self.channels, values, scores, strict=True)):
            if score is None:  # a non-finite value: no reading (the agent counts it as a bad read)
                continue
            draft = pipeline.conclude(ts, value, score, learn)
            if draft is not None:
                if i in stuck and draft.reason is Reason.ANOMALY and not draft.cleared:
                    draft = dataclasses.replace(draft, message=f"{draft.message}; {self._stuck_words(i)}")
                drafts.append(draft)
            self.scores[i] = _last_score(pipeline, draft)
        if self.multichannel is not None:
            draft = self.process_whole(ts, values, any(p.decider.active for p in self.channels)
                                       or not learn, mc_score)
            if draft is not None:
                drafts.append(draft)
            if any(ended) and self._learned:  # nothing is learned from a reading that alarms
                self.multichannel.learn_runs(ended)
            if not self._learned:  # this reading was not normal: the run it is part of is not either
                self._run_clean = [False] * len(self._run_clean)
        return drafts

    def _track_runs(self, values: list[float]) -> list[int]:
        """Count each channel's run of unchanged readings; return the length of every run that
        ended with this reading and was normal throughout (0 for the others)."""
        if len(self._run) != len(values):
            self._last = [math.nan] * len(values)
            self._run = [0] * len(values)
            self._run_clean = [True] * len(values)
        ended = [0] * len(values)
        for i, value in enumerate(values):
            if value == self._last[i]:
                self._run[i] += 1
                continue
            if self._run_clean[i]:
                ended[i] = self._run[i]
            self._last[i], self._run[i], self._run_clean[i] = value, 1, True
        return ended

    def stuck(self) -> list[int]:
        """Channels whose value has not changed for longer than the machine's normal allows:
        ``STUCK_FACTOR`` times the longest run learned in normal running, and ``STUCK_MIN``
        readings at least (a gauge stuck on its last value stays inside every range and, while
        the other channels are quiet, inside the machine's model too)."""
        detector = self.multichannel
        if detector is None or not detector.warm:
            return []
        longest = detector.longest_runs()
        if len(longest) != len(self._run):
            return []
        # Only a live gauge can stick: one whose value changed every few readings in normal
        # running (a pump's status, a flow that is often exactly 0, a channel that never changed
        # while learned: none of them is a gauge that moves by itself).
        mean = detector.mean_runs()
        return [i for i, (run, known) in enumerate(zip(self._run, longest, strict=True))
                if known > 0 and mean[i] <= STUCK_LIVE and run >= max(STUCK_MIN, STUCK_FACTOR * known)]

    def _stuck_words(self, i: int) -> str:
        known = self.multichannel.longest_runs()[i]
        return (f"value unchanged for {self._run[i]} readings (at most {known} in normal running): "
                "a stuck gauge?")

    def contributions(self, values: list[float], ts: float) -> list[float]:
        """The multichannel detector's contributions for this vector, computed once per vector
        (and again only after the detector learned something)."""
        key = (ts, tuple(values))
        if self._shares is None or self._shares[0] != key:
            self._shares = (key, self.multichannel.contributions(values))
        return self._shares[1]

    def arbitrate(self, scores: list[float | None], mc_score: float,
                  values: list[float], ts: float = math.nan) -> list[float | None]:
        """What each channel's decider sees, given the multichannel score of the same vector.

        A channel's own score stands when the machine confirms it: the multichannel score is at
        least ``confirm`` (the channels no longer move as they did, or the operating point is
        one the machine was never at) or the multichannel alarm is up, and the channel carries
        at least ``share`` of what makes the vector anomalous; or its score is at least
        ``alone`` (by default never). Otherwise the channel is in a regime the machine knows how
        to be in (a second pump started, a large consumer switched on): its score is taken as
        0, so no alarm starts and the reading is normal, and both the channel and the
        multichannel detector learn it. While the multichannel detector is still learning the
        machine (its warm-up), nothing confirms. Limit breaches and sensor faults are decided
        elsewhere and never pass through here.
        """
        detector = self.multichannel
        if not self.confirm_scores or detector is None:
            return scores
        alone = self.alone
        if detector.warm and (mc_score >= self.confirm or self.decider.active):
            if self.share <= 0.0 or not any(s for s in scores):
                return scores
            shares = self.contributions(values, ts)
            return [s if s is None or s >= alone or share >= self.share else 0.0
                    for s, share in zip(scores, shares, strict=True)]
        return [s if s is None or s >= alone else 0.0 for s in scores]

    def process_whole(self, ts: float, values: list[float], channels_active: bool,
                      score: float | None = None) -> AlertDraft | None:
        """The multichannel step alone, given whether it must not learn (a channel alarm is active,
        or the sensor has a fault) and, if already known, the vector's score (``process`` runs it
        after the channels; the tuning benchmark runs it over recorded channel alarms)."""
        detector = self.multichannel
        was_active = self.decider.active
        if score is None:
            score = detector.score(values, ts)
        self.score = score
        decision = self.decider.decide(ts, 0.0, score)
        active = self.decider.active
        quiet = not active and not channels_active
        self._learned = quiet and score < self.decider.detection.threshold
        if self._learned:
            detector.learn(values, ts)
            self._shares = None  # the model may have moved
        if active and self._owner is None:
            shares = self.contributions(values, ts)
            self._owner = max(range(len(shares)), key=shares.__getitem__)
        owner = self._owner
        if owner is None:
            return None
        cleared = bool(getattr(decision, "cleared", False)) or (was_active and not active)
        if not active:
            self._owner = None
        if decision is None and not cleared:
            return None
        pipeline = self.channels[owner]
        if cleared:
            message = "multichannel: the channels move together again"
            grade, reason = Grade.BLUE, Reason.ANOMALY
        else:
            assert decision is not None
            message = f"multichannel {decision.message}; {self._top(values, ts)}"
            grade, reason = decision.grade, decision.reason
        return AlertDraft(
            sensor=self.sensor.id, channel=pipeline.channel.name, kind=self.sensor.kind, ts=ts,
            value=values[owner], unit=pipeline.channel.unit, score=min(max(score, 0.0), 1.0),
            grade=grade, reason=reason, context=tuple(pipeline.context), message=message,
            cleared=cleared)

    def relearn_multichannel(self, ts: float) -> AlertDraft | None:
        """A technician's relearn (``lifeline-edge relearn``): the multichannel detector starts
        afresh, and an active multichannel alarm ends with a cleared alert saying so."""
        detector = self.multichannel
        if detector is None:
            return None
        from edge.detectors import make_vector_detector

        self.multichannel = make_vector_detector(detector.name, detector.params())
        owner, was_active = self._owner, self.decider.active
        self.decider = ChannelDecider(self.decider.channel, self.decider.detection)
        self._owner, self.score, self._shares = None, 0.0, None
        if not was_active or owner is None:
            return None
        pipeline = self.channels[owner]
        return AlertDraft(
            sensor=self.sensor.id, channel=pipeline.channel.name, kind=self.sensor.kind, ts=ts,
            value=pipeline.context[-1] if pipeline.context else None, unit=pipeline.channel.unit,
            score=0.0, grade=Grade.BLUE, reason=Reason.ANOMALY, context=tuple(pipeline.context),
            message="multichannel: relearned on request; the model starts afresh", cleared=True)

    def _top(self, values: list[float], ts: float) -> str:
        """The channels that contribute most to the multichannel score, with their shares."""
        shares = self.contributions(values, ts)
        order = sorted(range(len(shares)), key=lambda i: -shares[i])[:TOP_CHANNELS]
        parts = [f"{self.channels[i].channel.name} {100 * shares[i]:.0f} %" for i in order]
        return "channels off their joint pattern: " + ", ".join(parts)

    def detectors(self) -> dict[str, Any]:
        """Every detector of this sensor by checkpoint key (``sensor/channel``, ``sensor/*``)."""
        out: dict[str, Any] = {f"{self.sensor.id}/{p.channel.name}": p.detector for p in self.channels}
        if self.multichannel is not None:
            out[f"{self.sensor.id}/*"] = self.multichannel
        return out


def _last_score(pipeline: ChannelPipeline, draft: AlertDraft | None) -> float:
    """The channel's score of the reading it just processed (the pipeline keeps it if it can)."""
    last = getattr(pipeline, "last_score", None)
    if isinstance(last, float):
        return last
    return draft.score if draft is not None else 0.0
