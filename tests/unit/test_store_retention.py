"""Retention (``[store] retain_days``, hub/store/retention.py) on a real SQLite store and a
real PostgreSQL database.

The data is made the way the hub makes it -- alerts through ``Ingest`` (stored, fused,
routed), time passed with ``Ingest.tick``, an operator's action through ``hub.core.lifecycle`` --
and then pruned step by step as the hub's main loop does between batches.
"""

from __future__ import annotations

import itertools
import sqlite3
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from hub.config import HubConfig
from hub.core import lifecycle
from hub.core.incident import IncidentStatus
from hub.service import security_events
from hub.service.ingest import Ingest
from hub.store import Store
from hub.store.retention import PruneCounts, Pruner
from lifeline import wire
from lifeline.grades import Grade

T0 = 1_790_000_000.0
DAY = 86400.0
RETAIN_S = 7 * DAY
PRUNE_AT = T0 + 10 * DAY
TABLES = ("alerts", "incident_alerts", "incidents", "events", "outbox")
_seq = itertools.count(1)


def alert(zone: str, ts: float, grade: Grade = Grade.ORANGE,
          device: str = "edge-1") -> wire.Alert:
    return wire.Alert(
        id=uuid.uuid4().hex, device=device, zone=zone, sensor="main-pressure",
        channel="pressure_kpa", kind="water.pressure", ts=ts, value=200.0, score=1.0,
        grade=grade, reason=wire.Reason.LIMIT, seq=next(_seq), unit="kPa",
        context=(320.0, 200.0), message="200 kPa below low limit 250")


def send(ingest: Ingest, alerts: list[wire.Alert], now: float) -> None:
    ingest.batch([(wire.alert_topic(a.device), wire.encode(a)) for a in alerts], now)


def counts(store: Store) -> dict[str, int]:
    return {t: int(store.db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]) for t in TABLES}


def incident_of(store: Store, zone: str) -> int:
    found = [i.id for i in store.incidents() if i.zone == zone]
    assert len(found) == 1, f"one incident in {zone}, found {found}"
    return found[0]


def prune_all(store: Store, now: float, limit: int = 1000) -> PruneCounts:
    """Steps until one deletes nothing, a fresh Pruner each time (as after a restart); every
    step deletes at most ``limit`` rows and counts what it deleted."""
    total = PruneCounts()
    for _ in range(10_000):
        was = sum(counts(store).values())
        step = Pruner(store, RETAIN_S, limit).step(now, HubConfig().fusion.max_span_s)
        assert step.rows == was - sum(counts(store).values()) <= limit
        total.add(step)
        if step.rows == 0:
            return total
    raise AssertionError("pruning never finished")


@pytest.fixture
def store(open_store: Callable[[], Store]) -> Store:
    return open_store()


def test_old_resolved_data_goes_open_incidents_and_recent_data_stay(store: Store) -> None:
    # Given, ten days ago: a quiet incident that resolved by itself (north), a red one that
    # latched (south), one an operator acknowledged (east), a refused message (a security
    # event), and outbox rows, some delivered back then
    ingest = Ingest(store, HubConfig(), T0)
    north = [alert("north", T0), alert("north", T0 + 10)]
    send(ingest, north, T0 + 10)
    send(ingest, [alert("south", T0, Grade.RED, device="edge-2")], T0 + 10)
    with store.transaction():
        security_events.record(store, T0 + 20, {"kind": "security", "incident": {"id": "-"}})
    ingest.tick(T0 + 200)
    send(ingest, [alert("east", T0 + 300, device="edge-3")], T0 + 300)
    east = store.incident(incident_of(store, "east"))
    assert east is not None
    with store.transaction():
        store.apply([lifecycle.acknowledge(east, "ops", "crew sent", T0 + 310)], T0 + 310)
    with store.transaction():
        for (row_id,) in store.db.execute("SELECT id FROM outbox ORDER BY id LIMIT 2").fetchall():
            store.outbox.delivered(row_id, T0 + 11)
    # and, an hour ago, a new incident (west)
    send(ingest, [alert("west", PRUNE_AT - 3600, device="edge-4")], PRUNE_AT - 3600)
    ingest.batch([], PRUNE_AT - 3500)  # routes what is left to route (no tick: east would resolve)
    ids = {zone: incident_of(store, zone) for zone in ("north", "south", "east", "west")}
    statuses = {z: store.incident(i).status for z, i in ids.items()}  # type: ignore[union-attr]
    assert statuses == {"north": IncidentStatus.RESOLVED, "south": IncidentStatus.OPEN,
                        "east": IncidentStatus.ACKNOWLEDGED, "west": IncidentStatus.OPEN}
    kept = {z: (store.alert_ids(i), store.timeline(i)) for z, i in ids.items() if z != "north"}
    before = counts(store)
    highest = max(ids.values())

    # When the store is pruned with a retention of 7 days
    pruned = prune_all(store, PRUNE_AT)

    # Then the resolved incident went with its alerts, memberships and timeline, and so did
    # the security event and the delivered outbox rows
    assert store.incident(ids["north"]) is None
    assert store.timeline(ids["north"]) == []
    assert store.db.execute("SELECT count(*) FROM events WHERE kind = 'security'"
                            ).fetchone()[0] == 0
    north_events = before["events"] - counts(store)["events"] - 1
    assert (pruned.alerts, pruned.memberships, pruned.incidents, pruned.outbox) == (2, 2, 1, 2)
    assert pruned.events == north_events + 1 and north_events >= 2
    assert counts(store) == {t: before[t] - n for t, n in zip(
        TABLES, (2, 2, 1, pruned.events, 2), strict=True)}
    # and the latched, the acknowledged and the recent incident kept every alert and event
    assert {z: (store.alert_ids(i), store.timeline(i)) for z, i in ids.items()
            if z != "north"} == kept
    # and a resend of a pruned alert is still a duplicate, incident ids are never reused
    with store.transaction():
        assert not store.add_alert(north[0], PRUNE_AT, wire.encode(north[0]).decode())
        assert store.add_alert(alert("north", PRUNE_AT), PRUNE_AT, "{}")
    assert store.next_incident_id() == highest + 1


def test_a_step_deletes_at_most_its_bound_and_a_restart_carries_on(store: Store) -> None:
    # Given an old resolved incident of 40 alerts (events: opened, the 39 joined, resolved ...)
    ingest = Ingest(store, HubConfig(), T0)
    send(ingest, [alert("north", T0 + n) for n in range(40)], T0 + 40)
    ingest.tick(T0 + 200)
    ingest.tick(T0 + 201)
    before = counts(store)
    assert before["alerts"] == 40 and before["events"] >= 3
    # When it is pruned ten rows a step, by a new Pruner each step (a restart in the middle)
    steps = []
    while True:
        was = counts(store)
        step = Pruner(store, RETAIN_S, limit=10).step(PRUNE_AT, 21600.0)
        now = counts(store)
        steps.append(step.rows)
        # Then no step deletes more than ten rows, and its counts say what it deleted
        assert step.rows == sum(was.values()) - sum(now.values()) <= 10
        if step.rows == 0:
            break
    # and in the end the incident, its alerts and its events are gone (the outbox is not
    # delivered, so it stays)
    assert counts(store) == {**{t: 0 for t in TABLES}, "outbox": before["outbox"]}
    assert len(steps) > (sum(before.values()) - before["outbox"]) // 10
    # and the next incident does not get the pruned one's id
    assert store.next_incident_id() == 2


def test_merged_incidents_go_with_the_incident_they_merged_into(store: Store) -> None:
    # Given two incidents of one zone, bridged by a late alert: one merged into the other
    ingest = Ingest(store, HubConfig(), T0)
    send(ingest, [alert("north", T0)], T0)
    send(ingest, [alert("north", T0 + 600)], T0 + 1)
    send(ingest, [alert("north", T0 + 300)], T0 + 2)
    merged = store.incidents("merged")
    assert len(merged) == 1 and merged[0].merged_into is not None
    survivor = merged[0].merged_into
    # When the survivor is still open, nothing goes
    prune_all(store, PRUNE_AT)
    assert store.incident(merged[0].id) is not None and len(store.alert_ids(survivor)) == 3
    # When it has resolved and is older than the retention, both go with their timelines
    ingest.tick(T0 + 200)
    assert store.incident(survivor).status is IncidentStatus.RESOLVED  # type: ignore[union-attr]
    pruned = prune_all(store, PRUNE_AT, limit=3)  # a few rows a step: children go first
    assert (pruned.incidents, pruned.alerts) == (2, 3)
    assert store.incidents("merged") == [] and store.timeline(survivor) == []


def test_an_incident_resolved_within_max_span_s_stays_whatever_the_retention(
        store: Store) -> None:
    # Given an incident resolved two hours ago, under a one-hour retention; fusion can still
    # reopen it for max_span_s (6 h)
    ingest = Ingest(store, HubConfig(), T0)
    send(ingest, [alert("north", T0)], T0)
    ingest.tick(T0 + 200)
    # When pruned, Then it stays; four hours later it goes
    step = Pruner(store, 3600.0).step(T0 + 200 + 7200, 21600.0)
    assert step.incidents == 0 and store.count_alerts() == 1
    step = Pruner(store, 3600.0).step(T0 + 200 + 21600 + 3600, 21600.0)
    assert (step.incidents, step.alerts) == (1, 1)


def test_events_not_yet_routed_stay(store: Store) -> None:
    # Given an old security event the router has not passed yet (its cursor is behind it)
    ingest = Ingest(store, HubConfig(), T0)
    with store.transaction():
        security_events.record(store, T0, {"kind": "security", "incident": {"id": "-"}})
        store.set_meta("routed_event", "0")
    # When pruned, Then it stays; once routed it goes
    assert prune_all(store, PRUNE_AT).events == 0
    ingest.tick(T0 + 1)
    assert prune_all(store, PRUNE_AT).events == 1


def test_loose_old_alerts_go_and_the_walk_follows_a_freed_rowid(store: Store) -> None:
    # Given old alerts that belong to no incident
    with store.transaction():
        for n in range(3):
            store.add_alert(alert("north", T0 + n), T0 + n, "{}")
    pruner = Pruner(store, RETAIN_S)
    # When pruned, Then they go
    assert pruner.step(PRUNE_AT, 21600.0).alerts == 3
    # and an alert stored afterwards (reusing a freed rowid) is still found once it is old
    with store.transaction():
        store.add_alert(alert("north", T0 + 5), T0 + 5, "{}")
    assert pruner.step(PRUNE_AT, 21600.0).alerts == 1
    assert store.count_alerts() == 0


def test_a_step_looks_its_alerts_up_by_key_not_by_scanning_them(tmp_path: Path) -> None:
    """A prune step's deletes find their rows by primary key: a step costs what it deletes,
    not the size of the store (``(device, id) IN (VALUES ...)`` made SQLite scan every
    alert three times a step: seconds on 10 M, inside the hub's write transaction).
    Measured in SQLite's VM instructions, which a scan makes grow with the table."""

    def instructions(store: Store) -> int:
        ticks = [0]

        def tick() -> int:
            ticks[0] += 1
            return 0

        assert isinstance(store.db, sqlite3.Connection)
        store.db.set_progress_handler(tick, 100)
        Pruner(store, RETAIN_S, limit=50).step(PRUNE_AT, HubConfig().fusion.max_span_s)
        store.db.set_progress_handler(None, 0)
        return ticks[0] * 100

    steps = []
    for recent in (2_000, 20_000):
        # Given an old resolved incident of 40 alerts, and recent alerts of another zone
        store = Store.open_writer(tmp_path / f"hub-{recent}.db")
        ingest = Ingest(store, HubConfig(), T0)
        send(ingest, [alert("north", T0 + n) for n in range(40)], T0 + 40)
        ingest.tick(T0 + 200)
        ingest.tick(T0 + 201)
        with store.transaction():
            store.add_alerts([(alert("south", PRUNE_AT - n, device=f"edge-{n % 97}"), "{}")
                              for n in range(recent)], PRUNE_AT)
        # When a step prunes (the old incident's alerts)
        steps.append(instructions(store))
        assert counts(store)["alerts"] < 40 + recent
        store.close()
    # Then ten times the alerts in the store make the step cost well under twice as much
    assert steps[1] < 2 * steps[0], steps
