"""The hub's acks leave through a bounded paho queue; what does not fit waits, coalesced.

A real paho client that is not connected yet queues QoS 1 publishes (as it does while
the broker is away) until ``max_queued_messages``, then refuses them: the same refusal
as a connected client whose broker is slow to PUBACK. What was queued, and what waited,
is then seen leaving by a real subscriber once the hub's client connects to a real
Mosquitto: nothing of paho's private state is read.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from hub.config import HubConfig
from hub.service import run as service
from lifeline import wire
from lifeline.mqtt_config import MqttConfig
from tests.support.broker import Broker
from tests.support.processes import wait_for

pytestmark = pytest.mark.integration

BOUND_S = 15.0


DEVICES = ("d0", "d1", "d2", "d3")


class AckWatcher:
    """A plain MQTT 5 client subscribed to the ack topics of ``DEVICES``: (topic, ids) received."""

    def __init__(self, port: int) -> None:
        self.received: list[tuple[str, tuple[str, ...]]] = []
        self.subscribed = threading.Event()
        self.paho = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"acks-{uuid.uuid4().hex}",
                                protocol=mqtt.MQTTv5)
        self.paho.on_message = lambda c, u, m: self.received.append(
            (m.topic, wire.decode_ack(bytes(m.payload)).ids))
        self.paho.on_connect = lambda c, u, f, rc, p: c.subscribe(
            [(wire.ack_topic(device), 1) for device in DEVICES])
        self.paho.on_subscribe = lambda c, u, mid, codes, props: self.subscribed.set()
        self.paho.connect("127.0.0.1", port)
        self.paho.loop_start()
        assert self.subscribed.wait(BOUND_S), "the watcher's subscription was not granted"

    def wait_for(self, count: int) -> list[tuple[str, tuple[str, ...]]]:
        wait_for(lambda: len(self.received) >= count, BOUND_S, f"{count} ack messages")
        return list(self.received)

    def close(self) -> None:
        self.paho.disconnect()
        self.paho.loop_stop()


@pytest.fixture
def watcher(broker: Broker) -> Iterator[AckWatcher]:
    found = AckWatcher(broker.port)
    yield found
    found.close()


@pytest.fixture
def inbox(broker: Broker) -> Iterator[service.MqttInbox]:
    """The hub's MQTT side for ``broker``, not connected until the test calls ``start()``."""
    stopping = threading.Event()
    config = HubConfig(mqtt=MqttConfig(port=broker.port, client_id=f"hub-{uuid.uuid4().hex[:8]}"))
    found = service.MqttInbox(config, stopping)
    yield found
    stopping.set()
    found.stop()


def flushed(inbox: service.MqttInbox) -> bool:
    """Flush what waits; True once nothing does (paho's queue frees as PUBACKs come)."""
    inbox.flush_acks()
    return inbox.unsent_acks == {}


def test_acks_past_the_queue_wait_per_device_and_coalesce(
        monkeypatch: pytest.MonkeyPatch, inbox: service.MqttInbox, watcher: AckWatcher) -> None:
    inbox.client.max_queued_messages_set(2)  # OUT_QUEUE_MAX, for this test
    # Given a hub whose broker is away, When acks for three devices are flushed
    for device, ids in (("d1", ["a"]), ("d2", ["b"]), ("d3", ["c"])):
        inbox.publish_ack(device, ids)
    inbox.flush_acks()
    # Then two fit paho's queue and the third is refused by paho: kept, not lost
    assert inbox.unsent_acks == {"d3": ["c"]}
    inbox.publish_ack("d3", ["d"])
    inbox.flush_acks()
    assert inbox.unsent_acks == {"d3": ["c", "d"]}  # still full: one entry, coalesced
    # When the broker is reachable, Then the two queued acks leave ...
    inbox.start()
    assert watcher.wait_for(2) == [(wire.ack_topic("d1"), ("a",)), (wire.ack_topic("d2"), ("b",))]
    # ... and, once PUBACKed, the waiting one as one coalesced message
    wait_for(lambda: flushed(inbox), BOUND_S, "the waiting ack to fit paho's queue")
    assert watcher.wait_for(3)[2:] == [(wire.ack_topic("d3"), ("c", "d"))]
    assert inbox.acks_waiting == 0


def test_a_device_with_many_ids_gets_ack_chunk_sized_messages(
        monkeypatch: pytest.MonkeyPatch, inbox: service.MqttInbox, watcher: AckWatcher) -> None:
    monkeypatch.setattr(service, "ACK_CHUNK", 3)
    inbox.start()
    wait_for(inbox.subscribed.is_set, BOUND_S, "the hub's client to subscribe")
    inbox.publish_ack("d1", [f"i{n}" for n in range(7)])
    inbox.flush_acks()
    assert watcher.wait_for(3) == [(wire.ack_topic("d1"), tuple(f"i{n}" for n in chunk))
                                   for chunk in ((0, 1, 2), (3, 4, 5), (6,))]


def test_waiting_acks_are_bounded_and_the_fullest_device_gives_up_its_oldest(
        monkeypatch: pytest.MonkeyPatch, inbox: service.MqttInbox, watcher: AckWatcher) -> None:
    inbox.client.max_queued_messages_set(1)
    monkeypatch.setattr(service, "ACKS_WAITING_MAX", 5)
    inbox.publish_ack("d0", ["z"])
    inbox.flush_acks()  # fills paho's queue of one: everything after this waits
    inbox.publish_ack("d1", ["a1", "a2", "a3", "a4"])
    inbox.publish_ack("d2", ["b1"])
    inbox.publish_ack("d2", ["b2", "b3"])  # 7 waiting: d1, the fullest, drops its 2 oldest
    assert inbox.unsent_acks == {"d1": ["a3", "a4"], "d2": ["b1", "b2", "b3"]}
    assert (inbox.acks_waiting, inbox.acks_dropped) == (5, 2)
    # When the broker is reachable, Then everything that waited leaves, the dropped ids never
    inbox.start()
    wait_for(lambda: flushed(inbox), BOUND_S, "every waiting ack to leave")
    assert sorted(watcher.wait_for(3)) == [(wire.ack_topic("d0"), ("z",)),
                                           (wire.ack_topic("d1"), ("a3", "a4")),
                                           (wire.ack_topic("d2"), ("b1", "b2", "b3"))]
    assert inbox.acks_waiting == 0
