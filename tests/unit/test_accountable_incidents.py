"""Issue 19: every incident has an owner and a response clock, kept by the store (SQLite and
PostgreSQL), shown by the desk, carried by the routed JSON; an operator can hand it to
another department."""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from hub.cli import main
from hub.config import HubConfig, StoreConfig
from hub.core.accountability import Accountable
from hub.core.deadlines import DeadlinePolicy, ResponseClock
from hub.core.incident import Incident, IncidentStatus
from hub.core.ownership import OwnerPolicy, OwnerRule
from hub.core.topology import Topology
from hub.service.ingest import Ingest
from hub.store import Store, incident_json
from hub.store.schema import SCHEMA_VERSION
from lifeline import wire
from lifeline.grades import Grade

T0 = 1_790_000_000.0
OWNERS = OwnerPolicy((OwnerRule("gas-utility", hazards=("gas",), escalation=("gas-duty",)),
                      OwnerRule("gas-emergency", hazards=("gas",), min_grade=Grade.RED,
                                escalation=("city-command",))),
                     default=OwnerRule("control-room"))
CONFIG = HubConfig(owners=OWNERS)


def gas(zone: str, ts: float, grade: Grade, device: str = "edge-gas-1") -> wire.Alert:
    return wire.Alert(
        id=uuid.uuid4().hex, device=device, zone=zone, sensor="gas", channel="ch4_ppm",
        kind="gas.ch4", ts=ts, value=900.0, score=1.0, grade=grade, reason=wire.Reason.LIMIT,
        seq=0, unit="ppm", message="methane above limit")


def send(ingest: Ingest, now: float, *alerts: wire.Alert) -> None:
    ingest.batch([(wire.alert_topic(a.device), wire.encode(a)) for a in alerts], now)


def incident(grade: Grade, status: IncidentStatus = IncidentStatus.OPEN, **fields: object
             ) -> Incident:
    return Incident(1, "north", "gas", grade, status, T0, T0, T0, T0, T0, **fields)  # type: ignore[arg-type]


STAMP = Accountable(OWNERS, DeadlinePolicy(), Topology.build((), {})).stamp


@pytest.mark.parametrize(("now", "previous", "expected_owner", "expected_clock"), [
    # new: the rule's owner, a clock from now (yellow: 60 min to acknowledge)
    (incident(Grade.YELLOW), None, "gas-utility", ResponseClock(T0 + 3600, T0 + 86400)),
    # regraded to red: the red rule owns it now, the red deadline (5 min from the regrade)
    (incident(Grade.RED, owner="gas-utility", clock=ResponseClock(T0 + 3600, T0 + 86400)),
     incident(Grade.YELLOW), "gas-emergency", ResponseClock(T0 + 300, T0 + 14400)),
    # an operator's choice stays through a regrade; the clock still tightens
    (incident(Grade.RED, owner="water-dept", owner_fixed=True,
              clock=ResponseClock(T0 + 3600, T0 + 86400)),
     incident(Grade.YELLOW), "water-dept", ResponseClock(T0 + 300, T0 + 14400)),
    # reopened: a fresh clock, the escalation levels start over
    (incident(Grade.RED, owner="gas-emergency", clock=ResponseClock(None, None, 2, 1)),
     incident(Grade.RED, IncidentStatus.RESOLVED), "gas-emergency",
     ResponseClock(T0 + 300, T0 + 14400)),
    # resolved: nothing runs any more, the levels reached stay
    (incident(Grade.RED, IncidentStatus.RESOLVED, owner="gas-emergency",
              clock=ResponseClock(T0 + 300, T0 + 14400, 1, 0)),
     incident(Grade.RED), "gas-emergency", ResponseClock(None, None, 1, 0)),
])
def test_fusion_stamps_owner_and_clock(now: Incident, previous: Incident | None,
                                       expected_owner: str, expected_clock: ResponseClock) -> None:
    stamped = STAMP(now, previous)
    assert (stamped.owner, stamped.clock) == (expected_owner, expected_clock)


def test_owner_and_clock_are_stored_shown_and_routed(open_store: Callable[[], Store]) -> None:
    # Given a hub whose [[owners]] give gas to the gas utility, red gas to the emergency crew
    store = open_store()
    ingest = Ingest(store, CONFIG, T0)
    # When a yellow gas alert opens an incident and a red one regrades it
    send(ingest, T0, gas("north", T0, Grade.YELLOW))
    [opened] = store.incidents()
    send(ingest, T0 + 10, gas("north", T0 + 10, Grade.RED))
    # Then the store keeps the owner the rules give at each grade, and the clock
    [regraded] = store.incidents()
    assert (opened.owner, opened.clock) == ("gas-utility", ResponseClock(T0 + 3600, T0 + 86400))
    assert regraded.grade is Grade.RED and regraded.owner == "gas-emergency"
    assert regraded.clock == ResponseClock(T0 + 10 + 300, T0 + 10 + 14400)
    # And the listing row, the JSON and the routed payload (the events feed) carry them
    assert store.incident_rows()[0][9] == "gas-emergency"
    shown = incident_json(regraded)
    assert (shown["owner"], shown["acknowledge_by"], shown["escalation_level"]) == (
        "gas-emergency", wire.format_ts(T0 + 310), 0)
    kinds = {e.kind: e.payload["incident"]["owner"] for e in store.events_after(0)}
    assert kinds["opened"] == "gas-utility" and kinds["grade_changed"] == "gas-emergency"
    # And a hub started again on the store goes on with them (no new clock, same owner)
    again = Ingest(store, CONFIG, T0 + 20)
    [kept] = again.fusion.incidents
    assert (kept.owner, kept.clock) == (regraded.owner, regraded.clock)


def test_a_schema_5_sqlite_store_gets_the_columns(tmp_path: Path) -> None:
    # Given a store of schema 5 (no owner columns), with an incident
    store = Store.open_writer(tmp_path / "hub.db")
    send(Ingest(store, HubConfig(), T0), T0, gas("north", T0, Grade.RED))
    store.close()
    db = sqlite3.connect(tmp_path / "hub.db")
    for column in ("owner", "owner_fixed", "ack_due", "resolve_due", "ack_level",
                   "resolve_level", "outcome"):
        db.execute(f"ALTER TABLE incidents DROP COLUMN {column}")
    db.execute("DROP TABLE citizen_contacts")
    db.execute("PRAGMA user_version=5")
    db.commit()
    db.close()
    # When the hub opens it, Then it is upgraded and the incident reads without an owner
    store = Store.open_writer(tmp_path / "hub.db")
    try:
        assert store.migrated_from == 5
        [old] = store.incidents()
        assert (old.owner, old.clock, old.outcome) == (None, None, None)
        assert int(store.db.execute("PRAGMA user_version").fetchone()[0]) == SCHEMA_VERSION
    finally:
        store.close()


@pytest.fixture
def desk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """hub.toml with [[owners]] and a store with one red gas incident, INC-1."""
    monkeypatch.setenv("NO_COLOR", "1")
    store = Store.writer(StoreConfig(path=tmp_path / "hub.db"))
    send(Ingest(store, CONFIG, T0), T0, gas("north", T0, Grade.RED))
    store.close()
    path = tmp_path / "hub.toml"
    path.write_text(f'[store]\npath = "{tmp_path / "hub.db"}"\n'
                    '[[owners]]\ndepartment = "control-room"\n'
                    '[[owners]]\ndepartment = "gas-utility"\nhazards = ["gas"]\n'
                    'escalation = ["gas-duty"]\n'
                    '[[owners]]\ndepartment = "gas-emergency"\nhazards = ["gas"]\n'
                    'min_grade = "red"\nescalation = ["city-command"]\n')
    return path


def test_the_desk_shows_owners_and_hands_an_incident_to_a_department(
        desk: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = ["--config", str(desk)]
    # Given INC-1, owned by the red gas rule: the table and the page say so
    assert main(["incidents", *config]) == 0
    header, row = capsys.readouterr().out.splitlines()
    assert header.split()[5] == "OWNER" and row.split()[5] == "gas-emergency"
    assert main(["incidents", "show", "1", *config]) == 0
    page = capsys.readouterr().out
    assert "owner:     gas-emergency\n" in page and "deadlines: acknowledge by " in page
    # When an operator hands it to the gas utility (and a person there)
    assert main(["incidents", "assign", "INC-1", "ann", "--owner", "gas-utility", "--by", "bob",
                 "--why", "their crew is on site", *config]) == 0
    line = capsys.readouterr().out
    assert "assigned by bob: to department gas-utility, ann (their crew is on site)" in line
    # Then the incident and its timeline say so
    assert main(["incidents", "show", "1", "--json", *config]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert (shown["incident"]["owner"], shown["incident"]["assignee"]) == ("gas-utility", "ann")
    assert shown["timeline"][-1]["kind"] == "assigned"
    assert shown["timeline"][-1]["owner"] == "gas-utility"
    # And assigning a person alone still works as before
    assert main(["incidents", "assign", "1", "carl", *config]) == 0
    assert "assigned by " in (out := capsys.readouterr().out) and ": to carl [gas-utility" in out
    # And assign with neither a person nor a department is a usage error, as before
    assert main(["incidents", "assign", "1", *config]) == 2
    assert "--owner" in capsys.readouterr().err
    # And a department [[owners]] does not name is refused, with a suggestion
    assert main(["incidents", "assign", "1", "--owner", "gas-utilty", *config]) == 1
    assert "did you mean 'gas-utility'" in capsys.readouterr().err
    # When it is resolved as a false alarm, Then the incident and its timeline keep that
    assert main(["incidents", "resolve", "1", "--why", "sensor drift", "--outcome", "maybe",
                 *config]) == 2
    capsys.readouterr()
    assert main(["incidents", "resolve", "1", "--why", "sensor drift", "--outcome",
                 "false-alarm", *config]) == 0
    capsys.readouterr()
    assert main(["incidents", "show", "1", "--json", *config]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["incident"]["outcome"] == "false-alarm"
    assert shown["timeline"][-1]["outcome"] == "false-alarm"
    assert shown["incident"]["acknowledge_by"] is None


def test_tail_shows_the_owner_and_the_time_left_to_acknowledge(
        desk: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Given INC-1 opened red (5 min to acknowledge), When tail replays it
    assert main(["tail", "--from-start", "--no-follow", "--config", str(desk)]) == 0
    lines = capsys.readouterr().out.splitlines()
    # Then its lines end with who owns it and how long is left, as of each line's time
    assert lines[0].endswith("[gas-emergency: ack in 5m00s]"), lines
    assert main(["tail", "--from-start", "--no-follow", "--json", "--config", str(desk)]) == 0
    first = json.loads(capsys.readouterr().out.splitlines()[0])
    assert first["incident"]["owner"] == "gas-emergency"
    assert first["incident"]["acknowledge_by"] == wire.format_ts(T0 + 300)


def test_a_schema_5_postgresql_store_gets_the_columns(postgres_url: str) -> None:
    # Given a PostgreSQL store of schema 5 (no owner columns, no contacts), with an incident
    config = StoreConfig(url=postgres_url)
    store = Store.writer(config)
    send(Ingest(store, HubConfig(), T0), T0, gas("north", T0, Grade.RED))
    with store.transaction():
        store.db.execute("ALTER TABLE incidents DROP COLUMN owner, DROP COLUMN owner_fixed, "
                         "DROP COLUMN ack_due, DROP COLUMN resolve_due, DROP COLUMN ack_level, "
                         "DROP COLUMN resolve_level, DROP COLUMN outcome")
        store.db.execute("DROP TABLE citizen_contacts")
        store.set_meta("schema_version", "5")
    store.close()
    # When a hub of schema 6 opens it, Then it is upgraded in place and the incident kept
    store = Store.writer(config)
    try:
        assert (store.migrated_from, store.meta("schema_version")) == (5, str(SCHEMA_VERSION))
        [old] = store.incidents()
        assert (old.owner, old.clock, old.outcome) == (None, None, None)
        assert store.citizen_contacts(old.id) == []
    finally:
        store.close()
