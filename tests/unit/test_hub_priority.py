"""The hub's inbound queue (issue 13 item 4): a red alarm overtakes a storm of lower grades.

``hub.service.run.drain`` takes the next batch from ``hub.core.priority.PriorityInbox``; what order
matters for (one device's statuses) stays in arrival order.
"""

from __future__ import annotations

import json
import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.core.priority import LAST, PriorityInbox, priority_of
from hub.service.run import BATCH_MAX, Inbound, drain
from lifeline import wire
from lifeline.grades import Grade

NOW = 1_790_000_000.0


def alert_message(n: int, grade: Grade, device: str = "edge-1") -> Inbound:
    alert = wire.Alert(id=f"p{n}", device=device, zone="z1", sensor=f"s{n}", channel="c",
                       kind="structure.tilt", ts=NOW, value=1.0, score=0.5, grade=grade,
                       reason=wire.Reason.LIMIT, seq=n)
    return Inbound(wire.alert_topic(device), wire.encode(alert), mid=n, qos=1, session=1)


def status_message(n: int, state: str, device: str = "edge-1") -> Inbound:
    status = wire.Status(device=device, zone="z1", state=state, ts=NOW + n)
    return Inbound(wire.status_topic(device), wire.encode(status), mid=n, qos=1, session=1)


@pytest.mark.parametrize("grade", list(Grade))
def test_an_alert_ranks_by_its_grade(grade: Grade) -> None:
    message = alert_message(1, grade)
    assert priority_of(message.topic, message.payload) == -int(grade)
    spaced = json.dumps({**json.loads(message.payload), "grade": grade.level}, indent=2)
    assert priority_of(message.topic, spaced.encode()) == -int(grade)


@given(st.binary(max_size=300))
def test_any_payload_has_a_rank_and_never_raises(payload: bytes) -> None:
    assert LAST >= priority_of(wire.alert_topic("edge-1"), payload) >= -int(Grade.RED)


def test_a_status_ranks_as_its_device_incident_and_junk_last() -> None:
    status = status_message(1, "offline")
    assert priority_of(status.topic, status.payload) == -int(Grade.YELLOW)
    assert priority_of(wire.alert_topic("edge-1"), b'{"grade": "purple"}') == LAST
    assert priority_of("lifeline/v1/edge-1/other", b'{"grade": "red"}') == LAST


def test_a_red_alarm_received_after_a_storm_is_in_the_first_batch() -> None:
    # Given 1,200 yellow alerts of a storm queued, then a red one
    inbox: PriorityInbox[Inbound] = PriorityInbox(5000)
    storm = [alert_message(n, Grade.YELLOW) for n in range(1200)]
    red = alert_message(9999, Grade.RED, device="gas-9")
    for message in [*storm, red]:
        inbox.put(message, priority_of(message.topic, message.payload))
    # When the hub drains its next batch
    first = drain(inbox, first_wait=0.1)
    # Then the red alarm leads it, and the storm follows in arrival order
    assert first[0] is red
    assert first[1:] == storm[:BATCH_MAX - 1]
    rest = drain(inbox, 0.1) + drain(inbox, 0.1)
    assert rest == storm[BATCH_MAX - 1:]


def test_one_devices_statuses_keep_their_order_among_alerts() -> None:
    inbox: PriorityInbox[Inbound] = PriorityInbox(100)
    sent = []
    for n in range(30):
        message = (status_message(n, "offline" if n % 2 else "online") if n % 3 == 0
                   else alert_message(n, list(Grade)[n % 4]))
        sent.append(message)
        inbox.put(message, priority_of(message.topic, message.payload))
    got = drain(inbox, 0.1)
    statuses = [m for m in got if m.topic.endswith("/status")]
    assert statuses == [m for m in sent if m.topic.endswith("/status")]
    assert [m.mid for m in got if m.topic.endswith("/alert")][:3] == [
        m.mid for m in sent if m.topic.endswith("/alert") and b'"red"' in m.payload][:3]


def test_a_full_inbox_blocks_the_sender_until_there_is_room() -> None:
    inbox: PriorityInbox[Inbound] = PriorityInbox(2)
    for n in range(2):
        inbox.put(alert_message(n, Grade.BLUE), -1)
    put = threading.Thread(target=inbox.put, args=(alert_message(3, Grade.RED), -4))
    put.start()
    put.join(0.05)
    assert put.is_alive()  # back-pressure: paho's thread waits, the broker slows down
    assert inbox.get(timeout=1).mid == 0
    put.join(5)
    assert [inbox.get_nowait().mid for _ in range(2)] == [3, 1]
