"""Listing incidents without their rule state gives the same public record."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path

from hub.config import HubConfig
from hub.service.ingest import Ingest
from hub.store import Store, incident_json
from lifeline import wire
from lifeline.grades import Grade

T0 = 1_790_000_000.0


def alert(zone: str, ts: float, grade: Grade, seq: int) -> wire.Alert:
    return wire.Alert(
        id=uuid.uuid4().hex, device=f"edge-{zone}", zone=zone, sensor="main-pressure",
        channel="pressure_kpa", kind="water.pressure", ts=ts, value=200.0, score=1.0,
        grade=grade, reason=wire.Reason.LIMIT, seq=seq, unit="kPa", context=(320.0, 200.0),
        message="200 kPa below low limit 250")


def test_a_listing_without_rule_state_has_every_public_field(open_store: Callable[[], Store]) -> None:
    # Given a store with incidents that grew and were regraded (reasons in their rule state)
    store = open_store()
    ingest = Ingest(store, HubConfig(), T0)
    rows = [alert(zone, T0 + n, grade, n) for zone in ("north", "south", "east")
            for n, grade in enumerate([Grade.YELLOW, Grade.ORANGE, Grade.RED])]
    ingest.batch([(wire.alert_topic(a.device), wire.encode(a)) for a in rows], T0 + 5)
    # When they are listed both ways
    full = store.incidents()
    light = store.incidents(rule_state=False)
    # Then the public record (incidents --json) is the same, reasons included,
    # and the light one carries no evidence
    assert [incident_json(i) for i in light] == [incident_json(i) for i in full]
    assert any(i.reasons for i in full) and len(full) == 3
    assert all(not i.evidence and not i.readings for i in light)
    assert any(i.evidence for i in full)


def store_of(where: Path | Callable[[], Store], zones: list[str]) -> Store:
    """A store with one incident per zone (opened in this order), each of three alerts: a
    SQLite file at ``where``, or what ``where()`` opens."""
    store = Store.open_writer(where) if isinstance(where, Path) else where()
    ingest = Ingest(store, HubConfig(), T0)
    for k, zone in enumerate(zones):
        rows = [alert(zone, T0 + 10 * k + n, grade, n)
                for n, grade in enumerate([Grade.YELLOW, Grade.ORANGE, Grade.RED])]
        ingest.batch([(wire.alert_topic(a.device), wire.encode(a)) for a in rows], T0 + 10 * k)
    return store


def test_table_rows_are_the_listing_without_the_rule_state(open_store: Callable[[], Store]) -> None:
    # Given incidents, one of them resolved by an operator
    store = store_of(open_store, ["north", "south", "east", "west"])
    with store.transaction():
        store.db.execute("UPDATE incidents SET status = 'resolved' WHERE zone = 'south'")
    for status in (None, "open", "resolved", "merged"):
        listed = store.incidents(status, rule_state=False)
        # When the table's rows are read, newest first, the same filter
        rows = store.incident_rows(status)
        # Then they say what the listing says, in the same order
        assert rows == [(i.id, i.status.value, int(i.grade), i.hazard, i.zone, i.alert_count,
                         json.dumps(list(i.devices)), i.opened_at, i.updated_at, i.owner)
                        for i in listed]
        assert store.count_incidents(status) == len(listed)
    # And a limit keeps the newest
    assert [r[4] for r in store.incident_rows(None, 2)] == ["west", "east"]
    assert [i.zone for i in store.incidents(None, rule_state=False, limit=2)] == ["west", "east"]
    assert store.count_active_incidents() == 3
