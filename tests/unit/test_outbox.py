"""The outbox keeps alerts on disk until the hub acks them, bounded by grade-aware drops."""

from __future__ import annotations

from pathlib import Path

from edge.outbox import Outbox
from lifeline import wire
from lifeline.grades import Grade


def alert(seq: int, grade: Grade = Grade.YELLOW) -> wire.Alert:
    return wire.Alert(id=f"a{seq}", device="d1", zone="z", sensor="s", channel="c",
                      kind="gas.methane", ts=1_790_000_000.0 + seq, value=1.0, score=0.5,
                      grade=grade, reason=wire.Reason.ANOMALY, seq=seq)


def test_alerts_survive_reopen_in_order_until_acked(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "outbox.db")
    for seq in (1, 2, 3):
        box.add(alert(seq))
    box.close()
    box = Outbox(tmp_path / "outbox.db")
    assert [p.id for p in box.pending(10)] == ["a1", "a2", "a3"]
    assert box.next_seq() == 4
    assert box.acknowledge(["a2", "a9"]) == 1
    assert [p.id for p in box.pending(10)] == ["a1", "a3"] and box.depth == 2
    assert [p.id for p in box.pending(10, after_seq=1)] == ["a3"]
    assert wire.decode_alert(box.pending(1)[0].payload) == alert(1)


def test_overflow_drops_lowest_grade_oldest_first_and_counts(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "outbox.db", max_alerts=3)
    box.add(alert(1, Grade.RED))
    box.add(alert(2, Grade.BLUE))
    box.add(alert(3, Grade.YELLOW))
    assert box.add(alert(4, Grade.BLUE)) == ["a2"]
    assert box.add(alert(5, Grade.ORANGE)) == ["a4"]
    assert box.add(alert(6, Grade.BLUE)) == ["a6"]  # the newcomer is the least important
    assert [p.id for p in box.pending(10)] == ["a1", "a3", "a5"]
    assert box.drops() == {"blue": 3}
    box.reset_drops()
    assert box.drops() == {}


def test_sequence_numbers_continue_after_everything_was_acked(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "outbox.db")
    box.add(alert(41))
    box.acknowledge(["a41"])
    assert box.depth == 0 and box.next_seq() == 42


def test_the_drop_report_is_kept_in_an_outbox_full_of_higher_grades(tmp_path: Path) -> None:
    # Regression (fault suite, outbox overflow): the yellow report of the drops used to be the
    # lowest grade in an outbox full of orange alerts, so it dropped itself on arrival.
    box = Outbox(tmp_path / "outbox.db", max_alerts=2)
    box.add(alert(1, Grade.ORANGE))
    box.add(alert(2, Grade.ORANGE))
    assert box.add(alert(3, Grade.YELLOW), keep=True) == ["a1"]
    assert box.add(alert(4, Grade.RED)) == ["a2"]
    assert box.add(alert(5, Grade.RED)) == ["a4"]  # the report outranks even red
    assert [p.id for p in box.pending(10)] == ["a3", "a5"]
    assert box.add(alert(6, Grade.RED), keep=True) == ["a5"]
    assert box.add(alert(7, Grade.RED), keep=True) == ["a3"]  # kept ones go oldest first
    assert box.drops() == {"yellow": 1, "orange": 2, "red": 2}
