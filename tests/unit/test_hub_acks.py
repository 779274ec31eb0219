"""The hub's acks leave through a bounded paho queue; what does not fit waits, coalesced.

A real paho client that is not connected queues QoS 1 publishes (as it does while the
broker is away) until ``max_queued_messages``, then refuses them: the same refusal as a
connected client whose broker is slow to PUBACK.
"""

from __future__ import annotations

import threading

import pytest

from hub.config import HubConfig
from hub.service import run as service
from lifeline import wire


def test_acks_past_the_queue_wait_per_device_and_coalesce(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service, "OUT_QUEUE_MAX", 2)
    inbox = service.MqttInbox(HubConfig(), threading.Event())
    for device, ids in (("d1", ["a"]), ("d2", ["b"]), ("d3", ["c"])):
        inbox.publish_ack(device, ids)
    inbox.flush_acks()
    queued = list(inbox.client._out_messages.values())
    assert [m.topic for m in queued] == [wire.ack_topic("d1"), wire.ack_topic("d2")]
    assert inbox.unsent_acks == {"d3": ["c"]}  # refused by paho: kept, not lost
    inbox.publish_ack("d3", ["d"])
    inbox.flush_acks()
    assert inbox.unsent_acks == {"d3": ["c", "d"]}  # still full: one entry, coalesced
    inbox.client._out_messages.clear()  # the broker PUBACKed what was queued
    inbox.flush_acks()
    [sent] = inbox.client._out_messages.values()
    assert sent.topic == wire.ack_topic("d3") and sent.payload == wire.encode(wire.Ack(("c", "d")))
    assert inbox.unsent_acks == {}


def test_a_device_with_many_ids_gets_ack_chunk_sized_messages(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service, "ACK_CHUNK", 3)
    inbox = service.MqttInbox(HubConfig(), threading.Event())
    inbox.publish_ack("d1", [f"i{n}" for n in range(7)])
    inbox.flush_acks()
    payloads = [m.payload for m in inbox.client._out_messages.values()]
    assert payloads == [wire.encode(wire.Ack(tuple(f"i{n}" for n in chunk)))
                        for chunk in ((0, 1, 2), (3, 4, 5), (6,))]


def test_waiting_acks_are_bounded_and_the_fullest_device_gives_up_its_oldest(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service, "OUT_QUEUE_MAX", 1)
    monkeypatch.setattr(service, "ACKS_WAITING_MAX", 5)
    inbox = service.MqttInbox(HubConfig(), threading.Event())
    inbox.publish_ack("d0", ["z"])
    inbox.flush_acks()  # fills paho's queue of one: everything after this waits
    inbox.publish_ack("d1", ["a1", "a2", "a3", "a4"])
    inbox.publish_ack("d2", ["b1"])
    inbox.publish_ack("d2", ["b2", "b3"])  # 7 waiting: d1, the fullest, drops its 2 oldest
    assert inbox.unsent_acks == {"d1": ["a3", "a4"], "d2": ["b1", "b2", "b3"]}
    assert (inbox.acks_waiting, inbox.acks_dropped) == (5, 2)
    inbox.client._out_messages.clear()
    monkeypatch.setattr(inbox.client, "_max_queued_messages", 0)  # room for everything
    inbox.flush_acks()
    assert inbox.unsent_acks == {} and inbox.acks_waiting == 0
