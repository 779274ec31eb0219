"""The router on a real SQLite store (no network): the events-feed cursor, silences holding
changes back from webhooks, a failed row holding back its route. The pure rules (which
routes, backoff) are tests/unit/test_route_rules.py."""

from __future__ import annotations

import dataclasses
import json
import random
from pathlib import Path

import pytest

from hub.config import RouteConfig, RoutingConfig
from hub.core.incident import Incident, IncidentStatus, Joined, Opened, Resolved
from hub.core.silences import new_silence
from hub.core.topology import Topology, Zone
from hub.service.routing import mark_failed, route_events, route_heads
from hub.store import Store
from lifeline.grades import Grade

TOPOLOGY = Topology.build([Zone("main-1", parent="north"), Zone("north", parent="city")], {})
T0 = 1_800_000_000.0


def incident(hazard: str = "water", zone: str = "main-1", grade: Grade = Grade.ORANGE,
             status: IncidentStatus = IncidentStatus.OPEN) -> Incident:
    return Incident(id=1, zone=zone, hazard=hazard, grade=grade, status=status, opened_at=T0,
                    updated_at=T0, first_ts=T0, last_ts=T0, last_arrival=T0, devices=("d1",))


def test_events_route_once_state_changes_only_and_silences_hush_webhooks(tmp_path: Path) -> None:
    store = Store.open_writer(tmp_path / "hub.db")
    routing = RoutingConfig(routes=(RouteConfig("w", "http://x/", hazards=("water",)),))
    with store.transaction():
        assert route_events(store, routing, TOPOLOGY, T0) == 0  # cursor starts at "now"
        opened = incident()
        store.apply([Opened(opened)], T0)
        assert route_events(store, routing, TOPOLOGY, T0) == 2  # mqtt + webhook
        assert route_events(store, routing, TOPOLOGY, T0) == 0  # routed once
        store.silences.add(new_silence(by="ops", comment="works", expires_at=T0 + 3600, now=T0,
                                       zone="north", incident_id=1))
        store.apply([Resolved(incident(status=IncidentStatus.RESOLVED), why="quiet")], T0 + 1)
        assert route_events(store, routing, TOPOLOGY, T0 + 1) == 1  # mqtt only, silenced
        bodies = [json.loads(r[0]) for r in store.db.execute("SELECT body FROM outbox "
                                                             "WHERE route = 'mqtt'")]
        assert [(b["kind"], b["silenced"]) for b in bodies] == [("opened", False),
                                                                ("resolved", True)]
        # And the silence tied to the incident ended with it
        assert store.db.execute("SELECT end_reason FROM silences").fetchone() == (
            "incident resolved",)
    store.close()


def test_the_cursor_skips_unrouted_events_and_pages_through_routed_ones(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Joined events are passed over in SQL; a page smaller than the events left must not
    move the cursor past routed events it has not read."""
    monkeypatch.setattr("hub.service.routing.ROUTE_BATCH", 2)
    store = Store.open_writer(tmp_path / "hub.db")
    routing = RoutingConfig(mqtt_republish=True)
    opened = incident()
    with store.transaction():
        route_events(store, routing, TOPOLOGY, T0)
        for n in range(5):  # opened, then joined x3, for incidents 1..5: 20 events
            this = dataclasses.replace(opened, id=n + 1)
            store.apply([Opened(this), *(Joined(this) for _ in range(3))], T0)
        routed = 0
        while (added := route_events(store, routing, TOPOLOGY, T0)):
            routed += added
        kinds = [json.loads(b)["kind"] for (b,) in store.db.execute("SELECT body FROM outbox")]
        assert routed == 5 and kinds == ["opened"] * 5
        assert store.routed_event() == store.last_event_id() == 20
    store.close()


def test_a_failed_row_holds_back_its_route_until_due(tmp_path: Path) -> None:
    store = Store.open_writer(tmp_path / "hub.db")
    routing = RoutingConfig(routes=(RouteConfig("w", "http://x/"),), mqtt_republish=False)
    with store.transaction():
        route_events(store, routing, TOPOLOGY, T0)
        store.apply([Opened(incident()), Resolved(incident(status=IncidentStatus.RESOLVED))], T0)
        route_events(store, routing, TOPOLOGY, T0)
        [batch] = route_heads(store, T0, set())
        assert len(batch) == 2
        delay = mark_failed(store, batch[0].id, "HTTP 503", T0, 300.0, random.Random(0))
        assert route_heads(store, T0 + delay / 2, set()) == []
        assert len(route_heads(store, T0 + delay, set())[0]) == 2
        assert route_heads(store, T0 + delay, {"w"}) == []
        assert store.outbox.due(T0, route="mqtt") == []
    store.close()
