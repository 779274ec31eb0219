"""Issue 19: the hub advances the response clocks on its tick, with a fake clock: a missed
deadline is an ``escalated`` event, routed; again at the next step; not twice after a
restart; held by a silence; stopped by an acknowledgement."""

from __future__ import annotations

import json
from collections.abc import Callable

from hub.config import HubConfig, RoutingConfig
from hub.core.lifecycle import acknowledge
from hub.core.silences import Silence
from hub.service.ingest import Ingest
from hub.store import Store
from lifeline import wire
from lifeline.grades import Grade
from tests.unit.test_accountable_incidents import OWNERS, T0, gas, send

# red: 5 min to acknowledge; gas-emergency escalates to city-command (one step)
CONFIG = HubConfig(owners=OWNERS, routing=RoutingConfig(mqtt_republish=True))


def escalations(store: Store) -> list[dict[str, object]]:
    return [e.payload["escalation"] for e in store.events_after(0) if e.kind == "escalated"]


def test_a_missed_deadline_escalates_once_per_step_and_survives_a_restart(
        open_store: Callable[[], Store]) -> None:
    # Given a red gas incident opened at T0 that nobody acknowledges
    store = open_store()
    ingest = Ingest(store, CONFIG, T0)
    send(ingest, T0, gas("north", T0, Grade.RED))
    other = Ingest(store, CONFIG, T0 + 1)  # a second hub on the same store (PostgreSQL)
    # When the hub's clock passes just short of the deadline, Then nothing happens
    ingest.tick(T0 + 299)
    assert escalations(store) == []
    # When it passes the deadline, Then one escalation to the next step, routed on MQTT
    ingest.tick(T0 + 301)
    assert escalations(store) == [{"what": "acknowledge", "level": 1,
                                   "missed_by": "gas-emergency", "escalated_to": "city-command",
                                   "due_at": wire.format_ts(T0 + 300)}]
    routed = [json.loads(r.body) for r in store.outbox.due(T0 + 400)]
    assert routed[-1]["kind"] == "escalated"
    assert routed[-1]["escalation"]["escalated_to"] == "city-command"
    assert routed[-1]["why"] == (f"gas-emergency did not acknowledge by "
                                 f"{wire.format_ts(T0 + 300)}; escalated to city-command "
                                 "(level 1)")
    # And the second hub, whose copy of the incident is older, does not escalate it again
    other.tick(T0 + 302)
    assert len(escalations(store)) == 1
    # When the hub restarts (a new Ingest on the store) and ticks again, Then no repeat
    ingest = Ingest(store, CONFIG, T0 + 400)
    ingest.tick(T0 + 400)
    assert len(escalations(store)) == 1
    # When the next step's time has passed too, Then the second escalation, the last
    ingest.tick(T0 + 601)
    second = escalations(store)[1]
    assert (second["level"], second["missed_by"], second["escalated_to"]) == (
        2, "city-command", None)
    ingest.tick(T0 + 2000)
    assert len(escalations(store)) == 2
    [incident] = store.incidents()
    assert incident.clock is not None and incident.clock.ack_level == 2


def test_a_silence_holds_the_deadline_and_an_acknowledgement_stops_it(
        open_store: Callable[[], Store]) -> None:
    # Given two red gas incidents far apart, one of them silenced until T0 + 1000
    store = open_store()
    ingest = Ingest(store, CONFIG, T0)
    send(ingest, T0, gas("north", T0, Grade.RED), gas("south", T0, Grade.RED, "edge-gas-2"))
    north, south = sorted(store.incidents(), key=lambda i: i.zone)
    with store.transaction():
        store.silences.add(Silence(0, T0, "ann", "crew on site", T0 + 1000,
                                   incident_id=north.id))
    # When an operator acknowledges the other one in time
        store.apply([acknowledge(south, "bob", "on my way", T0 + 100)], T0 + 100)
        store.bump_desk_revision()
    # Then past the deadline nothing escalates: one is held, the other acknowledged
    ingest.tick(T0 + 301)
    ingest.tick(T0 + 900)
    assert escalations(store) == []
    # When the silence ends, Then what fell due meanwhile escalates (the held one only)
    ingest.tick(T0 + 1001)
    assert [(e["missed_by"], e["level"]) for e in escalations(store)] == [
        ("gas-emergency", 1), ("city-command", 2)]
    assert [e.kind for e in store.timeline(north.id)][-2:] == ["escalated", "escalated"]
    assert "escalated" not in [e.kind for e in store.timeline(south.id)]
