"""Routing: incident state changes -> the persisted outbox (webhooks, MQTT republish).

The hub routes from its own events feed, behind a cursor kept in the store, so
every change is routed exactly once whoever made it (fusion, or an operator with
the desk CLI) and none is lost across a restart: routing a batch of events and
moving the cursor commit in one transaction. Which routes take a change, and the
message that carries it, are the pure rules of hub/core/routes.py (``ROUTED_KINDS``,
``destinations``, ``change_message``); this module reads the feed and the silences
through the store's named operations and writes the outbox.

Each route (``[[routes]]`` in hub.toml) takes the changes of its hazards and
zones (a zone matches its sub-zones too) at or above ``min_grade``. A change
covered by an active silence is not sent to webhooks; the MQTT republish on
``lifeline/v1/hub/incident`` carries every change, with ``"silenced": true``
where one applies, for other systems to decide.

Delivery (``hub.service.webhook``) retries failed rows with capped, jittered exponential
backoff (``hub.core.routes.backoff``), from the ``outbox`` table.
"""

from __future__ import annotations

import random
from collections.abc import Collection

from hub.config import RoutingConfig
from hub.core.routes import (
    MQTT_ROUTE,
    ROUTED_KINDS,
    backoff,
    change_message,
    destinations,
    route_body,
)
from hub.core.silences import matching
from hub.core.topology import Topology
from hub.store import OutboxRow, Store
from lifeline import wire
from lifeline.wire import parse_incident_id

__all__ = ["MQTT_ROUTE", "ROUTED_KINDS", "OutboxRow", "mark_failed", "route_events", "route_heads"]

ROUTE_BATCH = 5000  # events routed per call at most


def route_events(store: Store, routing: RoutingConfig, topology: Topology, now: float) -> int:
    """Turn the events after the cursor into outbox rows; call inside the hub's transaction.

    Returns how many outbox rows were added.
    """
    cursor = store.routed_event()
    if cursor is None:  # a new store, or one from before routing: start from now, not from history
        store.set_routed_event(store.last_event_id())
        return 0
    # only the routed kinds are read (in a storm nearly every event is a "joined"); the
    # cursor then moves to the last event seen, routed or not
    events = store.events_after(cursor, limit=ROUTE_BATCH, kinds=ROUTED_KINDS)
    end = events[-1].id if len(events) == ROUTE_BATCH else store.last_event_id()
    if end != cursor:
        store.set_routed_event(end)
    if not events:
        return 0
    silences = store.silences.active(now)
    added = 0
    for event in events:
        payload = event.payload
        if event.kind not in ROUTED_KINDS:
            continue
        incident_json = payload["incident"]
        incident = store.incident(parse_incident_id(incident_json["id"]) or 0)
        hushed = [] if incident is None else matching(silences, incident, now,
                                                      payload.get("alert"), topology)
        change = change_message(event.id, event.kind, event.to_json()["at"], payload,
                                [s.id for s in hushed])
        body = wire.encode(change).decode()
        for route, url in destinations(incident_json, bool(hushed), routing, topology):
            store.outbox.add(route, url, route_body(routing, route, change, body), now)
            added += 1
        if event.kind == "resolved" and incident is not None:
            store.silences.end_for_incident(incident.id, now)
    return added


def route_heads(store: Store, now: float, busy: Collection[str], limit: int = 50
                ) -> list[list[OutboxRow]]:
    """Per webhook route not ``busy``: its oldest undelivered rows, if the oldest is due.

    Rows of one route go strictly in order: nothing overtakes a row waiting to be retried."""
    return store.outbox.heads(now, skip={*busy, MQTT_ROUTE}, limit=limit)


def mark_failed(store: Store, row_id: int, error: str, now: float, cap_s: float,
                rng: random.Random) -> float:
    """Record a failed attempt; returns the delay before the next one."""
    attempts = store.outbox.attempts(row_id) + 1
    delay = backoff(attempts, cap_s, rng)
    store.outbox.retry(row_id, attempts, now + delay, error)
    return delay
