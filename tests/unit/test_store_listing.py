"""Listing incidents without their rule state gives the same public record."""

from __future__ import annotations

import uuid
from pathlib import Path

from hub.config import HubConfig
from hub.ingest import Ingest
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


def test_a_listing_without_rule_state_has_every_public_field(tmp_path: Path) -> None:
    # Given a store with incidents that grew and were regraded (reasons in their rule state)
    store = Store.open_writer(tmp_path / "hub.db")
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
