"""Routing's pure rules without a database: which routes take a change, the message that carries
it, and the backoff between attempts (the router on a real store: tests/unit/test_routing.py)."""

from __future__ import annotations

import random

import pytest

from hub.config import RouteConfig, RoutingConfig
from hub.core.incident import Incident, IncidentStatus
from hub.core.routes import MQTT_ROUTE, backoff, change_message, destinations, route_matches
from hub.core.topology import Topology, Zone
from hub.store import incident_json
from lifeline import wire
from lifeline.grades import Grade
from lifeline.wire import INCIDENT_TOPIC

TOPOLOGY = Topology.build([Zone("main-1", parent="north"), Zone("north", parent="city")], {})
T0 = 1_800_000_000.0
WATER = RouteConfig("water", "http://water/", hazards=("water",))
GAS = RouteConfig("gas", "http://gas/", hazards=("gas",))


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


@pytest.mark.parametrize(("republish", "silenced", "expected"), [
    pytest.param(True, False, [(MQTT_ROUTE, INCIDENT_TOPIC), ("water", "http://water/")],
                 id="republish and the matching webhook"),
    pytest.param(True, True, [(MQTT_ROUTE, INCIDENT_TOPIC)], id="silenced: republish only"),
    pytest.param(False, False, [("water", "http://water/")], id="no republish"),
    pytest.param(False, True, [], id="silenced, no republish: nowhere"),
])
def test_destinations_republish_every_change_and_webhooks_unless_silenced(
        republish: bool, silenced: bool, expected: list[tuple[str, str]]) -> None:
    routing = RoutingConfig(routes=(WATER, GAS), mqtt_republish=republish)
    assert destinations(incident_json(incident()), silenced, routing, TOPOLOGY) == expected


def test_change_message_carries_the_change_and_its_silences() -> None:
    payload = {"kind": "resolved", "incident": incident_json(incident(status=IncidentStatus.RESOLVED)),
               "why": "quiet", "by": "ops", "alert": None}
    message = change_message(7, "resolved", "2027-01-15T08:00:00Z", payload, [2, 5])
    decoded = wire.decode_incident_change(wire.encode(message))
    assert (decoded.event, decoded.kind, decoded.why, decoded.by) == (7, "resolved", "quiet", "ops")
    assert decoded.incident["id"] == "INC-1" and decoded.incident["status"] == "resolved"
    assert (decoded.silenced, decoded.silences) == (True, (2, 5))
    assert change_message(8, "opened", "2027-01-15T08:00:00Z", payload, []).silenced is False
