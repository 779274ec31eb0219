"""The hub against a real Mosquitto: `lifeline-hub run` and `lifeline-hub incidents` as subprocesses.

A paho client in the test plays the edge devices, so the hub is tested on its
own: valid alerts, garbage, a duplicate, the acks it owes, a retained last will.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from lifeline import wire
from lifeline.grades import Grade
from lifeline.localbroker import Broker
from tests.support.processes import cli_json, running, script, wait_for

pytestmark = pytest.mark.integration

DEVICE = "edge-test-1"
ZONE = "south-dma-7"
BOUND_S = 20


def hub_config(tmp_path: Path, broker: Broker, store_url: str | None = None) -> Path:
    """hub.toml for a hub on ``broker``, its store ``hub.db`` beside it (or the PostgreSQL
    database at ``store_url``)."""
    path = tmp_path / "hub.toml"
    store = 'path = "hub.db"' if store_url is None else f'url = "{store_url}"'
    path.write_text(f'[mqtt]\nhost = "127.0.0.1"\nport = {broker.port}\n'
                    f'client_id = "hub-{uuid.uuid4().hex[:8]}"\n\n'
                    f'[store]\n{store}\n')
    return path


def incidents(config: Path) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = cli_json("lifeline-hub", ["incidents", "--config", str(config)])
    return result


def alert(n: int, grade: Grade, ts: float, *, device: str = DEVICE) -> wire.Alert:
    return wire.Alert(
        id=uuid.uuid4().hex, device=device, zone=ZONE, sensor="main-pressure",
        channel="pressure_kpa", kind="water.pressure", ts=ts, value=180.0 - n, score=1.0,
        grade=grade, reason=wire.Reason.LIMIT, seq=n, unit="kPa", context=(300.0, 180.0 - n))


class Client:
    """A plain MQTT 5 client playing the edge: publishes, and collects the hub's acks."""

    def __init__(self, port: int) -> None:
        self.acked: list[str] = []
        self.subscribed = threading.Event()
        self.paho = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"test-{uuid.uuid4().hex}",
                                protocol=mqtt.MQTTv5)
        self.paho.on_message = lambda c, u, m: self.acked.extend(wire.decode_ack(bytes(m.payload)).ids)
        self.paho.on_subscribe = lambda c, u, mid, codes, props: self.subscribed.set()
        self.paho.connect("127.0.0.1", port)
        self.paho.loop_start()

    def listen_for_acks(self, device: str) -> None:
        self.paho.subscribe(wire.ack_topic(device), qos=1)
        assert self.subscribed.wait(BOUND_S), "the test client's subscription was not granted"

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> None:
        self.paho.publish(topic, payload, qos=1, retain=retain).wait_for_publish(timeout=BOUND_S)

    def close(self) -> None:
        self.paho.disconnect()
        self.paho.loop_stop()


@contextmanager
def edge_client(broker: Broker) -> Iterator[Client]:
    client = Client(broker.port)
    try:
        yield client
    finally:
        client.close()


def wait_subscribed(log: Path) -> None:
    wait_for(lambda: log.exists() and "subscribed to" in log.read_text(), BOUND_S,
             "the hub to subscribe")


def test_alerts_fuse_into_one_incident_stored_once_and_acked(tmp_path: Path,
                                                            broker: Broker) -> None:
    config = hub_config(tmp_path, broker)
    log = tmp_path / "hub.log"
    with running("lifeline-hub", ["run", "--config", str(config)], log) as hub, \
            edge_client(broker) as edge:
        # Given a running hub and an edge listening for the hub's acks
        wait_subscribed(log)
        edge.listen_for_acks(DEVICE)
        now = time.time()
        sent = [alert(1, Grade.YELLOW, now - 30), alert(2, Grade.RED, now - 20),
                alert(3, Grade.ORANGE, now - 10)]
        # When three alerts of one zone and family arrive, plus garbage (not JSON, a number
        # too big for a float) and a duplicate
        for item in sent:
            edge.publish(wire.alert_topic(DEVICE), wire.encode(item))
        edge.publish(wire.alert_topic(DEVICE), b"\x00{not json")
        huge = wire.encode(alert(4, Grade.RED, now)).replace(b'"value":176.0',
                                                              b'"value":1' + b"0" * 400)
        assert b"0" * 400 in huge
        edge.publish(wire.alert_topic(DEVICE), huge)
        edge.publish(wire.alert_topic(DEVICE), wire.encode(sent[0]))
        # Then one water incident holds the three alerts, graded by the worst
        found = wait_for(lambda: [i for i in incidents(config) if i["hazard"] == "water"
                                  and i["alert_count"] == 3], BOUND_S, "a water incident of 3")
        # And the hub acknowledged every committed id to the edge
        wait_for(lambda: {a.id for a in sent} <= set(edge.acked), BOUND_S, "acks for all ids")
        # And the garbage was counted and logged, not fatal
        assert hub.poll() is None, "the hub died"
        wait_for(lambda: "reason=not_json" in log.read_text(), BOUND_S, "the garbage logged")
        assert "reason=bad_value" in log.read_text()  # the number too big for a float
    [incident] = found
    assert incident["zone"] == ZONE
    assert incident["grade"] == "red"
    assert incident["status"] == "open"
    assert incident["devices"] == [DEVICE]
    assert incident["first_alert_ts"] == wire.format_ts(sent[0].ts)
    assert len(incidents(config)) == 1
    with closing(sqlite3.connect(tmp_path / "hub.db")) as db:
        assert db.execute("SELECT count(*) FROM alerts").fetchone() == (3,)


def test_retained_offline_status_opens_a_device_incident(tmp_path: Path, broker: Broker) -> None:
    config = hub_config(tmp_path, broker)
    log = tmp_path / "hub.log"
    with edge_client(broker) as edge:
        # Given a device whose last will (retained offline status) is at the broker
        gone = wire.Status(device="edge-gone-2", zone=ZONE, state="offline", ts=time.time())
        edge.publish(wire.status_topic(gone.device), wire.encode(gone), retain=True)
        # When the hub starts
        with running("lifeline-hub", ["run", "--config", str(config)], log):
            # Then it opens a device incident for that device in its zone
            found = wait_for(lambda: [i for i in incidents(config) if i["hazard"] == "device"],
                             BOUND_S, "a device incident")
            # And the device coming back online resolves it
            back = wire.Status(device=gone.device, zone=ZONE, state="online", ts=time.time())
            edge.publish(wire.status_topic(gone.device), wire.encode(back), retain=True)
            wait_for(lambda: incidents(config)[0]["status"] == "resolved", BOUND_S,
                     "the device incident to resolve")
    assert found[0]["zone"] == ZONE
    assert found[0]["devices"] == ["edge-gone-2"]
    assert found[0]["status"] == "open"


def test_tail_replays_the_feed_and_stops_cleanly_on_ctrl_c(tmp_path: Path,
                                                          broker: Broker) -> None:
    config = hub_config(tmp_path, broker)
    log = tmp_path / "hub.log"
    out = tmp_path / "tail.out"
    with running("lifeline-hub", ["run", "--config", str(config)], log), \
            edge_client(broker) as edge, open(out, "wb") as sink:
        # Given an incident the hub has opened
        wait_subscribed(log)
        edge.publish(wire.alert_topic(DEVICE), wire.encode(alert(1, Grade.ORANGE, time.time())))
        wait_for(lambda: incidents(config), BOUND_S, "an incident")
        # When tail replays the feed
        tail = subprocess.Popen([script("lifeline-hub"), "tail", "--config", str(config),
                                 "--from-start"], stdout=sink, stderr=subprocess.PIPE,
                                env={**os.environ, "NO_COLOR": "1"})
        try:
            # Then it prints the opening line, uncoloured off a terminal
            wait_for(lambda: "INC-1 opened" in out.read_text(), BOUND_S, "the tail line")
            tail.send_signal(signal.SIGINT)
            _, err = tail.communicate(timeout=BOUND_S)
        finally:
            if tail.poll() is None:
                tail.kill()
                tail.wait()
    # And Ctrl-C ends it with status 0 and no traceback
    assert tail.returncode == 0, err.decode()
    assert b"Traceback" not in err
    line = out.read_text().splitlines()[0]
    assert "\033[" not in line
    assert line.split()[1:] == ["ORANGE", "water", ZONE, "INC-1", "opened",
                                f"{DEVICE}/main-pressure", "pressure_kpa=179", "kPa", "limit",
                                # its owner and the time left to acknowledge it (issue 19)
                                "[control-room:", "ack", "in", "15m00s]"]


def test_killed_hub_restarts_continues_its_incident_and_gets_what_was_sent_meanwhile(
        tmp_path: Path, broker: Broker) -> None:
    config = hub_config(tmp_path, broker)
    log = tmp_path / "hub.log"
    with edge_client(broker) as edge:
        # Given an open incident
        with running("lifeline-hub", ["run", "--config", str(config)], log) as hub:
            wait_subscribed(log)
            edge.publish(wire.alert_topic(DEVICE), wire.encode(alert(1, Grade.ORANGE,
                                                                     time.time())))
            [before] = wait_for(lambda: incidents(config), BOUND_S, "an incident")
            # When the hub dies without warning and an alert arrives while it is down
            os.killpg(hub.pid, signal.SIGKILL)
            hub.wait(timeout=BOUND_S)
        edge.publish(wire.alert_topic(DEVICE), wire.encode(alert(2, Grade.RED, time.time())))
        # Then the restarted hub receives it (persistent session) into the same incident
        with running("lifeline-hub", ["run", "--config", str(config)], log):
            after = wait_for(lambda: [i for i in incidents(config) if i["alert_count"] == 2],
                             BOUND_S, "the queued alert to join the incident")
    assert [i["id"] for i in incidents(config)] == [before["id"]]
    assert after[0]["grade"] == "red"
    assert "active_incidents=1" in log.read_text()


def test_hub_reconnects_after_the_broker_restarts(tmp_path: Path, broker: Broker) -> None:
    config = hub_config(tmp_path, broker)
    log = tmp_path / "hub.log"
    with running("lifeline-hub", ["run", "--config", str(config)], log) as hub:
        # Given a subscribed hub
        wait_subscribed(log)
        # When the broker (without persistence: the session is lost) restarts
        broker.stop()
        broker.start()
        # Then the hub reconnects and subscribes again by itself
        wait_for(lambda: log.read_text().count("subscribed to") >= 2, BOUND_S,
                 "the hub to subscribe again")
        with edge_client(broker) as edge:
            edge.publish(wire.alert_topic(DEVICE), wire.encode(alert(1, Grade.ORANGE,
                                                                     time.time())))
            wait_for(lambda: incidents(config), BOUND_S, "an incident after the restart")
        assert hub.poll() is None
