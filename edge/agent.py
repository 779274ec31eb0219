"""The edge agent's main loop: serial lines in, alerts out.

Reader threads (edge/serial_io.py) put raw lines on one queue; this loop parses
them (edge/lines.py), runs each channel's pipeline (edge/pipeline.py), checks
sensor health (edge/health.py) and publishes alerts through the MQTT link
(edge/mqtt_link.py). Everything that decides is pure; this module only wires.
"""

from __future__ import annotations

import logging
import os
import queue
import signal
import threading
import time
import uuid
from pathlib import Path
from types import FrameType

from edge.config import EdgeConfig, SensorConfig
from edge.health import FaultChange, HealthMonitor
from edge.lines import LineError, parse_line
from edge.mqtt_link import MqttLink
from edge.pipeline import AlertDraft, ChannelPipeline, build_detector
from edge.serial_io import LineEvent, LineReader
from lifeline import wire
from lifeline.grades import Grade

log = logging.getLogger(__name__)

VERSION = "0.1.0"
HEALTH_EVERY_S = 1.0
STATUS_EVERY_S = 60.0


class SequenceCounter:
    """Per-device alert sequence numbers, kept in the state directory across restarts."""

    def __init__(self, state_dir: Path | None) -> None:
        self.path = state_dir / "sequence" if state_dir else None
        self.value = 0
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            try:
                self.value = int(self.path.read_text().strip() or 0)
            except FileNotFoundError:
                pass
            except ValueError:
                log.warning("ignoring unreadable sequence file %s", self.path)

    def next(self) -> int:
        self.value += 1
        if self.path is not None:
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(str(self.value))
            os.replace(tmp, self.path)
        return self.value


class SensorRuntime:
    """What the agent keeps per sensor: its channels' pipelines and its health."""

    def __init__(self, sensor: SensorConfig, now: float) -> None:
        self.config = sensor
        self.channels = [ChannelPipeline(sensor, ch, build_detector(sensor))
                         for ch in sensor.channels]
        self.health = HealthMonitor(sensor.silence_s, sensor.stuck_s, sensor.max_error_rate, now)
        self.readings = 0


class Agent:
    def __init__(self, config: EdgeConfig) -> None:
        self.config = config
        self.events: queue.Queue[LineEvent] = queue.Queue(maxsize=10_000)
        self.stop_event = threading.Event()
        now = time.time()
        self.sensors = {s.id: SensorRuntime(s, now) for s in config.sensors}
        self.link = MqttLink(config, VERSION)
        self.sequence = SequenceCounter(config.device.state_dir)
        self.readers = [LineReader(s.id, s.port, s.baudrate, self.events, self.stop_event)
                        for s in config.sensors]
        self.alerts_sent = 0

    def request_stop(self, signum: int = 0, frame: FrameType | None = None) -> None:
        self.stop_event.set()

    def run(self) -> int:
        log.info("edge agent starting device=%s zone=%s sensors=%d broker=%s:%d",
                 self.config.device.id, self.config.device.zone, len(self.sensors),
                 self.config.mqtt.host, self.config.mqtt.port)
        self.link.start()
        for reader in self.readers:
            reader.start()
        next_health = time.monotonic() + HEALTH_EVERY_S
        next_status = time.monotonic() + STATUS_EVERY_S
        while not self.stop_event.is_set():
            try:
                self.handle(self.events.get(timeout=0.2))
            except queue.Empty:
                pass
            if time.monotonic() >= next_health:
                next_health += HEALTH_EVERY_S
                self.check_health(time.time())
            if time.monotonic() >= next_status:
                next_status += STATUS_EVERY_S
                self.link.publish_status(tuple(self.sensors))
        log.info("edge agent stopping device=%s alerts_sent=%d", self.config.device.id,
                 self.alerts_sent)
        self.link.stop(tuple(self.sensors))
        return 0

    def handle(self, event: LineEvent) -> None:
        runtime = self.sensors[event.sensor]
        if event.kind == "port_error":
            runtime.health.port_error(event.ts, str(event.payload))
            return
        if event.kind == "port_ok":
            runtime.health.port_ok(event.ts)
            return
        assert isinstance(event.payload, bytes)
        try:
            values = parse_line(event.payload, len(runtime.channels))
        except LineError as exc:
            runtime.health.bad_line(event.ts, exc.reason)
            log.warning("bad line sensor=%s port=%s reason=%s: %s", event.sensor,
                        runtime.config.port, exc.reason, exc)
            return
        if values is None:
            return
        runtime.readings += 1
        runtime.health.reading(event.ts, values)
        ts = round(event.ts, 3)
        for pipeline, raw in zip(runtime.channels, values, strict=True):
            draft = pipeline.process(ts, raw)
            if draft is not None:
                self.emit(draft)

    def check_health(self, now: float) -> None:
        for sensor_id, runtime in self.sensors.items():
            for change in runtime.health.evaluate(now):
                self.emit(self._fault_draft(runtime, change, now))
                log.log(logging.WARNING if change.active else logging.INFO,
                        "sensor fault %s sensor=%s fault=%s: %s",
                        "raised" if change.active else "cleared", sensor_id, change.fault,
                        change.message)

    @staticmethod
    def _fault_draft(runtime: SensorRuntime, change: FaultChange, now: float) -> AlertDraft:
        channel = runtime.channels[0]
        return AlertDraft(
            sensor=runtime.config.id, channel=channel.channel.name, kind=runtime.config.kind,
            ts=round(now, 3), value=None, unit=None, score=0.0, grade=Grade.YELLOW,
            reason=wire.Reason.SENSOR_FAULT, context=tuple(channel.context),
            message=f"{change.fault}: {change.message}", cleared=not change.active,
        )

    def emit(self, draft: AlertDraft) -> None:
        device = self.config.device
        alert = wire.Alert(
            id=uuid.uuid4().hex, device=device.id, zone=device.zone, sensor=draft.sensor,
            channel=draft.channel, kind=draft.kind, ts=draft.ts, value=draft.value,
            score=draft.score, grade=draft.grade, reason=draft.reason,
            seq=self.sequence.next(), unit=draft.unit, context=draft.context,
            message=draft.message, cleared=draft.cleared,
        )
        self.link.publish_alert(alert)
        self.alerts_sent += 1
        log.info("alert id=%s sensor=%s channel=%s reason=%s grade=%s: %s", alert.id,
                 alert.sensor, alert.channel, alert.reason.value, alert.grade.label,
                 alert.message)


def run_agent(config: EdgeConfig) -> int:
    agent = Agent(config)
    signal.signal(signal.SIGTERM, agent.request_stop)
    signal.signal(signal.SIGINT, agent.request_stop)
    return agent.run()
