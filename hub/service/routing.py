"""Routing: incident state changes -> the persisted outbox (webhooks, MQTT republish).

The hub routes from its own events feed, behind a cursor kept in the store, so
every change is routed exactly once whoever made it (fusion, or an operator with
the desk CLI) and none is lost across a restart: routing a batch of events and
moving the cursor commit in one transaction. Only state changes are routed --
``opened``, ``grade_changed``, ``acknowledged``, ``resolved``, ``reopened`` -- never
each joining alert: no repeat spam.

Each route (``[[routes]]`` in hub.toml) takes the changes of its hazards and
zones (a zone matches its sub-zones too) at or above ``min_grade``. A change
covered by an active silence is not sent to webhooks; the MQTT republish on
``lifeline/v1/hub/incident`` carries every change, with ``"silenced": true``
where one applies, for other systems to decide.

Delivery (``hub.service.webhook``) retries failed rows with capped, jittered exponential
backoff (``backoff``), from the ``outbox`` table.
"""

from __future__ import annotations

import json
import random
import sqlite3
from dataclasses import dataclass
from typing import Any

from hub.config import RouteConfig, RoutingConfig
from hub.core.alertmanager import webhook_body
from hub.core.silences import active_silences, end_silences_for, matching
from hub.core.topology import Topology
from hub.store import Store
from lifeline import wire
from lifeline.grades import Grade
from lifeline.wire import INCIDENT_TOPIC, parse_incident_id

__all__ = ["MQTT_ROUTE", "ROUTED_KINDS", "OutboxRow", "backoff", "due_rows", "mark_delivered",
           "mark_failed", "route_body", "route_events", "route_heads", "route_matches"]

ROUTED_KINDS = ("opened", "grade_changed", "acknowledged", "resolved", "reopened")
MQTT_ROUTE = "mqtt"
CURSOR_KEY = "routed_event"
ROUTE_BATCH = 5000  # events routed per call at most


@dataclass(frozen=True, slots=True)
class OutboxRow:
    id: int
    route: str
    url: str
    body: str
    attempts: int


def route_matches(route: RouteConfig, incident: dict[str, Any], topology: Topology) -> bool:
    """Does ``route`` want changes of this incident (its public JSON)?"""
    if route.hazards and incident["hazard"] not in route.hazards:
        return False
    if route.zones:
        around = {a for z in incident.get("zones") or [incident["zone"]]
                  for a in topology.ancestors(z)}
        if not around & set(route.zones):
            return False
    return Grade.parse(incident["grade"]) >= route.min_grade


def backoff(attempts: int, cap_s: float, rng: random.Random) -> float:
    """Seconds before the next try after ``attempts`` failures: 1, 2, 4 ... capped, jittered."""
    return min(cap_s, 2.0 ** max(0, attempts - 1)) * rng.uniform(0.5, 1.0)


def route_events(store: Store, routing: RoutingConfig, topology: Topology, now: float) -> int:
    """Turn the events after the cursor into outbox rows; call inside the hub's transaction.

    Returns how many outbox rows were added.
    """
    cursor = int(store.meta(CURSOR_KEY, "-1"))
    if cursor < 0:  # a new store, or one from before routing: start from now, not from history
        store.set_meta(CURSOR_KEY, str(store.last_event_id()))
        return 0
    # only the routed kinds are read (in a storm nearly every event is a "joined"); the
    # cursor then moves to the last event seen, routed or not
    events = store.events_after(cursor, limit=ROUTE_BATCH, kinds=ROUTED_KINDS)
    end = events[-1].id if len(events) == ROUTE_BATCH else store.last_event_id()
    if end != cursor:
        store.set_meta(CURSOR_KEY, str(end))
    if not events:
        return 0
    silences = active_silences(store.db, now)
    added = 0
    for event in events:
        payload = event.payload
        if event.kind not in ROUTED_KINDS:
            continue
        incident_json = payload["incident"]
        incident = store.incident(parse_incident_id(incident_json["id"]) or 0)
        hushed = [] if incident is None else matching(silences, incident, now,
                                                      payload.get("alert"), topology)
        change = wire.IncidentChange(
            event=event.id, kind=event.kind, at=event.to_json()["at"], incident=incident_json,
            why=payload.get("why"), by=payload.get("by"),
            previous_grade=payload.get("previous_grade"), silenced=bool(hushed),
            silences=tuple(s.id for s in hushed))
        body = wire.encode(change).decode()
        if routing.mqtt_republish:
            added += _enqueue(store.db, MQTT_ROUTE, INCIDENT_TOPIC, body, now)
        if not hushed:
            for route in routing.routes:
                if route_matches(route, incident_json, topology):
                    added += _enqueue(store.db, route.name, route.url,
                                      route_body(route, change, body), now)
        if event.kind == "resolved" and incident is not None:
            end_silences_for(store.db, incident.id, now)
    return added


def route_body(route: RouteConfig, change: wire.IncidentChange, generic: str) -> str:
    """The body ``route`` posts for ``change``: its ``format``'s shape (``generic`` is the
    wire's own, already encoded)."""
    if route.format == "alertmanager":
        return json.dumps(webhook_body(change, route.name), separators=(",", ":"))
    return generic


def _enqueue(db: sqlite3.Connection, route: str, url: str, body: str, now: float) -> int:
    db.execute("INSERT INTO outbox (created_at, route, url, body, next_attempt_at) "
               "VALUES (?,?,?,?,?)", (now, route, url, body, now))
    return 1


def due_rows(db: sqlite3.Connection, now: float, route: str | None = None,
             exclude: set[int] | frozenset[int] = frozenset(), limit: int = 100
             ) -> list[OutboxRow]:
    """Undelivered rows whose next attempt is due, oldest first (``route`` only, if given)."""
    where = "delivered_at IS NULL AND next_attempt_at <= ?"
    args: list[Any] = [now]
    if route is not None:
        where += " AND route = ?"
        args.append(route)
    rows = db.execute(f"SELECT id, route, url, body, attempts FROM outbox WHERE {where} "
                      "ORDER BY id LIMIT ?", (*args, limit + len(exclude))).fetchall()
    return [OutboxRow(*r) for r in rows if r[0] not in exclude][:limit]


def route_heads(db: sqlite3.Connection, now: float, busy: set[str], limit: int = 50
                ) -> list[list[OutboxRow]]:
    """Per webhook route not ``busy``: its oldest undelivered rows, if the oldest is due.

    Rows of one route go strictly in order: nothing overtakes a row waiting to be retried."""
    batches = []
    for (route,) in db.execute("SELECT DISTINCT route FROM outbox WHERE delivered_at IS NULL "
                               "AND route != ?", (MQTT_ROUTE,)).fetchall():
        if route in busy:
            continue
        rows = [OutboxRow(*r) for r in db.execute(
            "SELECT id, route, url, body, attempts FROM outbox WHERE delivered_at IS NULL AND "
            "route = ? ORDER BY id LIMIT ?", (route, limit))]
        head = db.execute("SELECT next_attempt_at FROM outbox WHERE id = ?",
                          (rows[0].id,)).fetchone()[0]
        if head <= now:
            batches.append(rows)
    return batches


def mark_delivered(db: sqlite3.Connection, row_id: int, now: float) -> None:
    db.execute("UPDATE outbox SET delivered_at = ?, attempts = attempts + 1, last_error = NULL "
               "WHERE id = ?", (now, row_id))


def mark_failed(db: sqlite3.Connection, row_id: int, error: str, now: float, cap_s: float,
                rng: random.Random) -> float:
    """Record a failed attempt; returns the delay before the next one."""
    attempts = int(db.execute("SELECT attempts FROM outbox WHERE id = ?",
                              (row_id,)).fetchone()[0]) + 1
    delay = backoff(attempts, cap_s, rng)
    db.execute("UPDATE outbox SET attempts = ?, next_attempt_at = ?, last_error = ? WHERE id = ?",
               (attempts, now + delay, error[:500], row_id))
    return delay
