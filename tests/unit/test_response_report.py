"""Issue 19: ``lifeline-hub report`` against a store built from a known scenario (SQLite and
PostgreSQL), with its answers worked out by hand."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from hub.cli import main
from hub.config import HubConfig, StoreConfig
from hub.core.incident import Change, Incident
from hub.core.lifecycle import acknowledge, resolve
from hub.core.report import TOTAL, ReportRow, aggregate
from hub.service.ingest import Ingest
from hub.store import Store
from lifeline import wire
from lifeline.grades import Grade
from tests.unit.test_accountable_incidents import OWNERS, T0, gas, send


def water(zone: str, grade: Grade) -> wire.Alert:
    return wire.Alert(id=f"w-{zone}", device=f"edge-{zone}", zone=zone, sensor="main-pressure",
                      channel="pressure_kpa", kind="water.pressure", ts=T0, value=200.0,
                      score=1.0, grade=grade, reason=wire.Reason.LIMIT, seq=0, unit="kPa")


def act(store: Store, number: int, at: float, step: Callable[[Incident, float], Change]) -> None:
    """An operator's action at ``at`` (as the desk does it, with a fake time)."""
    with store.transaction():
        incident = store.incident(number)
        assert incident is not None
        store.apply([step(incident, at)], at)
        store.bump_desk_revision()


def scenario(store: Store) -> None:
    """INC-1 red gas north (gas-emergency), acked at +120, resolved real at +1800;
    INC-2 yellow gas south (gas-utility), acked at +60, resolved by fusion when quiet (+301);
    INC-3 red gas east (gas-emergency), nobody acks: escalated at +301 and +601, acked at
    +900, resolved as a false alarm at +7200; INC-4 orange water west (control-room), never
    acked, resolved by fusion when quiet (+301)."""
    ingest = Ingest(store, HubConfig(owners=OWNERS), T0)
    send(ingest, T0, gas("north", T0, Grade.RED, "edge-n"), gas("south", T0, Grade.YELLOW, "edge-s"),
         gas("east", T0, Grade.RED, "edge-e"))
    ingest.batch([(wire.alert_topic("edge-west"), wire.encode(water("west", Grade.ORANGE)))], T0)
    act(store, 2, T0 + 60, lambda i, now: acknowledge(i, "ann", "", now))
    act(store, 1, T0 + 120, lambda i, now: acknowledge(i, "bob", "", now))
    ingest.tick(T0 + 301)
    ingest.tick(T0 + 601)
    act(store, 3, T0 + 900, lambda i, now: acknowledge(i, "ann", "", now))
    act(store, 1, T0 + 1800, lambda i, now: resolve(i, "bob", "valve shut", now, "real"))
    act(store, 3, T0 + 7200, lambda i, now: resolve(i, "ann", "sensor drift", now,
                                                    "false-alarm"))


def test_the_report_of_a_known_scenario(open_store: Callable[[], Store]) -> None:
    store = open_store()
    scenario(store)
    facts = store.response_facts(T0 - 1)
    assert [(f.id, f.owner, f.status) for f in facts] == [
        (1, "gas-emergency", "resolved"), (2, "gas-utility", "resolved"),
        (3, "gas-emergency", "resolved"), (4, "control-room", "resolved")]
    assert aggregate(facts, "owner") == [
        ReportRow("control-room", 1, 0, None, None, 1, 301.0, 301.0, 0, 0, 0),
        ReportRow("gas-emergency", 2, 2, 510.0, 900.0, 2, 4500.0, 7200.0, 1, 2, 1),
        ReportRow("gas-utility", 1, 1, 60.0, 60.0, 1, 301.0, 301.0, 0, 0, 0),
        ReportRow(TOTAL, 4, 3, 120.0, 900.0, 4, 1050.5, 7200.0, 1, 2, 1)]
    assert [(r.group, r.incidents) for r in aggregate(facts, "hazard")] == [
        ("gas", 3), ("water", 1), (TOTAL, 4)]
    assert store.response_facts(T0 + 1) == []  # opened before: not in the report


def test_the_report_command_prints_table_json_and_csv(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = Store.writer(StoreConfig(path=tmp_path / "hub.db"))
    scenario(store)
    store.close()
    (tmp_path / "hub.toml").write_text(f'[store]\npath = "{tmp_path / "hub.db"}"\n')
    argv = ["report", "--config", str(tmp_path / "hub.toml"), "--since", "3650d"]
    assert main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split()[:3] == ["OWNER", "INCIDENTS", "ACKED"]
    assert lines[3].split() == ["gas-emergency", "2", "2", "8m30s", "15m00s", "2", "1h15m",
                                "2h00m", "1", "2", "1"]
    assert main([*argv, "--by", "zone", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [g["group"] for g in data["groups"]] == ["east", "north", "south", "west"]
    assert data["all"]["resolve_median_s"] == 1050.5 and data["by"] == "zone"
    assert main([*argv, "--csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert rows[-1]["owner"] == TOTAL and rows[-1]["false_alarms"] == "1"
    assert main([*argv[:-2], "--since", "soon"]) == 2
    assert "--since" in capsys.readouterr().err
