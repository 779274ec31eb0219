"""The store's named operations on its silences and outbox tables, on a real SQLite file."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from hub.core.silences import expired_by_hand, new_silence
from hub.store import OutboxRow, Store

T0 = 1_800_000_000.0


def test_silences_are_kept_listed_and_ended(tmp_path: Path) -> None:
    store = Store.open_writer(tmp_path / "hub.db")
    with store.transaction():
        first = store.silences.add(new_silence(by="ops", comment="works", expires_at=T0 + 60,
                                               now=T0, zone="north"))
        second = store.silences.add(new_silence(by="ops", comment="drill", expires_at=T0 + 600,
                                                now=T0, incident_id=4))
    assert (first, second) == (1, 2)
    kept = store.silences.get(first)
    assert kept is not None and (kept.id, kept.zone, kept.comment) == (1, "north", "works")
    assert store.silences.get(3) is None
    assert [s.id for s in store.silences.active(T0 + 59)] == [1, 2]
    assert [s.id for s in store.silences.active(T0 + 60)] == [2]  # the first expired
    with store.transaction():
        store.silences.end(expired_by_hand(store.silences.get(second), second, "alice", T0 + 1))
        assert store.silences.end_for_incident(4, T0 + 2) == 0  # already ended by hand
    assert [s.id for s in store.silences.active(T0 + 2)] == [1]
    assert [(s.id, s.ended_by, s.end_reason) for s in store.silences.all()] == [
        (1, None, None), (2, "alice", "expired by hand")]
    store.close()


def test_a_silence_tied_to_an_incident_ends_with_it(tmp_path: Path) -> None:
    store = Store.open_writer(tmp_path / "hub.db")
    with store.transaction():
        store.silences.add(new_silence(by="ops", comment="c", expires_at=T0 + 60, now=T0,
                                       incident_id=4))
        assert store.silences.end_for_incident(5, T0 + 1) == 0
        assert store.silences.end_for_incident(4, T0 + 1) == 1
    [silence] = store.silences.all()
    assert (silence.ended_at, silence.ended_by, silence.end_reason) == (T0 + 1, "hub",
                                                                        "incident resolved")
    store.close()


def test_the_outbox_keeps_order_attempts_and_delivery(tmp_path: Path) -> None:
    store = Store.open_writer(tmp_path / "hub.db")
    with store.transaction():
        for n in range(3):
            store.outbox.add("w", "http://x/", f"body {n}", T0)
        store.outbox.add("mqtt", "lifeline/v1/hub/incident", "m", T0)
    assert store.outbox.pending() == 4
    assert [r.body for r in store.outbox.due(T0, route="w")] == ["body 0", "body 1", "body 2"]
    assert store.outbox.due(T0 - 1) == []  # not due before it was added
    assert [r.id for r in store.outbox.due(T0, exclude={1, 4}, limit=1)] == [2]
    with store.transaction():
        store.outbox.retry(1, 1, T0 + 30, "HTTP 503 " + "x" * 600)
    assert store.outbox.attempts(1) == 1
    assert store.outbox.heads(T0, skip={"mqtt"}) == []  # its head waits for its retry
    [batch] = store.outbox.heads(T0 + 30, skip={"mqtt"}, limit=2)
    assert batch == [OutboxRow(1, "w", "http://x/", "body 0", 1),
                     OutboxRow(2, "w", "http://x/", "body 1", 0)]
    assert len(store.db.execute("SELECT last_error FROM outbox WHERE id = 1").fetchone()[0]) == 500
    with store.transaction():
        store.outbox.delivered(1, T0 + 31)
        store.outbox.delivered(4, T0 + 31)
    assert store.outbox.pending() == 2 and store.outbox.attempts(1) == 2
    assert [r.id for r in store.outbox.due(T0 + 31)] == [2, 3]
    assert [[r.id for r in b] for b in store.outbox.heads(T0, skip=set())] == [[2, 3]]
    assert replace(batch[0], attempts=0).attempts == 0  # frozen rows, replaced not changed
    store.close()
