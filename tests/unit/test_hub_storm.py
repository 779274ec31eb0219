"""Storms through the hub's ingest path on a real SQLite store (issue 13 items 4 and 5).

An earthquake puts thousands of devices into one incident: every change of it is a row of
the events feed, and each carried the whole device list (up to 19 KB). A flapping
connection made an incident per offline/online pair, routed rows for each, and a log line
per status.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from hub.config import HubConfig, RouteConfig, RoutingConfig
from hub.core.incident import MAX_DEVICES
from hub.service.ingest import LOG_STATUS_PER_DEVICE, Ingest
from hub.store import EVENT_DEVICES_MAX, Store, incident_json
from lifeline import wire
from lifeline.grades import Grade

NOW = 1_790_000_000.0


def storm_alert(n: int, device: str, zone: str = "z1", grade: Grade = Grade.YELLOW,
                kind: str = "structure.tilt") -> tuple[str, bytes]:
    alert = wire.Alert(id=f"st-{device}-{n}", device=device, zone=zone, sensor=f"s{n}",
                       channel="c", kind=kind, ts=NOW + n * 0.001, value=1.0, score=0.5,
                       grade=grade, reason=wire.Reason.LIMIT, seq=n)
    return wire.alert_topic(device), wire.encode(alert)


def test_an_event_names_a_bounded_number_of_devices_and_counts_them(tmp_path: Path) -> None:
    # Given a hub, and 600 devices of one zone alerting within a second (one incident)
    store = Store.open_writer(tmp_path / "hub.db")
    ingest = Ingest(store, HubConfig(), NOW)
    messages = [storm_alert(n, f"edge-{n:04d}") for n in range(600)]
    # When they arrive in batches
    for start in range(0, len(messages), 200):
        ingest.batch(messages[start:start + 200], NOW + 1)
    # Then every event row names at most EVENT_DEVICES_MAX devices, the first by name,
    # and says how many there are; the incident itself keeps them all
    rows = store.db.execute("SELECT length(payload), payload FROM events").fetchall()
    # (a batch's joined alerts are one event per incident, with their count: issue 16)
    assert sum(json.loads(p).get("count", 1) for _, p in rows
               if json.loads(p)["kind"] in ("opened", "joined")) == 600
    last = json.loads(rows[-1][1])["incident"]
    assert last["device_count"] == 600
    assert last["devices"] == [f"edge-{n:04d}" for n in range(EVENT_DEVICES_MAX)]
    # (a folded joined event also lists its batch's alert ids: bounded by the batch)
    assert max(size - len(json.dumps(json.loads(p).get("alert_ids", []))) for size, p in rows
               ) < 2500
    [incident] = store.incidents()
    assert len(incident.devices) == 600
    store.close()


def flood(ingest: Ingest, devices: int, statuses: int, start: float) -> float:
    """``statuses`` online/offline statuses from ``devices`` devices, each going offline
    and online in turn, 500 a batch over 2.7 s of wall time; returns the last batch time."""
    messages = []
    for n in range(statuses):
        device = f"edge-{n % devices}"
        state = "offline" if (n // devices) % 2 == 0 else "online"
        status = wire.Status(device=device, zone="z1", state=state, ts=start + n * 0.0001)
        messages.append((wire.status_topic(device), wire.encode(status)))
    now = start
    for first in range(0, statuses, 500):
        now = start + 2.7 * first / statuses
        ingest.batch(messages[first:first + 500], now)
    return now


def test_a_flapping_connection_is_one_incident_with_a_flap_count(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # Given a hub with a webhook route beside the MQTT republish
    config = HubConfig(routing=RoutingConfig(routes=(
        RouteConfig(name="ops", url="http://127.0.0.1:9/hook"),)))
    store = Store.open_writer(tmp_path / "hub.db")
    ingest = Ingest(store, config, NOW)
    caplog.set_level(logging.INFO, logger="hub")
    # When 10 devices send 20,000 offline/online statuses within 2.7 s
    now = flood(ingest, devices=10, statuses=20_000, start=NOW)
    # Then each device has one incident, flapping, that counts how often it went again
    incidents = store.incidents()
    assert len(incidents) == 10
    assert {i.devices for i in incidents} == {(f"edge-{d}",) for d in range(10)}
    assert all(i.flapping and i.hazard == "device" and i.active for i in incidents)
    assert {i.flaps for i in incidents} == {999}  # 1,000 outages each: the first and 999 more
    # ... routed when it opened, resolved, reopened and was marked flapping, not per status
    [(outbox,)] = store.db.execute("SELECT count(*) FROM outbox").fetchall()
    [(events,)] = store.db.execute("SELECT count(*) FROM events").fetchall()
    assert outbox <= 10 * 5 * 2, outbox
    assert events <= 10 * 6, events
    # ... and the log says a few lines per device, then that the rest are counted
    assert len(caplog.records) <= 10 * (LOG_STATUS_PER_DEVICE + 1) + events, len(caplog.records)
    caplog.clear()
    ingest.reset_log_budget()
    assert sorted(r.getMessage() for r in caplog.records) == sorted(
        f"device status device=edge-{d}: {2000 - LOG_STATUS_PER_DEVICE} more statuses not "
        f"logged (2000 in all since the last stats line)" for d in range(10))
    # When they stay online and quiet for flap_quiet_s, each incident resolves, once
    assert ingest.tick(now + config.fusion.flap_quiet_s - 1) == []
    resolved = ingest.tick(now + config.fusion.flap_quiet_s)
    assert sorted(c.incident.devices[0] for c in resolved) == [f"edge-{d}" for d in range(10)]
    assert store.count_active_incidents() == 0
    store.close()


def test_a_flapping_device_still_offline_stays_open_and_a_later_outage_is_new(
        tmp_path: Path) -> None:
    store = Store.open_writer(tmp_path / "hub.db")
    ingest = Ingest(store, HubConfig(), NOW)
    # Given a device that flapped and then went offline for good
    now = flood(ingest, devices=1, statuses=21, start=NOW)
    [incident] = store.incidents()
    assert incident.flapping and incident.flaps == 10
    # Then quiet time does not resolve it: the device is offline (its missed deadline to
    # acknowledge escalates, issue 19, but nothing else happens)
    changed = ingest.tick(now + 10 * HubConfig().fusion.flap_quiet_s)
    assert [c.kind for c in changed] == ["escalated"]
    # When it comes back, it resolves after flap_quiet_s of quiet ...
    back = now + 20_000
    online = wire.Status(device="edge-0", zone="z1", state="online", ts=back)
    ingest.batch([(wire.status_topic("edge-0"), wire.encode(online))], back)
    [resolved] = ingest.tick(back + HubConfig().fusion.flap_quiet_s)
    # ... and an outage long after is a new incident
    later = back + 2 * HubConfig().fusion.flap_quiet_s + 1
    offline = wire.Status(device="edge-0", zone="z1", state="offline", ts=later)
    result = ingest.batch([(wire.status_topic("edge-0"), wire.encode(offline))], later)
    assert [c.kind for c in result.changes] == ["opened"]
    assert result.changes[0].incident.id != resolved.incident.id
    store.close()


def test_an_incident_names_the_first_devices_and_counts_all_across_a_restart(
        tmp_path: Path) -> None:
    # Given 1,100 devices of one zone in one incident (more than MAX_DEVICES)
    store = Store.open_writer(tmp_path / "hub.db")
    ingest = Ingest(store, HubConfig(), NOW)
    ingest.batch([storm_alert(n, f"edge-{n:04d}") for n in range(1100)], NOW + 1)
    [incident] = store.incidents()
    assert incident.devices == tuple(f"edge-{n:04d}" for n in range(MAX_DEVICES))
    assert incident.n_devices == 1100
    store.close()
    # When the hub restarts and a device it does not name alerts again, then a new one
    store = Store.open_writer(tmp_path / "hub.db")
    ingest = Ingest(store, HubConfig(), NOW + 2)
    ingest.batch([storm_alert(2000, "edge-1099")], NOW + 2)
    assert store.incidents()[0].n_devices == 1100
    ingest.batch([storm_alert(2001, "edge-1100")], NOW + 3)
    # Then the count is still exact, and incidents --json says it
    [incident] = store.incidents()
    assert incident.n_devices == 1101
    assert incident_json(incident)["device_count"] == 1101
    assert store.incidents(rule_state=False)[0].n_devices == 1101
    store.close()
