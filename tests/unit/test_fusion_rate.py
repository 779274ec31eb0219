"""Escalation by rate of change (issue 5): a reading moving toward danger fast raises a grade."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.config import FusionConfig, RuleConfig
from hub.core.fusion import Fusion, GradeChanged, Incident
from hub.store import Store
from lifeline.grades import Grade
from lifeline.wire import Alert, Reason

T0 = 1_800_000_000.0
_ids = itertools.count(1)
Y, OR, R = Grade.YELLOW, Grade.ORANGE, Grade.RED

RULES = {
    # methane rising 5 %LEL a minute or faster; water pressure falling 20 kPa a minute or faster
    "gas": RuleConfig(corroborate_devices=0, latch_red=False, confirm_after_s=0.0,
                      escalate_rate=(("gas.methane", 5.0),)),
    "water": RuleConfig(corroborate_devices=0, latch_red=False,
                        escalate_rate=(("water.pressure", -20.0),)),
}
CONFIG = FusionConfig(window_s=300.0, rules=RULES)


def alert(ts: float, value: float, kind: str = "gas.methane", device: str = "gas-a",
          grade: Grade = Y, cleared: bool = False, zone: str = "mh-1") -> Alert:
    return Alert(id=f"q{next(_ids)}", device=device, zone=zone, sensor="s1", channel="c",
                 kind=kind, ts=T0 + ts, value=value, score=0.5, grade=grade, reason=Reason.LIMIT,
                 seq=0, cleared=cleared)


def feed(alerts: Sequence[Alert], config: FusionConfig = CONFIG) -> tuple[Fusion, list[object]]:
    fusion, changes = Fusion(config), list[object]()
    for a in alerts:
        changes.extend(fusion.alert(a, now=a.ts))
    return fusion, changes


def regrades(changes: Sequence[object]) -> list[tuple[Grade, Grade, str]]:
    return [(c.previous, c.incident.grade, c.why) for c in changes if isinstance(c, GradeChanged)]


def test_a_fast_rise_raises_one_grade_with_its_reason_in_the_timeline() -> None:
    # Given methane at 22 %LEL, then 34 two minutes later (6 %LEL/min >= 5)
    fusion, changes = feed([alert(0, 22.0), alert(120, 34.0)])
    [incident] = fusion.incidents
    # Then the incident is one grade above its readings, and the change says why
    assert incident.grade is OR
    [(before, after, why)] = regrades(changes)
    assert (before, after) == (Y, OR)
    assert "gas.methane rising 6/min at gas-a (escalate_rate 5/min)" in why
    assert "gas.methane rising 6/min at gas-a (escalate_rate 5/min)" in incident.reasons


@pytest.mark.parametrize(("kind", "values", "grade"), [
    pytest.param("gas.methane", (22.0, 30.0), Y, id="rising 4/min, below 5: no step"),
    pytest.param("gas.methane", (22.0, 32.0), OR, id="rising exactly 5/min: one step"),
    pytest.param("gas.methane", (40.0, 20.0), Y, id="falling methane is not danger"),
    pytest.param("water.pressure", (300.0, 250.0), OR, id="pressure falling 25/min: one step"),
    pytest.param("water.pressure", (250.0, 300.0), Y, id="rising pressure is not danger"),
    pytest.param("water.flow", (10.0, 900.0), Y, id="a kind without a rate: no step"),
])
def test_direction_and_threshold(kind: str, values: tuple[float, float], grade: Grade) -> None:
    fusion, _ = feed([alert(0, values[0], kind), alert(120, values[1], kind)])
    assert fusion.incidents[0].grade is grade


def test_a_change_within_seconds_counts_as_taking_a_minute() -> None:
    # Given +3 %LEL one second apart (180/min if divided by the second, 3/min by the minute)
    fusion, _ = feed([alert(0, 22.0), alert(1, 25.0)])
    assert fusion.incidents[0].grade is Y
    # But a whole 5 %LEL jump within a minute is a fast rise
    fusion, _ = feed([alert(0, 22.0), alert(1, 27.0)])
    assert fusion.incidents[0].grade is OR


def test_only_readings_within_the_window_before_the_newest_count() -> None:
    # Given a rise of 30 over 10 minutes (3/min) and then a steady value: no step
    fusion, _ = feed([alert(0, 10.0), alert(600, 40.0)])
    assert fusion.incidents[0].grade is Y


def test_slowing_down_steps_back_down_with_a_reason() -> None:
    # Given a fast rise (one step up), then the value levels off for more than window_s
    fusion, changes = feed([alert(0, 22.0), alert(120, 34.0), alert(300, 35.0),
                            alert(480, 35.0)])
    [incident] = fusion.incidents
    assert [(a, b) for a, b, _ in regrades(changes)] == [(Y, OR), (OR, Y)]
    assert incident.grade is Y
    assert not any("rising" in r for r in incident.reasons)


def test_a_channel_back_to_normal_no_longer_counts_and_a_new_alarm_starts_afresh() -> None:
    # Given a fast rise that cleared, then a new alarm at a lower value than before the clear
    fusion, _ = feed([alert(0, 22.0), alert(60, 30.0), alert(120, 5.0, cleared=True)])
    assert fusion.incidents[0].grade is Grade.BLUE
    fusion, _ = feed([alert(0, 22.0), alert(60, 30.0), alert(120, 5.0, cleared=True),
                      alert(180, 21.0), alert(240, 23.0)])
    # Then the rise across the clear (5 -> 23) is not counted: the new alarm rose 2/min
    assert fusion.incidents[0].grade is Y


def test_the_fastest_channel_is_named_and_only_one_step_is_given() -> None:
    fusion, _ = feed([alert(0, 20.0), alert(0, 20.0, device="gas-b"),
                      alert(60, 26.0), alert(60, 40.0, device="gas-b")])
    [incident] = fusion.incidents
    assert incident.grade is OR
    assert [r for r in incident.reasons if "rising" in r] == [
        "gas.methane rising 20/min at gas-b (escalate_rate 5/min)"]


def test_readings_survive_a_rebuild_and_the_store_round_trip(tmp_path: Path) -> None:
    before, changes = feed([alert(0, 22.0)])
    [stored] = before.incidents
    store = Store.open_writer(tmp_path / "hub.db")
    with store.transaction():
        store.apply(changes, T0)
    store.close()
    [restored] = Store.open_writer(tmp_path / "hub.db").live_incidents(T0, 3600.0)
    assert restored.readings == stored.readings and restored.readings
    assert restored.evidence == stored.evidence
    after = Fusion(CONFIG, incidents=[restored])
    changes = after.alert(alert(60, 30.0), now=T0 + 60)
    assert [(a, b) for a, b, _ in regrades(changes)] == [(Y, OR)]


def test_without_a_rate_rule_no_readings_are_kept() -> None:
    fusion, _ = feed([alert(0, 22.0), alert(60, 90.0)], FusionConfig(window_s=300.0))
    assert fusion.incidents[0].readings == {}


def summary(incidents: Sequence[Incident]) -> list[tuple[object, ...]]:
    return sorted((i.hazard, i.grade.label, i.alert_count, i.reasons) for i in incidents)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["gas-a", "gas-b"]),
                          st.integers(0, 900), st.integers(0, 60),
                          st.sampled_from([False, False, False, True])),
                min_size=1, max_size=10).flatmap(
    lambda rows: st.tuples(st.just(rows), st.permutations(rows))))
def test_rate_grading_does_not_depend_on_arrival_order(
        case: tuple[list[tuple[str, int, int, bool]], list[tuple[str, int, int, bool]]]) -> None:
    ordered, shuffled = case

    def run(rows: list[tuple[str, int, int, bool]]) -> Fusion:
        return feed([Alert(id=f"p{n}", device=d, zone="mh-1", sensor="s", channel="c",
                           kind="gas.methane", ts=T0 + ts, value=float(v), score=0.5,
                           grade=Y, reason=Reason.LIMIT, seq=0, cleared=c)
                     for n, (d, ts, v, c) in enumerate(rows)])[0]

    expected = run(sorted(ordered, key=lambda r: r[1]))
    assert summary(run(shuffled).incidents) == summary(expected.incidents)
