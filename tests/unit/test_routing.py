"""Routing rules, backoff and the events-feed cursor, on a real SQLite store (no network)."""

from __future__ import annotations

import dataclasses
import json
import random
from pathlib import Path

import pytest

from hub.config import RouteConfig, RoutingConfig
from hub.core.incident import Incident, IncidentStatus, Joined, Opened, Resolved
from hub.core.silences import add_silence, parse_duration
from hub.core.topology import Topology, Zone
from hub.service.routing import (
    CURSOR_KEY,
    backoff,
    due_rows,
    mark_failed,
    route_events,
    route_heads,
    route_matches,
)
from hub.store import Store, incident_json
from lifeline.grades import Grade

TOPOLOGY = Topology.build([Zone("main-1", parent="north"), Zone("north", parent="city")], {})
T0 = 1_800_000_000.0


def incident(hazard: str = "water", zone: str = "main-1", grade: Grade = Grade.ORANGE,
             status: IncidentStatus = IncidentStatus.OPEN) -> Incident:
    return Incident(id=1, zone=zone, hazard=hazard, grade=grade, status=status, opened_at=T0,
                    updated_at=T0, first_ts=T0, last_ts=T0, last_arrival=T0, devices=("d1",))


@pytest.mark.parametrize(("route", "expected"), [
    (RouteConfig("all", "http://x/"), True),
    (RouteConfig("water", "http://x/", hazards=("water",)), True),
    (RouteConfig("gas", "http://x/", hazards=("gas",)), False),
    (RouteConfig("district", "http://x/", zones=("city",)), True),
    (RouteConfig("south", "http://x/", zones=("south",)), False),
    (RouteConfig("red only", "http://x/", min_grade=Grade.RED), False),
])
def test_route_matches_hazard_zone_with_parents_and_grade(route: RouteConfig,
                                                          expected: bool) -> None:
    assert route_matches(route, incident_json(incident()), TOPOLOGY) is expected


def test_backoff_doubles_is_capped_and_jittered() -> None:
    rng = random.Random(1)
    delays = [backoff(n, 60.0, rng) for n in range(1, 10)]
    assert all(0.5 * min(60, 2 ** (n - 1)) <= d <= min(60, 2 ** (n - 1))
               for n, d in zip(range(1, 10), delays, strict=True))


@pytest.mark.parametrize(("text", "seconds"), [("30s", 30), ("10m", 600), ("2h", 7200),
                                               ("1d", 86400), ("45", 45)])
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


def test_events_route_once_state_changes_only_and_silences_hush_webhooks(tmp_path: Path) -> None:
    store = Store.open_writer(tmp_path / "hub.db")
    routing = RoutingConfig(routes=(RouteConfig("w", "http://x/", hazards=("water",)),))
    with store.transaction():
        assert route_events(store, routing, TOPOLOGY, T0) == 0  # cursor starts at "now"
        opened = incident()
        store.apply([Opened(opened)], T0)
        assert route_events(store, routing, TOPOLOGY, T0) == 2  # mqtt + webhook
        assert route_events(store, routing, TOPOLOGY, T0) == 0  # routed once
        add_silence(store.db, by="ops", comment="works", expires_at=T0 + 3600, now=T0,
                    zone="north", incident_id=1)
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
        assert int(store.meta(CURSOR_KEY)) == store.last_event_id() == 20
    store.close()


def test_a_failed_row_holds_back_its_route_until_due(tmp_path: Path) -> None:
    store = Store.open_writer(tmp_path / "hub.db")
    routing = RoutingConfig(routes=(RouteConfig("w", "http://x/"),), mqtt_republish=False)
    with store.transaction():
        route_events(store, routing, TOPOLOGY, T0)
        store.apply([Opened(incident()), Resolved(incident(status=IncidentStatus.RESOLVED))], T0)
        route_events(store, routing, TOPOLOGY, T0)
        [batch] = route_heads(store.db, T0, set())
        assert len(batch) == 2
        delay = mark_failed(store.db, batch[0].id, "HTTP 503", T0, 300.0, random.Random(0))
        assert route_heads(store.db, T0 + delay / 2, set()) == []
        assert len(route_heads(store.db, T0 + delay, set())[0]) == 2
        assert route_heads(store.db, T0 + delay, {"w"}) == []
        assert due_rows(store.db, T0, route="mqtt") == []
    store.close()
