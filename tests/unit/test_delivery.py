"""Delivery keeps a bounded window in flight, resends what the hub did not ack, replays on reconnect."""

from __future__ import annotations

from pathlib import Path

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
