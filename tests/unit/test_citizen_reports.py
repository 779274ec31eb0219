"""Issue 19: a citizen's report joins the open sensor incident of its zone and hazard (and
confirms it); the contact stays apart, for operators only, and goes with the incident when
retention deletes it (SQLite and PostgreSQL)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from hub.cli import main
from hub.config import HubConfig, StoreConfig
from hub.core.incident import IncidentStatus
from hub.core.lifecycle import resolve
from hub.desk.citizen import file_citizen_report
from hub.desk.commands import DeskError
from hub.service.ingest import Ingest
from hub.store import Store
from hub.store.retention import Pruner
from lifeline.grades import Grade
from tests.unit.test_accountable_incidents import OWNERS, gas, send


def test_a_report_joins_the_sensor_incident_and_its_contact_goes_with_it(
        store_config: StoreConfig, open_store: Callable[[], Store]) -> None:
    config = HubConfig(store=store_config, owners=OWNERS)
    now = time.time()
    # Given a hub with an unconfirmed yellow gas incident in north (one sensor's alert)
    store = open_store()
    ingest = Ingest(store, config, now)
    send(ingest, now, gas("north", now, Grade.YELLOW))
    [sensed] = store.incidents()
    assert not sensed.confirmed
    # When a resident reports a smell of gas in north, with a phone number
    changes, at = file_citizen_report(config, "north", "gas", "smells of gas by the bakery",
                                      "+41 79 555 01 23", "hotline")
    # Then the report joins that incident and confirms it (a person and a sensor)
    assert [(c.kind, c.incident.id) for c in changes] == [
        ("citizen_report", sensed.id), ("confirmed", sensed.id)]
    ingest.tick(now + 1)  # the hub takes the desk's word
    [joined] = ingest.fusion.incidents
    assert (joined.citizen_reports, joined.confirmed, joined.owner) == (1, True, "gas-utility")
    # And the contact is kept apart: for the desk, in no event of the feed
    assert store.citizen_contacts(sensed.id) == [(at, "+41 79 555 01 23")]
    assert all("555 01 23" not in str(e.payload) for e in store.events_after(0))
    # When the incident is resolved and retention later deletes it, Then the contact goes too
    with store.transaction():
        incident = store.incident(sensed.id)
        assert incident is not None
        store.apply([resolve(incident, "ann", "leak fixed", now + 2)], now + 2)
    ingest.tick(now + 3)
    Pruner(store, retain_s=60).step(now + 86400, keep_resolved_s=60)
    assert store.incident(sensed.id) is None and store.citizen_contacts(sensed.id) == []


def test_a_report_opens_a_blue_incident_that_stays_until_sensors_or_a_person_act(
        open_store: Callable[[], Store], store_config: StoreConfig) -> None:
    config = HubConfig(store=store_config, owners=OWNERS)
    now = time.time()
    store = open_store()
    ingest = Ingest(store, config, now)
    # Given a report where no sensor has seen anything
    [opened, reported] = file_citizen_report(config, "south", "gas", "gas smell", "", "ann")[0]
    assert (opened.kind, reported.kind) == ("opened", "citizen_report")
    assert (opened.incident.grade, opened.incident.owner) == (Grade.BLUE, "gas-utility")
    # When the hub's quiet time passes, Then it is not resolved as quiet (nothing sensed it)
    ingest.tick(now + 1)
    ingest.tick(now + 250)  # the quiet time is 120 s
    [incident] = store.incidents()
    assert incident.status is IncidentStatus.OPEN and store.citizen_contacts(incident.id) == []
    # When a sensor in that zone alerts, Then it joins the citizen's incident and confirms it
    send(ingest, now + 260, gas("south", now + 260, Grade.ORANGE))
    [joined] = store.incidents()
    assert (joined.id, joined.grade, joined.confirmed) == (incident.id, Grade.ORANGE, True)


def test_report_citizen_on_the_command_line(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    Store.open_writer(tmp_path / "hub.db").close()
    (tmp_path / "hub.toml").write_text(f'[store]\npath = "{tmp_path / "hub.db"}"\n'
                                       '[zones.old-town]\n')
    base = ["report-citizen", "--config", str(tmp_path / "hub.toml"), "--hazard", "gas",
            "--text", "smell of gas"]
    assert main([*base, "--zone", "old-town", "--contact", "flat 3", "--by", "ann"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "INC-1 opened   reported by a citizen; not yet seen by sensors" in out[0]
    assert "INC-1 reported by ann: smell of gas" in out[1] and "flat 3" not in "".join(out)
    assert main([*base, "--zone", "old-twn"]) == 1
    assert "did you mean 'old-town'" in capsys.readouterr().err
    assert main(["incidents", "show", "1", "--config", str(tmp_path / "hub.toml")]) == 0
    assert "flat 3" in capsys.readouterr().out
    with pytest.raises(DeskError, match="not a hazard a citizen can report"):
        file_citizen_report(HubConfig(store=StoreConfig(path=tmp_path / "hub.db")), "old-town",
                            "device", "x", "", "ann")
