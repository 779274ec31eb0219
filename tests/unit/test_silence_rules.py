"""Silences' pure rules without a database: what a new silence needs, when one may be ended by
hand, durations (matching: tests/unit/test_hub_lifecycle.py, tail's marks:
tests/unit/test_hub_tail_silenced.py; the store keeping them: tests/unit/test_store_tables.py)."""

from __future__ import annotations

from typing import Any

import pytest

from hub.core.silences import Silence, SilenceError, expired_by_hand, new_silence, parse_duration

T0 = 1_800_000_000.0


@pytest.mark.parametrize(("text", "seconds"), [("30s", 30), ("10m", 600), ("2h", 7200),
                                               ("1d", 86400), ("45", 45)])
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "ten minutes", "0", "-5m", "3w"])
def test_not_a_duration(text: str) -> None:
    with pytest.raises(ValueError, match="is not a duration like 30s"):
        parse_duration(text)


def test_a_new_silence_keeps_what_was_asked_with_its_comment_trimmed() -> None:
    silence = new_silence(by="ops", comment="  pipe works  ", expires_at=T0 + 60, now=T0,
                          zone="north", hazard="water", incident_id=4)
    assert silence == Silence(id=0, created_at=T0, created_by="ops", comment="pipe works",
                              expires_at=T0 + 60, zone="north", hazard="water", incident_id=4)
    assert silence.active(T0) and not silence.active(T0 + 60)


@pytest.mark.parametrize(("fields", "problem"), [
    pytest.param({"comment": "  "}, "needs a comment saying why", id="no comment"),
    pytest.param({"expires_at": T0}, "must expire in the future", id="expires now"),
    pytest.param({"expires_at": T0 - 1}, "must expire in the future", id="expired"),
    pytest.param({"zone": None}, "Say what to silence: --zone, --device", id="matches nothing"),
])
def test_a_silence_that_cannot_be_added_says_why(fields: dict[str, Any], problem: str) -> None:
    asked: dict[str, Any] = {"by": "ops", "comment": "works", "expires_at": T0 + 60, "now": T0,
                             "zone": "north", **fields}
    with pytest.raises(SilenceError, match=problem):
        new_silence(**asked)


@pytest.mark.parametrize("what", ["device", "sensor", "hazard"])
def test_any_one_field_is_enough(what: str) -> None:
    asked: dict[str, Any] = {what: "x"}
    assert getattr(new_silence(by="ops", comment="c", expires_at=T0 + 1, now=T0, **asked),
                   what) == "x"
    assert new_silence(by="ops", comment="c", expires_at=T0 + 1, now=T0, incident_id=3
                       ).incident_id == 3


def test_expired_by_hand_records_who_and_when() -> None:
    silence = new_silence(by="ops", comment="works", expires_at=T0 + 60, now=T0, zone="north")
    ended = expired_by_hand(silence, 1, "alice", T0 + 10)
    assert (ended.ended_at, ended.ended_by, ended.end_reason) == (T0 + 10, "alice",
                                                                  "expired by hand")
    assert not ended.active(T0 + 10) and ended.active_at(T0 + 10)


@pytest.mark.parametrize(("silence", "now", "problem"), [
    pytest.param(None, T0, "There is no silence 1.", id="none"),
    pytest.param(Silence(1, T0, "ops", "c", T0 + 60, zone="n", ended_at=T0 + 5), T0 + 10,
                 "Silence 1 has already ended.", id="ended"),
    pytest.param(Silence(1, T0, "ops", "c", T0 + 60, zone="n"), T0 + 60,
                 "Silence 1 has already ended.", id="expired"),
])
def test_a_silence_that_is_over_cannot_be_ended(silence: Silence | None, now: float,
                                                problem: str) -> None:
    with pytest.raises(SilenceError, match=problem):
        expired_by_hand(silence, 1, "alice", now)
