"""Delivery keeps a bounded window in flight, resends what the hub did not ack, replays on reconnect."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from edge.delivery import Delivery
from edge.outbox import Outbox
from lifeline import wire
from lifeline.grades import Grade


def filled(tmp_path: Path, count: int) -> Outbox:
    box = Outbox(tmp_path / "outbox.db")
    for seq in range(1, count + 1):
        box.add(wire.Alert(id=f"a{seq}", device="d1", zone="z", sensor="s", channel="c",
                           kind="water.flow", ts=1_790_000_000.0 + seq, value=1.0, score=0.5,
                           grade=Grade.BLUE, reason=wire.Reason.ANOMALY, seq=seq))
    return box


def test_window_bounds_what_is_in_flight_and_acks_open_it(tmp_path: Path) -> None:
    sent: list[str] = []
    delivery = Delivery(filled(tmp_path, 10), lambda p: sent.append(wire.decode_alert(p).id) or True,
                        window=4, ack_timeout_s=30)
    assert delivery.pump(0.0) == 4 and sent == ["a1", "a2", "a3", "a4"]
    assert delivery.pump(1.0) == 0
    delivery.acknowledged(["a1", "a2"])
    assert delivery.pump(2.0) == 2 and sent[-2:] == ["a5", "a6"]
    assert delivery.outbox.depth == 8


def test_unacked_alerts_are_resent_after_the_timeout(tmp_path: Path) -> None:
    sent: list[str] = []
    delivery = Delivery(filled(tmp_path, 2), lambda p: sent.append(wire.decode_alert(p).id) or True,
                        window=10, ack_timeout_s=30)
    delivery.pump(0.0)
    delivery.acknowledged(["a2"])
    assert delivery.pump(29.0) == 0
    assert delivery.pump(31.0) == 1 and sent == ["a1", "a2", "a1"]
    assert delivery.counters["resent"] == 1


def test_reset_replays_everything_unacked_in_order(tmp_path: Path) -> None:
    sent: list[str] = []
    delivery = Delivery(filled(tmp_path, 3), lambda p: sent.append(wire.decode_alert(p).id) or True)
    delivery.pump(0.0)
    delivery.acknowledged(["a1"])
    delivery.reset()
    delivery.pump(1.0)
    assert sent == ["a1", "a2", "a3", "a2", "a3"]


def test_a_refused_send_stops_the_pump_and_keeps_the_alert(tmp_path: Path) -> None:
    delivery = Delivery(filled(tmp_path, 3), lambda p: False)
    assert delivery.pump(0.0) == 0 and not delivery.inflight and delivery.outbox.depth == 3


def test_an_ack_is_believed_only_for_ids_sent_and_outstanding(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # Given ten alerts in the outbox, four of them sent (the window)
    sent: list[str] = []
    delivery = Delivery(filled(tmp_path, 10), lambda p: sent.append(wire.decode_alert(p).id) or True,
                        window=4)
    delivery.pump(0.0)
    # When someone (not the hub: the broker's ACL was missing) acks ids never sent, ids that
    # do not exist, and one that was sent
    with caplog.at_level(logging.WARNING, logger="edge.delivery"):
        delivery.acknowledged(["a5", "a6", "a10", "nope", "a1"])
    # Then only the sent one is forgotten; the rest are counted and logged, and stay to be sent
    assert delivery.outbox.depth == 9 and delivery.counters["acked"] == 1
    assert delivery.counters["unexpected_acks"] == 4
    assert "not sent or does not hold" in caplog.text and "a5, a6, a10" in caplog.text
    delivery.pump(1.0)
    assert sent == ["a1", "a2", "a3", "a4", "a5"]
    # And the hub acking a1 again (it acks a resend it already had) is a quiet duplicate
    caplog.clear()
    delivery.acknowledged(["a1"])
    assert delivery.counters["duplicate_acks"] == 1 and delivery.counters["unexpected_acks"] == 4
    assert caplog.text == ""


def test_sent_ids_stay_outstanding_across_a_reconnect(tmp_path: Path) -> None:
    delivery = Delivery(filled(tmp_path, 3), lambda p: True)
    delivery.pump(0.0)
    delivery.reset()  # the link dropped; the hub may still ack what it got before
    delivery.acknowledged(["a1", "a2"])
    assert delivery.outbox.depth == 1 and delivery.counters["unexpected_acks"] == 0


def test_unexpected_ack_warnings_are_rate_limited(tmp_path: Path,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    delivery = Delivery(filled(tmp_path, 1), lambda p: True)
    with caplog.at_level(logging.WARNING, logger="edge.delivery"):
        for n in range(1000):
            delivery.acknowledged([f"forged-{n}"])
    assert delivery.counters["unexpected_acks"] == 1000 and len(caplog.records) == 5
    assert delivery.outbox.depth == 1
