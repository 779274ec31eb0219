"""The fusion rule, without a broker, a store or a clock: time is an argument."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.config import FusionConfig
from hub.core.fusion import (
    Fusion,
    GradeChanged,
    Incident,
    IncidentStatus,
    Joined,
    Merged,
    Opened,
    Reopened,
    Resolved,
)
from lifeline.grades import Grade
from lifeline.wire import Alert, Reason, Status

CONFIG = FusionConfig(window_s=300.0, quiet_s=120.0, max_span_s=3600.0)
T0 = 1_800_000_000.0
_ids = itertools.count(1)


def make_alert(ts: float, zone: str = "north", kind: str = "water.pressure",
               grade: Grade = Grade.ORANGE, reason: Reason = Reason.LIMIT,
               device: str = "edge-1") -> Alert:
    return Alert(id=f"a{next(_ids)}", device=device, zone=zone, sensor="s1", channel="c1",
                 kind=kind, ts=T0 + ts, value=None if reason is Reason.SENSOR_FAULT else 1.0,
                 score=0.5, grade=grade, reason=reason, seq=0)


def summary(incidents: Sequence[Incident]) -> list[tuple[str, str, str, int, float, float]]:
    """What must not depend on arrival order: which alerts went together, and their grade."""
    return sorted((i.zone, i.hazard, i.grade.label, i.alert_count, i.first_ts - T0,
                   i.last_ts - T0) for i in incidents)


def fuse(alerts: Sequence[Alert], now: float = T0 + 10_000) -> Fusion:
    fusion = Fusion(CONFIG)
    for alert in alerts:
        fusion.alert(alert, now)
    return fusion


W, G, S = "water.pressure", "gas.methane", "structure.tilt"
OR, Y, R = Grade.ORANGE, Grade.YELLOW, Grade.RED


@pytest.mark.parametrize(("alerts", "expected"), [
    pytest.param([("north", W, OR, 0), ("north", W, OR, 60)],
                 [("north", "water", "orange", 2)], id="same zone and family, close: one"),
    pytest.param([("north", W, OR, 0), ("south", W, OR, 60)],
                 [("north", "water", "orange", 1), ("south", "water", "orange", 1)],
                 id="different zone: two"),
    pytest.param([("north", W, OR, 0), ("north", G, OR, 60)],
                 [("north", "gas", "orange", 1), ("north", "water", "orange", 1)],
                 id="different family: two"),
    pytest.param([("north", W, OR, 0), ("north", W, OR, 301)],
                 [("north", "water", "orange", 1), ("north", "water", "orange", 1)],
                 id="further apart than the window: two"),
    pytest.param([("north", W, Y, 0), ("north", W, R, 10), ("north", W, OR, 20)],
                 [("north", "water", "red", 3)], id="grade is the highest"),
    pytest.param([("north", S, Y, 0), ("north", S, Y, 200), ("north", S, Y, 400)],
                 [("north", "structure", "yellow", 3)], id="window extends with each alert"),
])
def test_fusion_groups_by_zone_hazard_and_event_time(
        alerts: list[tuple[str, str, Grade, float]], expected: list[tuple[str, str, str, int]]
) -> None:
    fusion = fuse([make_alert(ts, zone=zone, kind=kind, grade=grade)
                   for zone, kind, grade, ts in alerts])
    assert sorted((i.zone, i.hazard, i.grade.label, i.alert_count)
                  for i in fusion.incidents) == expected


def test_sensor_fault_is_maintenance_not_a_hazard() -> None:
    fusion = fuse([make_alert(0, reason=Reason.SENSOR_FAULT, grade=Y), make_alert(5)])
    assert sorted(i.hazard for i in fusion.incidents) == ["maintenance", "water"]


def test_changes_say_opened_joined_and_grade_changed() -> None:
    fusion = Fusion(CONFIG)
    first = fusion.alert(make_alert(0, grade=Y), T0)
    second = fusion.alert(make_alert(10, grade=R), T0 + 10)
    assert [type(c) for c in first] == [Opened]
    assert [type(c) for c in second] == [Joined, GradeChanged]
    assert isinstance(second[1], GradeChanged) and second[1].previous is Y
    assert second[1].incident.grade is R and second[1].incident.id == first[0].incident.id


def test_quiet_period_resolves_by_wall_time_since_the_newest_arrival() -> None:
    fusion = Fusion(CONFIG)
    fusion.alert(make_alert(0), now=T0)
    fusion.alert(make_alert(30), now=T0 + 50)
    assert fusion.tick(T0 + 50 + 119) == []
    [change] = fusion.tick(T0 + 50 + 120)
    assert isinstance(change, Resolved)
    assert change.incident.status is IncidentStatus.RESOLVED
    assert change.incident.resolved_at == T0 + 170
    assert fusion.tick(T0 + 500) == []


def test_late_alert_reopens_the_resolved_incident_it_belongs_to() -> None:
    fusion = Fusion(CONFIG)
    [opened] = fusion.alert(make_alert(0), now=T0)
    fusion.alert(make_alert(100), now=T0 + 100)
    fusion.tick(T0 + 1000)
    # an edge that was cut off delivers a reading from between the two
    changes = fusion.alert(make_alert(50), now=T0 + 1200)
    assert [type(c) for c in changes] == [Reopened, Joined]
    assert changes[-1].incident.id == opened.incident.id
    assert changes[-1].incident.status is IncidentStatus.OPEN
    assert changes[-1].incident.alert_count == 3


def test_alert_outside_every_window_opens_a_new_incident_even_when_late() -> None:
    fusion = Fusion(CONFIG)
    fusion.alert(make_alert(1000), now=T0 + 1000)
    [change] = fusion.alert(make_alert(0), now=T0 + 1100)
    assert isinstance(change, Opened)


def test_bridging_alert_merges_two_incidents_into_the_older() -> None:
    fusion = Fusion(CONFIG)
    [first] = fusion.alert(make_alert(0, grade=Y), now=T0)
    [second] = fusion.alert(make_alert(600, grade=R), now=T0 + 600)
    changes = fusion.alert(make_alert(300), now=T0 + 601)
    assert [type(c) for c in changes] == [Merged, Joined, GradeChanged]
    merged = changes[0]
    assert isinstance(merged, Merged) and merged.absorbed is not None
    assert merged.absorbed.id == second.incident.id
    assert merged.absorbed.status is IncidentStatus.MERGED
    assert merged.absorbed.merged_into == first.incident.id
    [only] = fusion.incidents
    assert (only.id, only.alert_count, only.grade) == (first.incident.id, 3, R)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["north", "south"]), st.sampled_from([W, G]),
                          st.sampled_from(list(Grade)), st.integers(0, 1500)),
                min_size=1, max_size=12).flatmap(
    lambda alerts: st.tuples(st.just(alerts), st.permutations(alerts))))
def test_result_does_not_depend_on_arrival_order(
        case: tuple[list[tuple[str, str, Grade, int]], list[tuple[str, str, Grade, int]]]
) -> None:
    in_time_order, shuffled = case

    def run(order: list[tuple[str, str, Grade, int]]) -> Fusion:
        return fuse([make_alert(float(ts), zone=z, kind=k, grade=g) for z, k, g, ts in order])

    expected = run(sorted(in_time_order, key=lambda a: a[3]))
    assert summary(run(shuffled).incidents) == summary(expected.incidents)


def test_no_incident_spans_more_than_max_span() -> None:
    fusion = fuse([make_alert(float(ts)) for ts in range(0, 10_000, 200)])
    assert len(fusion.incidents) > 1
    assert all(i.last_ts - i.first_ts <= CONFIG.max_span_s for i in fusion.incidents)
    assert sum(i.alert_count for i in fusion.incidents) == 50


def status(state: str, device: str = "edge-9") -> Status:
    return Status(device=device, zone="east", state=state, ts=T0)


def test_device_offline_opens_a_device_incident_and_online_resolves_it() -> None:
    fusion = Fusion(CONFIG)
    [opened] = fusion.status(status("offline"), now=T0)
    assert isinstance(opened, Opened) and opened.device == "edge-9"
    assert (opened.incident.hazard, opened.incident.zone, opened.incident.devices) == (
        "device", "east", ("edge-9",))
    assert fusion.status(status("offline"), now=T0 + 5) == []  # retained will, redelivered
    assert fusion.tick(T0 + 10_000) == []  # an absent device is never "quiet"
    [resolved] = fusion.status(status("online"), now=T0 + 10_001)
    assert isinstance(resolved, Resolved) and resolved.incident.id == opened.incident.id
    assert fusion.status(status("online"), now=T0 + 10_002) == []


def test_fusion_rebuilt_from_its_incidents_continues_them() -> None:
    before = Fusion(CONFIG)
    [opened] = before.alert(make_alert(0), now=T0)
    after = Fusion(CONFIG, incidents=before.incidents, next_id=1)
    [joined] = after.alert(make_alert(60), now=T0 + 60)
    assert isinstance(joined, Joined) and joined.incident.id == opened.incident.id
    [new] = after.alert(make_alert(60, zone="south"), now=T0 + 60)
    assert new.incident.id == opened.incident.id + 1


@pytest.mark.parametrize("fault_first", [True, False], ids=["fault-first", "fault-after-outage"])
def test_a_fault_just_before_an_outage_is_part_of_it_whichever_arrives_first(
        fault_first: bool) -> None:
    # Given a device whose sensor faults 30 s before it goes offline for half an hour
    fault = make_alert(-30, zone="east", kind=W, grade=Y, reason=Reason.SENSOR_FAULT,
                       device="edge-9")
    offline = Status(device="edge-9", zone="east", state="offline", ts=T0)
    online = Status(device="edge-9", zone="east", state="online", ts=T0 + 1800)
    fusion = Fusion(CONFIG)
    # When the fault reaches fusion before the outage, or only after it is over (two hubs:
    # the statuses on one, the alert on another)
    if fault_first:
        fusion.alert(fault, now=T0 + 1)
    fusion.status(offline, now=T0 + 2)
    fusion.status(online, now=T0 + 3)
    if not fault_first:
        fusion.alert(fault, now=T0 + 4)
    # Then either way the fault belongs to the device incident: no maintenance work is left
    assert [(i.hazard, i.status.value, i.alert_count) for i in fusion.incidents] == [
        ("device", "resolved", 1)]
