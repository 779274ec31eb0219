"""Owners, deadlines and escalation as pure rules (issue 19): table-driven, a fake clock."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest

from hub.config import load_hub_config
from hub.core.deadlines import (
    ACKNOWLEDGE,
    RESOLVE,
    DeadlinePolicy,
    ResponseClock,
    regrade_clock,
    start_clock,
    step,
)
from hub.core.ownership import OwnerPolicy, OwnerRule, owner_of
from lifeline.grades import Grade
from lifeline.tomlconfig import ConfigError

RULES = (
    OwnerRule("gas-utility", hazards=("gas",), escalation=("gas-duty", "city-command")),
    OwnerRule("north-gas-crew", hazards=("gas",), zones=("north",)),
    OwnerRule("north-duty", zones=("north",)),
    OwnerRule("gas-emergency", hazards=("gas",), min_grade=Grade.RED),
    OwnerRule("north-3-anything", zones=("north-3",)),
)
POLICY = OwnerPolicy(RULES, default=OwnerRule("control-room"))


@pytest.mark.parametrize(("hazard", "zone", "ancestors", "grade", "owner"), [
    ("gas", "north-3", ("north",), Grade.YELLOW, "north-3-anything"),  # nearest zone wins
    ("gas", "north-2", ("north",), Grade.YELLOW, "north-gas-crew"),  # zone, then hazard
    ("water", "north-2", ("north",), Grade.RED, "north-duty"),
    ("gas", "south", (), Grade.YELLOW, "gas-utility"),
    ("gas", "south", (), Grade.RED, "gas-emergency"),  # a higher min_grade is more specific
    ("water", "south", (), Grade.RED, "control-room"),  # nothing matches: the default
    ("gas", "north", (), Grade.RED, "north-gas-crew"),  # a zone beats any grade
])
def test_the_most_specific_owner_wins(hazard: str, zone: str, ancestors: tuple[str, ...],
                                      grade: Grade, owner: str) -> None:
    assert owner_of(POLICY, hazard, zone, grade, ancestors).department == owner


def test_among_equals_the_first_in_the_file_wins() -> None:
    twins = OwnerPolicy((OwnerRule("first", hazards=("gas",)),
                         OwnerRule("second", hazards=("gas",))), OwnerRule("default"))
    assert owner_of(twins, "gas", "z", Grade.BLUE).department == "first"


CHAIN = ("district-duty", "city-command")
P = DeadlinePolicy()


def run(events: list[tuple[float, str]], grade: Grade = Grade.RED, chain: tuple[str, ...] = CHAIN,
        restart_at: float | None = None) -> list[tuple[float, str, int, str, str | None]]:
    """Drive one incident through ``events`` (time, what) with a tick every 10 s of fake
    time; a restart round-trips the clock through JSON as the store would keep it."""
    clock = start_clock(grade, 0.0, P)
    acknowledged = resolved = held = False
    seen: list[tuple[float, str, int, str, str | None]] = []
    pending = sorted(events)
    now = 0.0
    while now <= 6 * 3600:
        while pending and pending[0][0] <= now:
            _, what = pending.pop(0)
            if what == "ack":
                acknowledged = True
            elif what == "resolve":
                resolved = True
            elif what == "hold":
                held = True
            elif what == "release":
                held = False
            elif what.startswith("regrade:"):
                grade = Grade.parse(what.split(":")[1])
                clock = regrade_clock(clock, grade, now, P)
        if restart_at is not None and now == restart_at:
            clock = ResponseClock(**json.loads(json.dumps(asdict(clock))))
        clock, due = step(clock, grade, owner="gas-utility", chain=chain,
                          acknowledged=acknowledged, resolved=resolved, held=held, now=now,
                          policy=P)
        seen += [(now, e.what, e.level, e.missed_by, e.escalated_to) for e in due]
        now += 10.0
    return seen


def test_an_unacknowledged_red_incident_climbs_the_chain_then_is_recorded_as_missed() -> None:
    assert run([]) == [
        (300.0, ACKNOWLEDGE, 1, "gas-utility", "district-duty"),
        (600.0, ACKNOWLEDGE, 2, "district-duty", "city-command"),
        (900.0, ACKNOWLEDGE, 3, "city-command", None),
        (14400.0, RESOLVE, 1, "gas-utility", "district-duty"),
    ]


@pytest.mark.parametrize(("events", "expected"), [
    # acknowledged in time: no acknowledge escalation; the resolve deadline still runs
    ([(120.0, "ack")], [(14400.0, RESOLVE, 1, "gas-utility", "district-duty")]),
    # acknowledged after the first escalation: the climb stops there
    ([(400.0, "ack")], [(300.0, ACKNOWLEDGE, 1, "gas-utility", "district-duty"),
                        (14400.0, RESOLVE, 1, "gas-utility", "district-duty")]),
    # resolved: everything stops
    ([(200.0, "resolve")], []),
    # held (silenced) over the deadline: escalates when the hold ends, not before
    ([(100.0, "hold"), (500.0, "release"), (510.0, "ack"), (520.0, "resolve")],
     [(500.0, ACKNOWLEDGE, 1, "gas-utility", "district-duty")]),
    # a long hold: every step that fell due meanwhile, at once, in order
    ([(100.0, "hold"), (1000.0, "release"), (1000.0, "resolve")], []),
    ([(100.0, "hold"), (1000.0, "release"), (1010.0, "resolve")],
     [(1000.0, ACKNOWLEDGE, 1, "gas-utility", "district-duty"),
      (1000.0, ACKNOWLEDGE, 2, "district-duty", "city-command"),
      (1000.0, ACKNOWLEDGE, 3, "city-command", None)]),
])
def test_acknowledge_resolve_and_holds_stop_or_defer_escalation(
        events: list[tuple[float, str]], expected: list[object]) -> None:
    assert run(events) == expected


def test_a_graver_grade_tightens_the_deadline_a_lower_one_never_extends_it() -> None:
    # yellow: 60 min to acknowledge; red from minute 10: due at 10 + 5 min
    assert run([(600.0, "regrade:red"), (1000.0, "ack"), (1000.0, "resolve")],
               grade=Grade.YELLOW) == [(900.0, ACKNOWLEDGE, 1, "gas-utility", "district-duty")]
    # red then blue at minute 1: still due at 5 min
    assert run([(60.0, "regrade:blue"), (310.0, "ack"), (310.0, "resolve")]) == [
        (300.0, ACKNOWLEDGE, 1, "gas-utility", "district-duty")]


def test_blue_has_no_deadline_and_no_chain_still_records_the_miss() -> None:
    assert run([], grade=Grade.BLUE) == []
    assert run([(1000.0, "resolve")], chain=()) == [(300.0, ACKNOWLEDGE, 1, "gas-utility", None)]


@pytest.mark.parametrize("restart_at", [0.0, 290.0, 300.0, 310.0, 610.0, 5000.0])
def test_a_restart_in_the_middle_changes_nothing(restart_at: float) -> None:
    assert run([], restart_at=restart_at) == run([])


def test_a_hub_that_was_down_escalates_what_fell_due_on_its_first_step() -> None:
    clock = start_clock(Grade.ORANGE, 0.0, P)
    clock, due = step(clock, Grade.ORANGE, owner="o", chain=("a", "b"), acknowledged=False,
                      resolved=False, held=False, now=2000.0, policy=P)
    # orange: 15 min to acknowledge, each step 15 min more
    assert [(e.level, e.due_at, e.escalated_to) for e in due] == [(1, 900.0, "a"),
                                                                  (2, 1800.0, "b")]
    assert clock.ack_due == 2700.0 and clock.ack_level == 2


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "hub.toml"
    path.write_text(text)
    return path


def test_owners_and_deadlines_are_read_from_hub_toml(tmp_path: Path) -> None:
    config = load_hub_config(_config(tmp_path, """
[zones.north]
[zones.north-3]
parent = "north"

[[owners]]
department = "city-control-room"
escalation = ["city-command"]

[[owners]]
department = "north-gas-crew"
hazards = ["gas"]
zones = ["north"]
min_grade = "orange"
escalation = ["north-duty", "city-command"]

[deadlines.acknowledge]
red = "2m"
blue = "2h"

[deadlines.resolve]
yellow = "none"
"""))
    owner = owner_of(config.owners, "gas", "north-3", Grade.RED,
                     config.fusion.topology.ancestors("north-3"))
    assert (owner.department, owner.escalation) == ("north-gas-crew", ("north-duty", "city-command"))
    assert owner_of(config.owners, "gas", "north-3", Grade.YELLOW).department == "city-control-room"
    assert config.deadlines.limit(ACKNOWLEDGE, Grade.RED) == 120.0
    assert config.deadlines.limit(ACKNOWLEDGE, Grade.BLUE) == 7200.0
    assert config.deadlines.limit(ACKNOWLEDGE, Grade.ORANGE) == 900.0  # default kept
    assert config.deadlines.limit(RESOLVE, Grade.YELLOW) is None


def test_no_owners_at_all_means_one_control_room(tmp_path: Path) -> None:
    config = load_hub_config(_config(tmp_path, "[fusion]\n"))
    assert owner_of(config.owners, "water", "z", Grade.RED).department == "control-room"


@pytest.mark.parametrize(("text", "message"), [
    ('[[owners]]\ndepartment = "gas"\nhazards = ["gas"]\n',
     "hub.toml: owners: no default owner"),
    ('[[owners]]\ndepartment = "a"\n[[owners]]\ndepartment = "b"\n',
     "hub.toml: owners: more than one default owner"),
    ('[[owners]]\ndepartment = "a"\n[[owners]]\ndepartment = "b"\nhazards = ["gaz"]\n',
     "hub.toml: owners[1].hazards: 'gaz' is not one of"),
    ('[zones.north]\n[[owners]]\ndepartment = "a"\n[[owners]]\ndepartment = "b"\n'
     'zones = ["nrth"]\n', "did you mean 'north'?"),
    ('[[owners]]\ndepartment = "a"\nescalation = ["a"]\n',
     "hub.toml: owners[0].escalation: names the owner 'a' itself"),
    ('[deadlines.acknowledge]\nred = "soon"\n',
     "hub.toml: deadlines.acknowledge.red: 'soon' is not a duration"),
    ('[deadlines.acknowledge]\nredd = "5m"\n', "did you mean 'red'?"),
])
def test_bad_owners_or_deadlines_say_where_and_what(tmp_path: Path, text: str,
                                                    message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_hub_config(_config(tmp_path, text))
    assert message in str(caught.value)
