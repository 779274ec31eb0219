"""One channel's path from a raw number to an alert draft: calibrate, detect, decide.

Pure: the agent feeds readings with their time and stamps ids and sequence
numbers on what comes out.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from edge.config import ChannelConfig, SensorConfig
from edge.decide import ChannelDecider
from edge.detectors import DEFAULT_DETECTOR, Detector, make_detector
from lifeline.grades import Grade
from lifeline.wire import Reason

CONTEXT_VALUES = 16


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
    def __init__(self, sensor: SensorConfig, channel: ChannelConfig, detector: Detector) -> None:
        self.sensor = sensor
        self.channel = channel
        self.detector = detector
        self.decider = ChannelDecider(channel, sensor.detection)
        self.context: deque[float] = deque(maxlen=CONTEXT_VALUES)
        self.last_score = 0.0  # the score of the last reading (replay --all-columns writes it)

    def process(self, ts: float, raw: float) -> AlertDraft | None:
        value = raw * self.channel.scale + self.channel.offset
        self.context.append(round(value, 6))
        score = self.detector.update(value, ts)
        self.last_score = score
        decision = self.decider.decide(ts, value, score)
        if decision is None:
            return None
        return AlertDraft(
            sensor=self.sensor.id, channel=self.channel.name, kind=self.sensor.kind, ts=ts,
            value=value, unit=self.channel.unit, score=min(max(score, 0.0), 1.0),
            grade=decision.grade, reason=decision.reason, context=tuple(self.context),
            message=decision.message,
        )
