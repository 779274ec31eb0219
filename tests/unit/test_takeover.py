"""Two boards with one identity: the edge notices the session takeover (issue 14 item 11). Pure."""

from __future__ import annotations

import pytest

from edge.mqtt_link import SESSION_TAKEN_OVER, TakeoverWatch

UNSPECIFIED = 0x80  # what paho reports when Mosquitto 2.0 closes a taken-over session
NORMAL = 0x00


def test_sessions_ended_by_the_broker_within_seconds_three_times_in_a_row_are_a_takeover() -> None:
    watch = TakeoverWatch(short_s=10.0, in_a_row=3)
    verdicts = []
    for start in (0.0, 3.0, 6.0):
        watch.connected(start)
        verdicts.append(watch.disconnected(start + 1.5, UNSPECIFIED))
    assert verdicts == [False, False, True]


@pytest.mark.parametrize("ending", [
    (60.0, UNSPECIFIED),  # a session that lived a minute: a network drop, not a takeover
    (1.0, NORMAL),        # our own clean disconnect
])
def test_a_normal_session_in_between_resets_the_count(ending: tuple[float, int]) -> None:
    watch = TakeoverWatch(short_s=10.0, in_a_row=3)
    for start in (0.0, 3.0):
        watch.connected(start)
        assert not watch.disconnected(start + 1.0, UNSPECIFIED)
    watch.connected(10.0)
    lived, reason = ending
    assert not watch.disconnected(10.0 + lived, reason)
    watch.connected(100.0)
    assert not watch.disconnected(101.0, UNSPECIFIED)  # counting starts again


def test_an_mqtt5_session_taken_over_reason_is_a_takeover_at_once() -> None:
    watch = TakeoverWatch()
    watch.connected(0.0)
    assert watch.disconnected(100.0, SESSION_TAKEN_OVER)


def test_a_disconnect_before_any_connect_is_not_counted() -> None:
    assert not TakeoverWatch(in_a_row=1).disconnected(5.0, UNSPECIFIED)
