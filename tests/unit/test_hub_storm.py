"""Storms through the hub's ingest path on a real SQLite store (issue 13 items 4 and 5).

An earthquake puts thousands of devices into one incident: every change of it is a row of
the events feed, and each carried the whole device list (up to 19 KB). A flapping
connection made an incident per offline/online pair, routed rows for each, and a log line
per status.
"""

from __future__ import annotations

import json
from pathlib import Path

from hub.config import HubConfig
from hub.ingest import Ingest
from hub.store import EVENT_DEVICES_MAX, Store
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
    assert len(rows) >= 600
    last = json.loads(rows[-1][1])["incident"]
    assert last["device_count"] == 600
    assert last["devices"] == [f"edge-{n:04d}" for n in range(EVENT_DEVICES_MAX)]
    assert max(size for size, _ in rows) < 2500
    [incident] = store.incidents()
    assert len(incident.devices) == 600
    store.close()
