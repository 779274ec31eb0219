"""The edge agent's main loop: serial lines in, alerts out, nothing lost.

Readers (edge/drivers/: one thread for every lines and vibration port, one per
Modbus sensor) put decoded readings on one queue; this loop runs each channel's
pipeline (edge/pipeline.py), checks sensor health (edge/health.py), writes every
alert to the durable outbox (edge/outbox.py) and lets delivery (edge/delivery.py)
send it until the hub acknowledges it. Everything that decides is pure; this module only wires.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import queue
import signal
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import IO

from edge import board_state, checkpoint, maintenance
from edge.config import EdgeConfig, SensorConfig, load_edge_config
from edge.delivery import Delivery
from edge.detectors import Detector
from edge.device_pipeline import DevicePipeline
from edge.drivers import Reader, make_reader
from edge.drivers.stream import StreamMux
from edge.health import FaultChange, HealthMonitor
from edge.mqtt_link import MqttLink
from edge.outbox import Outbox
from edge.pipeline import AlertDraft, ChannelPipeline, build_detector
from edge.serial_io import LineEvent
from lifeline import wire
from lifeline.grades import Grade
from lifeline.logbudget import LogBudget
from lifeline.sdnotify import Notifier
from lifeline.tomlconfig import ConfigError

log = logging.getLogger(__name__)

VERSION = "0.1.0"
HEALTH_EVERY_S = 1.0
STATUS_EVERY_S = 60.0
CHECKPOINT_EVERY_S = 300.0
# The first checkpoint comes sooner: a board rebooted in its first minutes keeps what it
# learned, and the memory the first save takes for good (~0.35 MB, the allocator keeping
# what JSON-encoding every detector's state used) is taken during warm-up, not mid-soak.
CHECKPOINT_FIRST_S = 60.0
BAD_READ_LINES = 5  # WARNING lines per sensor and reason a minute (issue 13: 3,936 for 1 MB)
RELEARN_DIR = "relearn.d"  # lifeline-edge relearn drops one file per sensor here
READY_GRACE_S = 10.0  # report READY without a broker after this long: we buffer meanwhile


def state_dir_for(config: EdgeConfig) -> Path:
    """The configured state directory, else systemd's $STATE_DIRECTORY, else a per-user one."""
    if config.device.state_dir is not None:
        return config.device.state_dir
    if os.environ.get("STATE_DIRECTORY"):
        return Path(os.environ["STATE_DIRECTORY"].split(":")[0])
    base = Path(os.environ.get("XDG_STATE_HOME", Path.home() / ".local" / "state"))
    return base / "lifeline-edge" / config.device.id


def fit_text(text: str, limit: int = wire.MAX_TEXT) -> str:
    """``text`` cut to the wire's limit, ending in an ellipsis when cut.

    Fault messages quote OS errors, which quote the port path (pyserial twice); a long
    ``/dev/serial/by-id/...`` path must not make the alert unencodable and stop the agent.
    """
    return text if len(text) <= limit else text[:limit - 1] + "\u2026"


class SensorRuntime:
    """What the agent keeps per sensor: its channels' pipelines and its health."""

    def __init__(self, sensor: SensorConfig, now: float) -> None:
        self.config = sensor
        self.channels = [ChannelPipeline(sensor, ch, build_detector(sensor))
                         for ch in sensor.channels]
        # the channels, and from 3 of them the multichannel detector (edge/device_pipeline.py)
        self.device = DevicePipeline(sensor, self.channels)
        self.health = HealthMonitor.for_sensor(sensor, now)
        self.readings = 0
        self.detect_s = 0.0  # CPU time in this sensor's detectors (the metrics' detector cost)


@dataclass(frozen=True, slots=True)
class ReloadPlan:
    """Sensor ids by what a config reload does to them (SensorConfig equality decides)."""

    kept: tuple[str, ...]
    added: tuple[str, ...]
    removed: tuple[str, ...]
    changed: tuple[str, ...]


def plan_reload(old: tuple[SensorConfig, ...], new: tuple[SensorConfig, ...]) -> ReloadPlan:
    before = {s.id: s for s in old}
    after = {s.id: s for s in new}
    return ReloadPlan(
        kept=tuple(i for i in after if i in before and before[i] == after[i]),
        added=tuple(i for i in after if i not in before),
        removed=tuple(i for i in before if i not in after),
        changed=tuple(i for i in after if i in before and before[i] != after[i]),
    )


class Agent:
    def __init__(self, config: EdgeConfig) -> None:
        self.config = config
        self.events: queue.Queue[LineEvent] = queue.Queue(maxsize=10_000)
        self.stop_event = threading.Event()
        now = time.time()
        self.sensors = {s.id: SensorRuntime(s, now) for s in config.sensors}
        self.state_dir = state_dir_for(config)
        self.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)  # private if new
        self.outbox = Outbox(self.state_dir / "outbox.db", max_alerts=config.outbox_max_alerts)
        self.link = MqttLink(config, VERSION)
        self.delivery = Delivery(self.outbox, self.link.publish_alert_payload)
        self.mux = StreamMux()  # one thread reads every lines/vibration port
        self.readers = {s.id: self._reader(s) for s in config.sensors}
        self.reload_requested = threading.Event()
        self.link_generation = 0  # the MqttLink connection delivery last replayed for
        self.running = False
        self.notifier = Notifier()
        self.counters: dict[str, int] = {"alerts": 0, "dropped": 0, "bad_lines": 0}
        self.bad_reads: Counter[tuple[str, str]] = Counter()  # (sensor, reason)
        self.alerts_by_reason: Counter[str] = Counter()
        self.last_delivery = 0.0  # when the hub last acknowledged one of our alerts
        self.metrics = None
        if config.metrics.enabled:  # prometheus_client only then (512 MB boards)
            from edge.metrics import EdgeMetrics

            self.metrics = EdgeMetrics(self)
        # bad reads: a few WARNING lines per sensor and reason a minute, the rest counted
        self.bad_read_log = LogBudget(per_window=BAD_READ_LINES, window_s=60.0)
        restored = checkpoint.restore(self.checkpoint_path, self.detectors)
        if restored:
            log.info("restored %d detector checkpoint(s) from %s", restored, self.checkpoint_path)
        self.check_relearn(time.time())  # requests made while the agent was not running
        self.board_failures = 0
        self.board_dir = board_state.board_dir(self.state_dir)
        self.lock: IO[bytes] | None = None  # held while run() runs (edge/maintenance.py)
        self.maintenance_mtime: float | None = None
        self.check_maintenance(time.time())

    @property
    def detectors(self) -> dict[str, Detector]:
        """Every channel's detector by ``sensor/channel`` (what the checkpoint holds)."""
        return self._detectors()

    @property
    def checkpoint_path(self) -> Path:
        return self.state_dir / "detectors.json"

    def _detectors(self) -> dict[str, Detector]:
        # sensor/channel for each channel's detector, sensor/* for the multichannel one
        return {key: detector for rt in self.sensors.values()
                for key, detector in rt.device.detectors().items()}

    def _reader(self, sensor: SensorConfig) -> Reader:
        # Each reader has its own stop event, so a reload can stop one sensor's reader.
        return make_reader(sensor, self.events, threading.Event(), self.mux)

    def request_stop(self, signum: int = 0, frame: FrameType | None = None) -> None:
        self.stop_event.set()
        for reader in self.readers.values():
            reader.stop.set()
        self.mux.shutdown()

    def request_reload(self, signum: int = 0, frame: FrameType | None = None) -> None:
        self.reload_requested.set()

    def reload(self) -> ReloadPlan | None:
        """Re-read the config file and apply its sensors; keep everything on a bad file.

        Unchanged sensors keep their reader, detectors and health. ``[device]``, ``[mqtt]``
        and ``[outbox]`` are not reloaded (they need a restart).
        """
        try:
            new = load_edge_config(self.config.path)
        except (ConfigError, OSError) as exc:
            log.error("config reload failed; keeping the running config:\n%s", exc)
            return None
        if (new.device, new.mqtt, new.outbox_max_alerts) != (
                self.config.device, self.config.mqtt, self.config.outbox_max_alerts):
            log.warning("config reload: [device], [mqtt] and [outbox] changes need a restart")
        plan = plan_reload(self.config.sensors, new.sensors)
        now = time.time()
        try:  # build everything new before touching what runs
            fresh = {s.id: SensorRuntime(s, now) for s in new.sensors
                     if s.id in plan.added or s.id in plan.changed}
        except (TypeError, ValueError, KeyError, ImportError) as exc:
            log.error("config reload failed: a detector cannot be built (%s); keeping the running "
                      "config", exc)
            return None
        for sensor_id in (*plan.removed, *plan.changed):
            self.readers.pop(sensor_id).stop.set()
            del self.sensors[sensor_id]
        self.mux.wake()  # close the stopped streams' ports now, before reopening any
        for sensor in new.sensors:
            if sensor.id in fresh:
                self.sensors[sensor.id] = fresh[sensor.id]
                self.readers[sensor.id] = self._reader(sensor)
                if self.running:
                    self.readers[sensor.id].start()
        self.sensors = {s.id: self.sensors[s.id] for s in new.sensors}  # config order
        self.config = dataclasses.replace(self.config, sensors=new.sensors,
                                          detection=new.detection)
        log.info("config reloaded from %s: kept=%s added=%s removed=%s changed=%s",
                 self.config.path, ",".join(plan.kept) or "-", ",".join(plan.added) or "-",
                 ",".join(plan.removed) or "-", ",".join(plan.changed) or "-")
        return plan

    def run(self) -> int:
        log.info("edge agent starting device=%s zone=%s sensors=%d broker=%s:%d state=%s "
                 "outbox_depth=%d", self.config.device.id, self.config.device.zone,
                 len(self.sensors), self.config.mqtt.host, self.config.mqtt.port, self.state_dir,
                 self.outbox.depth)
        # probe asks whether an agent runs by this lock; not holding it is no reason to stop
        self.lock = maintenance.hold_agent_lock(self.state_dir)
        if self.lock is None:
            log.warning("another process holds %s: is a second agent using this state "
                        "directory?", self.state_dir / maintenance.LOCK_FILE)
        started = time.monotonic()
        self.link.start()
        if self.metrics is not None:
            self.metrics.exporter.start()
        self.running = True
        for reader in self.readers.values():
            reader.start()
        ready = False
        next_health = started + HEALTH_EVERY_S
        next_status = started + STATUS_EVERY_S
        next_checkpoint = started + CHECKPOINT_FIRST_S
        next_board = started
        while not self.stop_event.is_set():
            if self.reload_requested.is_set():
                self.reload_requested.clear()
                self.reload()
            try:
                self.handle(self.events.get(timeout=0.1))
                while True:  # drain what is queued before touching the network
                    self.handle(self.events.get_nowait())
            except queue.Empty:
                pass
            mono = time.monotonic()
            self.pump()
            if not ready and (self.link.connected.is_set() or mono - started > READY_GRACE_S):
                ready = True
                self.notifier.ready(f"{len(self.sensors)} sensors, broker "
                                    f"{'connected' if self.link.connected.is_set() else 'down'}")
            if mono >= next_health:
                next_health = mono + HEALTH_EVERY_S
                self.check_health(time.time())
                self.check_relearn(time.time())
                if self.check_maintenance(time.time()):
                    self.publish_status()
                self.feed_watchdog(mono)
            if mono >= next_status:
                next_status = mono + STATUS_EVERY_S
                self.publish_status()
            if mono >= next_checkpoint:
                next_checkpoint = mono + CHECKPOINT_EVERY_S
                self.save_checkpoint()
            if mono >= next_board:
                next_board = mono + board_state.EVERY_S
                self.save_board()
        self.shutdown()
        return 0

    def shutdown(self) -> None:
        self.notifier.stopping()
        log.info("edge agent stopping device=%s alerts=%d outbox_depth=%d",
                 self.config.device.id, self.counters["alerts"], self.outbox.depth)
        self.save_checkpoint()
        self.apply_acks()
        self.link.stop(tuple(self.sensors))
        if self.metrics is not None:
            self.metrics.exporter.stop()
        self.link.connected.clear()  # disconnected by now, whatever paho's thread has said
        self.save_board()  # the last word: lifeline-edge status shows it as not running
        self.outbox.close()
        if self.lock is not None:
            self.lock.close()
            self.lock = None

    def check_maintenance(self, now: float) -> bool:
        """Follow ``<state_dir>/maintenance.json`` (``lifeline-edge probe --maintenance``):
        the link's statuses carry the mark while it holds. True when it changed (a status
        goes out at once); an expired mark file is removed."""
        path = self.state_dir / maintenance.MARK_FILE
        try:
            mtime: float | None = path.stat().st_mtime
        except OSError:
            mtime = None
        held = self.link.maintenance
        if mtime == self.maintenance_mtime and (held is None or held[0] > now):
            return False
        self.maintenance_mtime = mtime
        mark = maintenance.read_mark(self.state_dir) if mtime is not None else None
        if mark is not None and not mark.active(now):
            maintenance.clear_mark(self.state_dir)
            self.maintenance_mtime, mark = None, None
        wanted = None if mark is None else (mark.until, mark.comment)
        if wanted == held:
            return False
        self.link.maintenance = wanted
        if wanted is None:
            log.info("maintenance over device=%s", self.config.device.id)
        else:
            log.info("maintenance device=%s until=%s comment=%r: statuses say so",
                     self.config.device.id, wire.format_ts(wanted[0]), wanted[1])
        return True

    def save_board(self) -> None:
        """``board.json`` for ``lifeline-edge status`` (edge/board_state.py)."""
        try:
            board_state.write(self.board_dir, board_state.snapshot(self, time.time()))
        except (OSError, ValueError) as exc:
            self.board_failures += 1
            if self.board_failures == 1:
                log.error("could not write %s: %s", self.board_dir / board_state.BOARD_FILE, exc)

    def save_checkpoint(self) -> None:
        try:
            checkpoint.save(self.checkpoint_path, self.detectors)
        except (OSError, ValueError) as exc:
            log.error("could not write detector checkpoint %s: %s", self.checkpoint_path, exc)

    def feed_watchdog(self, mono: float) -> None:
        """Ping systemd only while every reader thread is making progress."""
        limit = max(self.notifier.watchdog_s / 2, 2.0)
        stale = [r.sensor for r in self.readers.values() if mono - r.heartbeat > limit or not r.is_alive()]
        if stale:
            log.error("not feeding the watchdog: reader(s) stuck: %s", ", ".join(stale))
            return
        self.notifier.watchdog()

    def publish_status(self) -> None:
        self.link.publish_status(tuple(self.sensors), self.outbox.depth,
                                 {**self.counters, **self.delivery.counters})

    def apply_acks(self) -> None:
        try:
            while True:
                before = self.delivery.counters["acked"]
                self.delivery.acknowledged(self.link.acks.get_nowait())
                if self.delivery.counters["acked"] > before:
                    self.last_delivery = time.time()
        except queue.Empty:
            pass

    def report_drops(self) -> None:
        """Once the link is back and the outbox has room, say how many alerts it dropped."""
        drops = self.outbox.drops()
        if not drops or not self.sensors:
            return
        total = sum(drops.values())
        detail = ", ".join(f"{n} {grade}" for grade, n in drops.items())
        self.outbox.reset_drops()
        first = next(iter(self.sensors.values()))
        self.emit(AlertDraft(
            sensor=first.config.id, channel=first.channels[0].channel.name,
            kind=first.config.kind, ts=round(time.time(), 3), value=None, unit=None, score=0.0,
            grade=Grade.YELLOW, reason=wire.Reason.SENSOR_FAULT, context=(),
            message=f"outbox overflow: dropped {total} alert(s) while offline ({detail})"),
            keep=True)

    def handle(self, event: LineEvent) -> None:
        runtime = self.sensors.get(event.sensor)
        if runtime is None:  # a sensor removed by a reload, its reader just stopping
            return
        if event.kind == "port_error":
            runtime.health.port_error(event.ts, event.detail)
            return
        if event.kind == "port_ok":
            runtime.health.port_ok(event.ts)
            return
        if event.kind == "bad":  # drivers decode in their thread; we count and log
            runtime.health.bad_read(event.ts, event.reason)
            self.counters["bad_lines"] += 1
            self.bad_reads[event.sensor, event.reason] += 1
            left_out = self.bad_read_log.take((event.sensor, event.reason), event.ts)
            if left_out is not None:
                log.warning("bad read sensor=%s port=%s reason=%s: %s%s", event.sensor,
                            runtime.config.port, event.reason, event.detail,
                            f" ({left_out} more with this reason not logged before this one)"
                            if left_out else "")
            return
        runtime.readings += 1
        problem = runtime.health.non_finite(event.values)
        if not runtime.health.reading(event.ts, event.values):
            if problem is not None:  # a bad read: counted (health), logged, never detected
                self.counters["bad_lines"] += 1
                self.bad_reads[event.sensor, "non_finite"] += 1
                left_out = self.bad_read_log.take((event.sensor, "non_finite"), event.ts)
                if left_out is not None:
                    log.warning("bad read sensor=%s port=%s reason=non_finite: %s%s", event.sensor,
                                runtime.config.port, problem,
                                f" ({left_out} more with this reason not logged before this one)"
                                if left_out else "")
            return  # else outside the instrument's range: a sensor fault, not a hazard
        ts = round(event.ts, 3)
        values = event.values
        learn = not runtime.health.active_faults  # a faulty sensor's readings teach nothing
        started = time.thread_time()  # this thread only: the readers run beside it
        drafts = runtime.device.process(ts, values, learn)
        runtime.detect_s += time.thread_time() - started
        for draft in drafts:
            self.emit(draft)

    def check_health(self, now: float) -> None:
        for sensor_id, runtime in self.sensors.items():
            for change in runtime.health.evaluate(now):
                self.emit(self._fault_draft(runtime, change, now))
                log.log(logging.WARNING if change.active else logging.INFO,
                        "sensor fault %s sensor=%s fault=%s: %s",
                        "raised" if change.active else "cleared", sensor_id, change.fault,
                        change.message)

    @property
    def relearn_dir(self) -> Path:
        return self.state_dir / RELEARN_DIR

    def check_relearn(self, now: float) -> None:
        """Apply ``lifeline-edge relearn`` requests: one file per sensor in ``relearn.d/``."""
        try:
            requests = sorted(self.relearn_dir.iterdir())
        except FileNotFoundError:
            return
        except OSError as exc:
            log.error("cannot read relearn requests in %s: %s", self.relearn_dir, exc)
            return
        if not requests:
            return
        for request in requests:
            runtime = self.sensors.get(request.name)
            if runtime is None:
                log.warning("relearn request for unknown sensor %r ignored", request.name)
            else:
                for pipeline in runtime.channels:
                    draft = pipeline.relearn_now(round(now, 3), "relearned on request")
                    if draft is not None:
                        self.emit(draft)
                whole = runtime.device.relearn_multichannel(round(now, 3))
                if whole is not None:
                    self.emit(whole)
                log.info("relearn sensor=%s: its detectors start afresh", request.name)
            try:
                request.unlink()
            except OSError as exc:
                log.error("cannot remove relearn request %s: %s", request, exc)
        self.save_checkpoint()

    @staticmethod
    def _fault_draft(runtime: SensorRuntime, change: FaultChange, now: float) -> AlertDraft:
        channel = runtime.channels[0]
        return AlertDraft(
            sensor=runtime.config.id, channel=channel.channel.name, kind=runtime.config.kind,
            ts=round(now, 3), value=None, unit=None, score=0.0, grade=Grade.YELLOW,
            reason=wire.Reason.SENSOR_FAULT, context=tuple(channel.context),
            message=f"{change.fault}: {change.message}", cleared=not change.active,
        )

    def emit(self, draft: AlertDraft, keep: bool = False) -> None:
        """Give the draft its identity and put it in the outbox; delivery sends it from there.

        ``keep``: the outbox drops this alert last (the report of earlier drops).
        """
        device = self.config.device
        try:
            alert = wire.Alert(
                id=uuid.uuid4().hex, device=device.id, zone=device.zone, sensor=draft.sensor,
                channel=draft.channel, kind=draft.kind, ts=draft.ts, value=draft.value,
                score=draft.score, grade=draft.grade, reason=draft.reason,
                seq=self.outbox.next_seq(), unit=draft.unit, context=draft.context,
                message=fit_text(draft.message), cleared=draft.cleared,
            )
        except wire.WireError as exc:  # a bug upstream must not stop every sensor on the board
            self.counters["unsendable"] = self.counters.get("unsendable", 0) + 1
            log.error("alert not sendable sensor=%s channel=%s reason=%s: %s", draft.sensor,
                      draft.channel, draft.reason.value, exc)
            return
        dropped = self.outbox.add(alert, keep=keep)
        self.counters["alerts"] += 1
        self.alerts_by_reason[alert.reason.value] += 1
        if dropped:
            self.counters["dropped"] += len(dropped)
            log.warning("outbox full (%d): dropped %d lower-grade alert(s): ids=%s",
                        self.outbox.max_alerts, len(dropped), ",".join(dropped))
        log.info("alert id=%s seq=%d sensor=%s channel=%s reason=%s grade=%s: %s", alert.id,
                 alert.seq, alert.sensor, alert.channel, alert.reason.value, alert.grade.label,
                 alert.message)
        self.pump()

    def pump(self) -> None:
        """Apply acks and send what the window allows; after a (re)connect, replay first.

        Checked on every send, not once per loop turn: an alert emitted between a connect and
        the loop noticing it would otherwise be sent, then replayed as a duplicate.
        """
        if self.link_generation != self.link.generation:
            self.link_generation = self.link.generation
            self.delivery.reset()
        self.apply_acks()
        if self.link.connected.is_set():
            # Report drops once the link is back and the outbox has room again (10 %: no report
            # storm near the bound), so it also counts drops while the backlog was replayed.
            if self.outbox.dropped_unreported and self.outbox.depth <= self.outbox.max_alerts * 0.9:
                self.report_drops()  # emits, which pumps again
            self.delivery.pump(time.monotonic())


def run_agent(config: EdgeConfig) -> int:
    agent = Agent(config)
    signal.signal(signal.SIGTERM, agent.request_stop)
    signal.signal(signal.SIGINT, agent.request_stop)
    signal.signal(signal.SIGHUP, agent.request_reload)
    return agent.run()
