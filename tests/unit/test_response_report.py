"""Issue 19: ``lifeline-hub report`` against a store built from a known scenario (SQLite and
PostgreSQL), with its answers worked out by hand; ``--by detector``: the operators' outcomes
as the detectors' evaluation in the field."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from hub.cli import main
from hub.config import HubConfig, StoreConfig
from hub.core.incident import Change, Incident
from hub.core.lifecycle import acknowledge, resolve
from hub.core.report import NO_ALERT, TOTAL, IncidentFacts, ReportRow, VerdictRow, aggregate, verdicts
from hub.desk.citizen import file_citizen_report
from hub.service.ingest import Ingest
from hub.store import Store
from lifeline import wire
from lifeline.grades import Grade
from tests.unit.test_accountable_incidents import OWNERS, T0, gas, send


def water(zone: str, grade: Grade) -> wire.Alert:
    return wire.Alert(id=f"w-{zone}", device=f"edge-{zone}", zone=zone, sensor="main-pressure",
                      channel="pressure_kpa", kind="water.pressure", ts=T0, value=200.0,
                      score=1.0, grade=grade, reason=wire.Reason.LIMIT, seq=0, unit="kPa")


def anomaly(alert: wire.Alert) -> wire.Alert:
    """The same alert as an anomaly detector raises it."""
    return dataclasses.replace(alert, reason=wire.Reason.ANOMALY, message="anomaly score high")


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


def facts(number: int, outcome: str | None, *reasons: str,
          status: str = "resolved") -> IncidentFacts:
    return IncidentFacts(number, "control-room", "gas", "north", status, T0, None, T0 + 60,
                         outcome, 0, 0, reasons)


@pytest.mark.parametrize(("incidents", "expected"), [
    # nothing judged: no precision
    ([facts(1, None, "limit")],
     [VerdictRow("limit", 1, 1, 0, 0, 0, 0, 1, None), VerdictRow(TOTAL, 1, 1, 0, 0, 0, 0, 1, None)]),
    # maintenance and test say nothing of a detector; one false alarm: precision 0
    ([facts(1, "maintenance", "anomaly"), facts(2, "test", "anomaly"),
      facts(3, "false-alarm", "anomaly")],
     [VerdictRow("anomaly", 3, 3, 0, 1, 1, 1, 0, 0.0),
      VerdictRow(TOTAL, 3, 3, 0, 1, 1, 1, 0, 0.0)]),
    # an incident both raised counts for both, once in the total; an open one is not judged
    # (even with an outcome left from before it reopened); no alert: its own group
    ([facts(1, "real", "anomaly", "limit"), facts(2, "false-alarm", "anomaly"),
      facts(3, "real", "limit", status="open"), facts(4, "real")],
     [VerdictRow(NO_ALERT, 1, 1, 1, 0, 0, 0, 0, 1.0),
      VerdictRow("anomaly", 2, 2, 1, 1, 0, 0, 0, 0.5),
      VerdictRow("limit", 2, 1, 1, 0, 0, 0, 0, 1.0),
      VerdictRow(TOTAL, 4, 3, 2, 1, 0, 0, 0, 2 / 3)]),
    ([], [VerdictRow(TOTAL, 0, 0, 0, 0, 0, 0, 0, None)]),
])
def test_verdicts_per_detector(incidents: list[IncidentFacts], expected: list[VerdictRow]) -> None:
    assert verdicts(incidents) == expected


def field_scenario(store: Store, config: HubConfig) -> None:
    """INC-1 gas north, raised by a limit and an anomaly alert: real; INC-2 gas south, an
    anomaly: false alarm; INC-3 gas east, an anomaly: resolved by fusion when quiet (no
    outcome); INC-4 water west, a limit: a test; INC-5 gas depot, a limit: maintenance;
    INC-6 gas harbour, a citizen's report and no alert: still open."""
    ingest = Ingest(store, config, T0)
    send(ingest, T0, gas("north", T0, Grade.ORANGE, "edge-n"),
         anomaly(gas("north", T0, Grade.ORANGE, "edge-n2")),
         anomaly(gas("south", T0, Grade.ORANGE, "edge-s")),
         anomaly(gas("east", T0, Grade.YELLOW, "edge-e")))
    ingest.batch([(wire.alert_topic("edge-west"), wire.encode(water("west", Grade.ORANGE)))], T0)
    send(ingest, T0, gas("depot", T0, Grade.ORANGE, "edge-d"))
    for number, outcome in ((1, "real"), (2, "false-alarm"), (4, "test"), (5, "maintenance")):
        act(store, number, T0 + 100, lambda i, now, o=outcome: resolve(i, "ann", "seen", now, o))
    ingest.tick(T0 + 301)
    file_citizen_report(config, "harbour", "gas", "smell of gas on the quay", "", "hotline")


def test_the_detectors_field_verdicts(open_store: Callable[[], Store],
                                      store_config: StoreConfig) -> None:
    store = open_store()
    field_scenario(store, HubConfig(store=store_config, owners=OWNERS))
    found = store.response_facts(T0 - 1)
    assert [(f.id, f.zone, f.status, f.outcome, f.reasons) for f in found] == [
        (1, "north", "resolved", "real", ("anomaly", "limit")),
        (2, "south", "resolved", "false-alarm", ("anomaly",)),
        (3, "east", "resolved", None, ("anomaly",)),
        (4, "west", "resolved", "test", ("limit",)),
        (5, "depot", "resolved", "maintenance", ("limit",)),
        (6, "harbour", "open", None, ())]
    assert verdicts(found) == [
        VerdictRow(NO_ALERT, 1, 0, 0, 0, 0, 0, 0, None),
        VerdictRow("anomaly", 3, 3, 1, 1, 0, 0, 1, 0.5),
        VerdictRow("limit", 3, 3, 1, 0, 1, 1, 0, 1.0),
        VerdictRow(TOTAL, 6, 5, 1, 1, 1, 1, 1, 0.5)]


def test_report_by_detector_prints_table_json_and_csv(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = HubConfig(store=StoreConfig(path=tmp_path / "hub.db"), owners=OWNERS)
    store = Store.writer(config.store)
    field_scenario(store, config)
    store.close()
    (tmp_path / "hub.toml").write_text(f'[store]\npath = "{tmp_path / "hub.db"}"\n')
    argv = ["report", "--config", str(tmp_path / "hub.toml"), "--since", "3650d", "--by",
            "detector"]
    assert main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split() == ["DETECTOR", "INCIDENTS", "RESOLVED", "REAL", "FALSE", "ALARMS",
                                "MAINTENANCE", "TEST", "NO", "OUTCOME", "PRECISION"]
    assert [line.split() for line in lines[2:]] == [
        ["(none)", "1", "0", "0", "0", "0", "0", "0", "-"],
        ["anomaly", "3", "3", "1", "1", "0", "0", "1", "0.50"],
        ["limit", "3", "3", "1", "0", "1", "1", "0", "1.00"],
        ["(all)", "6", "5", "1", "1", "1", "1", "1", "0.50"]]
    assert main([*argv, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["by"] == "detector" and [g["group"] for g in data["groups"]] == [
        "(none)", "anomaly", "limit"]
    assert data["groups"][1]["precision"] == 0.5 and data["all"]["false_alarms"] == 1
    assert main([*argv, "--csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [(r["detector"], r["real"], r["precision"]) for r in rows] == [
        ("(none)", "0", ""), ("anomaly", "1", "0.5"), ("limit", "1", "1.0"), (TOTAL, "1", "0.5")]
