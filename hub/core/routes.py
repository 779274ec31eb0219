"""Routing rules: which routes take an incident change, what message carries it, when to retry.

Pure: the router (hub/service/routing.py) reads the events feed and the silences from
the store and writes the outbox; these functions decide. A change covered by an active
silence is not sent to webhooks; the MQTT republish on ``lifeline/v1/hub/incident``
carries every change, with ``"silenced": true`` where one applies, for other systems to
decide.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from typing import Any

from hub.config import RouteConfig, RoutingConfig
from hub.core.alertmanager import webhook_body
from hub.core.topology import Topology
from lifeline import wire
from lifeline.grades import Grade
from lifeline.wire import INCIDENT_TOPIC

__all__ = ["MQTT_ROUTE", "ROUTED_KINDS", "backoff", "change_message", "destinations",
           "route_body", "route_matches"]

# Only state changes are routed, never each joining alert: no repeat spam
ROUTED_KINDS = ("opened", "grade_changed", "acknowledged", "resolved", "reopened", "escalated")
MQTT_ROUTE = "mqtt"  # the outbox's route name of the MQTT republish


def route_matches(route: RouteConfig, incident: Mapping[str, Any], topology: Topology) -> bool:
    """Does ``route`` want changes of this incident (its public JSON)? A zone matches its
    sub-zones too."""
    if route.hazards and incident["hazard"] not in route.hazards:
        return False
    if route.zones:
        around = {a for z in incident.get("zones") or [incident["zone"]]
                  for a in topology.ancestors(z)}
        if not around & set(route.zones):
            return False
    return Grade.parse(incident["grade"]) >= route.min_grade


def destinations(incident: Mapping[str, Any], silenced: bool, routing: RoutingConfig,
                 topology: Topology) -> list[tuple[str, str]]:
    """(route name, url or topic) of every outbox row one routed change makes: the MQTT
    republish if it is on, and each webhook route that wants the incident unless a silence
    covers the change."""
    found = [(MQTT_ROUTE, INCIDENT_TOPIC)] if routing.mqtt_republish else []
    if not silenced:
        found += [(route.name, route.url) for route in routing.routes
                  if route_matches(route, incident, topology)]
    return found


def change_message(event: int, kind: str, at: str, payload: Mapping[str, Any],
                   silences: Sequence[int]) -> wire.IncidentChange:
    """The IncidentChange of events-feed row ``event`` (``payload``: its ``change_json``),
    covered by the silences ``silences``."""
    return wire.IncidentChange(
        event=event, kind=kind, at=at, incident=payload["incident"], why=payload.get("why"),
        by=payload.get("by"), previous_grade=payload.get("previous_grade"),
        silenced=bool(silences), silences=tuple(silences),
        escalation=payload.get("escalation"))


def route_body(routing: RoutingConfig, name: str, change: wire.IncidentChange,
               generic: str) -> str:
    """The body route ``name`` posts for ``change``: in its ``format`` (``"alertmanager"``:
    Alertmanager's webhook body, hub.core.alertmanager), else ``generic``, the wire's own
    encoding of the change (also what the MQTT republish carries)."""
    for route in routing.routes:
        if route.name == name and route.format == "alertmanager":
            return json.dumps(webhook_body(change, route.name), separators=(",", ":"))
    return generic


def backoff(attempts: int, cap_s: float, rng: random.Random) -> float:
    """Seconds before the next try after ``attempts`` failures: 1, 2, 4 ... capped, jittered."""
    return min(cap_s, 2.0 ** max(0, attempts - 1)) * rng.uniform(0.5, 1.0)
