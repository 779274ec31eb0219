"""Issue 12 and 13 through the real agent: a burst after a restart alarms again; a non-finite
calibrated value is a bad read, never a crash.

One sensor on a pseudo-terminal, ``lifeline-edge run`` as a real subprocess, its state directory
on disk; the restart case publishes to a real Mosquitto and a subscriber checks the alerts, the
non-finite case runs without a broker (its alerts wait in the outbox and are logged).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import uuid
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from lifeline import wire
from lifeline.localbroker import Broker
from tests.integration.test_checkpoint_restart import WARMUP, Feed
from tests.support.edgetoml import edge_toml, lines_sensor
from tests.support.faults import wait_for_log
from tests.support.processes import running, wait_for
from tests.support.pty import PtySensor

pytestmark = pytest.mark.integration

SENSOR = "main-pressure"


def recurrence_toml(state_dir: Path, port: str, columns: tuple[str, ...] = ("p",),
                    mqtt_port: int = 1, **keys: Any) -> str:
    return edge_toml(device="edge-recurrence", state_dir=state_dir,
                     mqtt={"host": "127.0.0.1", "port": mqtt_port},
                     sensors=[lines_sensor(SENSOR, port, columns=columns, unit="kPa", **keys)])


def stop(agent: subprocess.Popen[bytes]) -> None:
    os.kill(agent.pid, signal.SIGTERM)
    assert agent.wait(timeout=15) == 0


class AlertSubscriber:
    """A paho client on the broker that keeps every alert the agent publishes."""

    def __init__(self, port: int) -> None:
        self.alerts: list[wire.Alert] = []
        subscribed = threading.Event()
        self.paho = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"test-{uuid.uuid4().hex}")
        self.paho.on_message = lambda c, u, m: self.alerts.append(wire.decode_alert(bytes(m.payload)))
        self.paho.on_subscribe = lambda c, u, mid, codes, props: subscribed.set()
        self.paho.connect("127.0.0.1", port)
        self.paho.loop_start()
        self.paho.subscribe(wire.ALERT_SUBSCRIPTION, qos=1)
        assert subscribed.wait(10)

    def anomalies(self, cleared: bool = False) -> list[wire.Alert]:
        return [a for a in list(self.alerts)
                if a.reason is wire.Reason.ANOMALY and a.cleared == cleared]

    def close(self) -> None:
        self.paho.loop_stop()
        self.paho.disconnect()


def test_a_burst_alarms_again_after_a_restart_with_the_checkpoint_restored(
        tmp_path: Path, broker: Broker) -> None:
    state, config, log = tmp_path / "state", tmp_path / "edge.toml", tmp_path / "edge.log"
    anomaly = f"sensor={SENSOR} channel=p reason=anomaly"
    subscriber = AlertSubscriber(broker.port)
    with PtySensor() as sensor:
        config.write_text(recurrence_toml(state, sensor.path, mqtt_port=broker.port))
        feed = Feed(sensor)
        with running("lifeline-edge", ["run", "--config", str(config)], log) as agent:
            # Given an agent warm on normal readings that sees a burst (pressure collapses)
            at = wait_for_log(log, f"port open sensor={SENSOR} ", 15)
            feed.wait_written(3 * WARMUP)
            feed.spike = 150.0
            at = wait_for_log(log, anomaly, 20, at)
            feed.wait_written(50)
            # When the burst is repaired, Then the alarm clears
            feed.spike = None
            at = wait_for_log(log, "back to normal", 20, at)
            feed.wait_written(50)
            # And the agent is restarted (SIGTERM saves the checkpoint)
            feed.paused.set()
            stop(agent)
        saved = json.loads((state / "detectors.json").read_text())[f"{SENSOR}/p"]["state"]
        assert min(saved["lo"][0], saved["hi"][0]) > 250.0  # the burst's level was never learned
        with running("lifeline-edge", ["run", "--config", str(config)], log) as agent:
            at = wait_for_log(log, "restored 1 detector checkpoint(s)", 15, at)
            at = wait_for_log(log, f"port open sensor={SENSOR} ", 15, at)
            feed.paused.clear()
            feed.wait_written(20)
            # When the same burst comes again
            feed.spike = 150.0
            # Then it alarms again (before the score/learn split it did not: the burst's level
            # had become normal and the checkpoint kept it), and the alert reaches the broker
            wait_for_log(log, anomaly, 20, at)
            # (no hub acknowledges them, so the outbox may publish one again after the
            # restart: count distinct alerts)
            wait_for(lambda: len({a.id for a in subscriber.anomalies(cleared=True)}) == 1
                     and len({a.id for a in subscriber.anomalies()
                              if a.message.endswith(" 0 s")}) == 2, 20,
                     "two alarm onsets and one cleared alert on the broker")
            stop(agent)
    subscriber.close()


def test_non_finite_calibrated_values_are_bad_reads_and_the_agent_goes_on(tmp_path: Path) -> None:
    state, config, log = tmp_path / "state", tmp_path / "edge.toml", tmp_path / "edge.log"
    with PtySensor() as sensor:
        config.write_text(recurrence_toml(state, sensor.path, ("p", "q"),
                                          channels={"p": {"scale": 10.0}}))
        poison: list[bytes] = []

        def line(n: int) -> bytes:
            if poison:
                return poison.pop(0)
            return f"{30.0 + (n % 7) * 0.03:.2f},{300.0 + (n % 5) * 0.3:.1f}\n".encode()

        written = [0]

        def counted(n: int) -> bytes:
            written[0] += 1
            return line(n)

        sensor.stream(counted, 100)
        with running("lifeline-edge", ["run", "--config", str(config)], log) as agent:
            at = wait_for_log(log, f"port open sensor={SENSOR} ", 15)
            # Given a warm agent, When p (scale 10) reads 1e308 (inf once calibrated) and q
            # (scale 1) reads +-1e308, mixed with normal lines
            wait_for_log(log, "edge agent starting", 5)
            target = written[0] + 3 * WARMUP
            wait_for(lambda: written[0] >= target, 30, "normal readings written")
            # (a second of each: long enough for any detector to call it an event)
            poison.extend([b"1e308,300.0\n"] * 100 + [b"30.0,1e308\n", b"30.0,-1e308\n"] * 50
                          + [b"inf,300.0\n"] * 3)
            # Then each is a counted, logged bad read, and the agent keeps running
            at = wait_for_log(log, "reason=non_finite", 20, at)
            target = written[0] + 500
            wait_for(lambda: written[0] >= target, 30, "more readings written")
            assert agent.poll() is None
            # And it still saves its checkpoint (every detector state finite) on SIGTERM
            stop(agent)
    text = log.read_text()
    assert "could not write detector checkpoint" not in text and "Traceback" not in text
    assert "saved 2 detector checkpoint(s)" in text
    json.loads((state / "detectors.json").read_text())
