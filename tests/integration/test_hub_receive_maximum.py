"""The hub's inbox holds at most what it asked the broker for (issue 16).

The hub connects with MQTT 5's Receive Maximum (``RECEIVE_MAXIMUM`` unacknowledged
messages) and PUBACKs a message only once its batch is committed, so while the hub does not
commit, a backlog must wait at the broker, not in the hub's memory. Real Mosquitto, the
hub's own MQTT inbox; nothing drains it, as when the store is slow.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from hub.config import HubConfig
from hub.service.run import RECEIVE_MAXIMUM, MqttInbox
from lifeline import wire
from lifeline.grades import Grade
from lifeline.localbroker import Broker
from lifeline.mqtt_config import MqttConfig

pytestmark = pytest.mark.integration

BACKLOG = RECEIVE_MAXIMUM * 3


def publish_backlog(port: int, count: int) -> None:
    publisher = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="backlog",
                            protocol=mqtt.MQTTv5)
    publisher.max_queued_messages_set(0)
    publisher.connect("127.0.0.1", port)
    publisher.loop_start()
    try:
        infos = []
        for seq in range(count):
            alert = wire.Alert(id=f"a{seq}", device="edge-1", zone="north", sensor="p",
                               channel="pressure", kind="water.pressure", ts=1.79e9 + seq,
                               value=1.0, score=0.95, grade=Grade.YELLOW,
                               reason=wire.Reason.ANOMALY, seq=seq)
            infos.append(publisher.publish(wire.alert_topic("edge-1"), wire.encode(alert),
                                           qos=1))
        for info in infos:
            info.wait_for_publish(timeout=30)
    finally:
        publisher.disconnect()
        publisher.loop_stop()


def held_once_full(inbox: MqttInbox) -> int:
    """Messages in the inbox once the broker has filled the window (10 s at most), and a
    second later, in which it would overrun the window if it did not honour it (a check that
    nothing more comes cannot wait on an event)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and inbox.queue.qsize() < RECEIVE_MAXIMUM:
        time.sleep(0.05)
    time.sleep(1.0)
    return inbox.queue.qsize()


def test_a_backlog_waits_at_the_broker_not_in_the_hub(broker: Broker, tmp_path: Path) -> None:
    config = HubConfig(mqtt=MqttConfig(port=broker.port, client_id="hub-rm-test"))
    inbox = MqttInbox(config, threading.Event())
    inbox.start()
    try:
        assert inbox.subscribed.wait(10)
        publish_backlog(broker.port, BACKLOG)
        held = held_once_full(inbox)
        assert held == RECEIVE_MAXIMUM, f"the hub holds {held} unacknowledged messages"
    finally:
        inbox.stop()


@pytest.mark.parametrize("broker_limits", ["", "max_queued_messages 0\nmax_inflight_messages 0\n"],
                         ids=["default broker", "unlimited queues"])
def test_a_backlog_queued_while_the_hub_was_away_waits_at_the_broker(
        tmp_path: Path, broker_limits: str) -> None:
    broker = Broker(tmp_path / "broker", extra_config=broker_limits)
    broker.start()
    config = HubConfig(mqtt=MqttConfig(port=broker.port, client_id="hub-rm-test"))
    try:
        first = MqttInbox(config, threading.Event())
        first.start()
        assert first.subscribed.wait(10)
        first.stop()  # its persistent session stays at the broker and queues what comes
        publish_backlog(broker.port, BACKLOG)
        inbox = MqttInbox(config, threading.Event())
        inbox.start()
        try:
            held = held_once_full(inbox)
            assert held == RECEIVE_MAXIMUM, f"the hub holds {held} unacknowledged messages"
        finally:
            inbox.stop()
    finally:
        broker.stop()
