"""Fusion rules of issue 5: topology, corroboration, causes, flapping, latching, rule state."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.config import FusionConfig, RuleConfig
from hub.core.fusion import (
    Confirmed,
    Flapping,
    Fusion,
    GradeChanged,
    Incident,
    IncidentStatus,
    Joined,
    Merged,
    Opened,
)
from hub.core.topology import Topology, Zone
from lifeline.grades import Grade
from lifeline.wire import Alert, Reason, Status

T0 = 1_800_000_000.0
_ids = itertools.count(1)
Y, OR, R, B = Grade.YELLOW, Grade.ORANGE, Grade.RED, Grade.BLUE

TOPOLOGY = Topology.build(
    [Zone("main-1", parent="north", neighbours=("main-2",), downstream=("dma-9",)),
     Zone("main-2", parent="north", neighbours=("main-3",)),
     Zone("main-3", parent="north"),
     Zone("mh-1", parent="east", neighbours=("mh-2",)), Zone("mh-2", parent="east"),
     Zone("mh-5", parent="east"), Zone("dma-9", parent="north")],
    {"gas-a": (0.0, 0.0), "gas-b": (80.0, 60.0), "gas-c": (900.0, 0.0)})
RULES = {
    "water": RuleConfig(reach="neighbours", corroborate_devices=2,
                        signature=("water.pressure", "water.flow"), absorb_downstream=True,
                        sensor_window_s=0.0, flap_episodes=3),
    "gas": RuleConfig(reach="zone", radius_m=120.0, corroborate_devices=2),
    "structure": RuleConfig(reach="zone", sensor_window_s=7200.0, escalate_after_s=3600.0,
                            corroborate_devices=0, latch_red=False, flap_episodes=3),
}
CONFIG = FusionConfig(window_s=300.0, quiet_s=120.0, max_span_s=6 * 3600.0, flap_quiet_s=900.0,
                      rules=RULES, topology=TOPOLOGY)


def alert(ts: float, zone: str, device: str, kind: str = "water.pressure", grade: Grade = Y,
          reason: Reason = Reason.LIMIT, sensor: str = "s1", cleared: bool = False) -> Alert:
    return Alert(id=f"r{next(_ids)}", device=device, zone=zone, sensor=sensor, channel="c",
                 kind=kind, ts=T0 + ts, value=None if reason is Reason.SENSOR_FAULT else 1.0,
                 score=0.5, grade=grade, reason=reason, seq=0, cleared=cleared)


def feed(alerts: Sequence[Alert], config: FusionConfig = CONFIG) -> tuple[Fusion, list[object]]:
    fusion, changes = Fusion(config), list[object]()
    for a in alerts:
        changes.extend(fusion.alert(a, now=a.ts))
    return fusion, changes


def hazards(fusion: Fusion) -> list[tuple[str, int]]:
    return sorted((i.hazard, i.alert_count) for i in fusion.incidents)


@pytest.mark.parametrize(("alerts", "expected"), [
    pytest.param([("main-1", "w1"), ("main-2", "w2")], 1, id="neighbouring segments: one"),
    pytest.param([("main-1", "w1"), ("main-3", "w3")], 2, id="two hops apart: two"),
    pytest.param([("main-1", "w1"), ("main-3", "w3"), ("main-2", "w2")], 1,
                 id="the middle segment bridges them: one"),
    pytest.param([("main-1", "w1"), ("elsewhere", "w4")], 2, id="unknown zone: on its own"),
])
def test_water_reaches_neighbouring_segments(alerts: list[tuple[str, str]], expected: int) -> None:
    fusion, _ = feed([alert(10.0 * n, zone, device) for n, (zone, device) in enumerate(alerts)])
    assert len(fusion.incidents) == expected


def test_gas_reaches_devices_within_radius_not_beyond() -> None:
    # Given manholes mh-1 (gas-a) and mh-5 (gas-b, 100 m away) and gas-c 900 m away
    fusion, _ = feed([alert(0, "mh-1", "gas-a", "gas.methane"),
                      alert(60, "mh-5", "gas-b", "gas.methane"),
                      alert(90, "mh-2", "gas-c", "gas.methane")])
    assert sorted(i.devices for i in fusion.incidents) == [("gas-a", "gas-b"), ("gas-c",)]


def test_corroboration_and_signature_grade_up_with_reasons() -> None:
    fusion, changes = feed([alert(0, "main-1", "w1", grade=Y),
                            alert(5, "main-2", "w2", grade=Y),
                            alert(8, "main-1", "w1", kind="water.flow", grade=Y, sensor="f")])
    [incident] = fusion.incidents
    regrades = [c for c in changes if isinstance(c, GradeChanged)]
    assert [(c.previous, c.incident.grade) for c in regrades] == [(Y, OR), (OR, R)]
    assert "corroborated by 2 independent devices" in regrades[0].why
    assert "signature water.pressure + water.flow" in regrades[1].why
    assert incident.confirmed and incident.latched
    assert sum(isinstance(c, Confirmed) for c in changes) == 1


def test_single_device_is_not_confirmed_until_it_lasts() -> None:
    fusion, _ = feed([alert(0, "mh-1", "gas-a", "gas.methane")])
    assert not fusion.incidents[0].confirmed
    fusion, _ = feed([alert(t, "mh-1", "gas-a", "gas.methane") for t in range(0, 1200, 200)])
    assert fusion.incidents[0].confirmed


@pytest.mark.parametrize("effect_first", [False, True], ids=["cause first", "effect first"])
def test_confirmed_burst_absorbs_downstream_low_pressure(effect_first: bool) -> None:
    burst = [alert(0, "main-1", "w1", grade=OR), alert(3, "main-2", "w2", grade=OR)]
    effect = [alert(20, "dma-9", "w9", grade=Y)]
    fusion, changes = feed(effect + burst if effect_first else burst + effect)
    # Then one incident, the burst, holds the downstream alert as a suppressed effect
    [incident] = fusion.incidents
    assert (incident.zones, incident.alert_count, incident.suppressed) == (
        ("main-1", "main-2"), 3, 1)
    whys = [getattr(c, "why", "") for c in changes if isinstance(c, Joined | Merged)]
    assert any("downstream low pressure" in w for w in whys)


def test_unconfirmed_burst_does_not_absorb_downstream() -> None:
    fusion, _ = feed([alert(0, "main-1", "w1"), alert(20, "dma-9", "w9")])
    assert len(fusion.incidents) == 2


def test_offline_device_absorbs_its_sensor_faults_whichever_comes_first() -> None:
    fault = alert(0, "east", "edge-9", reason=Reason.SENSOR_FAULT)
    fusion = Fusion(CONFIG)
    fusion.alert(fault, now=T0)
    changes = fusion.status(Status(device="edge-9", zone="east", state="offline", ts=T0), T0 + 5)
    assert [type(c) for c in changes] == [Opened, Merged]
    later = fusion.alert(alert(10, "east", "edge-9", reason=Reason.SENSOR_FAULT), now=T0 + 10)
    assert [type(c) for c in later] == [Joined] and isinstance(later[0], Joined)
    assert "offline" in later[0].why
    [device] = fusion.incidents
    assert (device.hazard, device.alert_count, device.suppressed) == ("device", 2, 2)


def test_sensor_faults_from_an_outage_arriving_after_the_device_is_back_join_its_incident() -> None:
    # Given a device that went offline at +30 s and came back at +1800 s
    fusion = Fusion(CONFIG)
    fusion.status(Status(device="edge-9", zone="east", state="offline", ts=T0 + 30), T0 + 31)
    [resolved] = fusion.status(Status(device="edge-9", zone="east", state="online",
                                      ts=T0 + 1800), T0 + 1801)
    # When the sensor faults it logged while offline arrive from its backlog
    late = fusion.alert(alert(35, "east", "edge-9", reason=Reason.SENSOR_FAULT), now=T0 + 1802)
    # Then they belong to the outage (no new maintenance incident, nothing reopened)
    assert [type(c) for c in late] == [Joined] and isinstance(late[0], Joined)
    assert late[0].incident.id == resolved.incident.id and "offline" in late[0].why
    assert [(i.hazard, i.status.value, i.alert_count) for i in fusion.incidents] == [
        ("device", "resolved", 1)]
    # But a sensor fault long after the outage is maintenance work of its own
    after = fusion.alert(alert(1800 + 3600, "east", "edge-9", reason=Reason.SENSOR_FAULT),
                         now=T0 + 5402)
    assert isinstance(after[0], Opened) and after[0].incident.hazard == "maintenance"


def test_a_sensor_fault_minutes_after_a_reconnect_is_maintenance_not_the_old_outage() -> None:
    # Given an agent restarted (offline at +30 s, online again at +40 s)
    fusion = Fusion(CONFIG)
    fusion.status(Status(device="edge-9", zone="east", state="offline", ts=T0 + 30), T0 + 31)
    fusion.status(Status(device="edge-9", zone="east", state="online", ts=T0 + 40), T0 + 41)
    # When its sensor is unplugged two minutes later, while the device is online
    changes = fusion.alert(alert(160, "east", "edge-9", reason=Reason.SENSOR_FAULT), now=T0 + 161)
    # Then a maintenance incident opens; the resolved outage does not swallow the fault
    assert isinstance(changes[0], Opened) and changes[0].incident.hazard == "maintenance"
    assert sorted((i.hazard, i.status.value) for i in fusion.incidents) == [
        ("device", "resolved"), ("maintenance", "open")]


def test_an_outage_still_absorbs_its_backlog_after_a_hub_restart() -> None:
    # Given a device's outage, over before the hub restarts (rebuilt from its incidents)
    before = Fusion(CONFIG)
    before.status(Status(device="edge-9", zone="east", state="offline", ts=T0 + 30), T0 + 31)
    before.status(Status(device="edge-9", zone="east", state="online", ts=T0 + 1800), T0 + 1801)
    after = Fusion(CONFIG, incidents=before.incidents)
    # When its backlog of sensor faults arrives
    [joined] = after.alert(alert(40, "east", "edge-9", reason=Reason.SENSOR_FAULT), now=T0 + 1900)
    # Then it joins the outage
    assert isinstance(joined, Joined) and joined.incident.hazard == "device"


def test_a_sensor_fault_is_confirmed_maintenance_with_a_reason() -> None:
    fusion = Fusion(CONFIG)
    changes = fusion.alert(alert(0, "east", "edge-9", reason=Reason.SENSOR_FAULT), now=T0)
    assert [type(c) for c in changes] == [Opened, Confirmed]
    assert isinstance(changes[1], Confirmed) and "maintenance" in changes[1].why


def test_maintenance_never_becomes_a_hazard_even_corroborated() -> None:
    fusion, _ = feed([alert(0, "main-1", f"w{n}", reason=Reason.SENSOR_FAULT) for n in range(4)])
    assert {i.hazard for i in fusion.incidents} == {"maintenance"}


def test_a_sparse_repeated_alarm_is_one_incident_not_flapping() -> None:
    fusion, _ = feed([alert(t, "bridge", "st-3", "structure.tilt") for t in range(0, 7200, 900)])
    [incident] = fusion.incidents
    assert not incident.flapping and incident.alert_count == 8


def test_duration_escalates_structure_and_cleared_readings_de_escalate() -> None:
    rows = [alert(t, "bridge", "st-1", "structure.tilt", grade=Y) for t in range(0, 3800, 250)]
    fusion, changes = feed(rows)
    [incident] = fusion.incidents
    assert incident.grade is OR and any("lasting" in r for r in incident.reasons)
    fusion.alert(alert(3800, "bridge", "st-1", "structure.tilt", grade=Y, cleared=True), T0 + 3800)
    [incident] = fusion.incidents
    assert incident.grade is Y  # base blue (back to normal) + 1 for lasting
    assert "every sensor back to normal" in incident.reasons


def test_flapping_sensor_keeps_one_incident_marked_flapping() -> None:
    # Given a tilt sensor that alarms and clears every 20 minutes (gaps > window_s)
    rows = [alert(t, "bridge", "st-2", "structure.tilt", cleared=t % 1200 == 60)
            for start in range(0, 6000, 1200) for t in (start, start + 60)]
    fusion, changes = feed(rows)
    [incident] = fusion.incidents
    assert incident.flapping and incident.alert_count == 10
    assert sum(isinstance(c, Flapping) for c in changes) == 1
    # And it does not resolve after quiet_s, only after flap_quiet_s
    assert fusion.tick(incident.last_arrival + CONFIG.quiet_s + 1) == []
    assert len(fusion.tick(incident.last_arrival + CONFIG.flap_quiet_s + 1)) == 1


def test_wall_time_resolve_reopen_churn_marks_flapping() -> None:
    fusion = Fusion(CONFIG)
    now = T0
    for n in range(4):
        fusion.alert(alert(10.0 * n, "main-3", "w3"), now=now)
        fusion.tick(now + CONFIG.quiet_s + 1)
        now += CONFIG.quiet_s + 2
    [incident] = fusion.incidents
    assert incident.flapping


def test_latched_red_stays_open_without_alerts() -> None:
    fusion, _ = feed([alert(0, "main-1", "w1", grade=R)])
    [incident] = fusion.incidents
    assert incident.latched
    assert fusion.tick(T0 + 10 * CONFIG.quiet_s) == []
    assert fusion.incidents[0].status is IncidentStatus.OPEN


def test_rule_state_survives_a_rebuild_from_incidents() -> None:
    before, _ = feed([alert(t, "bridge", "st-2", "structure.tilt", cleared=t % 1200 == 60)
                      for start in range(0, 2400, 1200) for t in (start, start + 60)])
    after = Fusion(CONFIG, incidents=before.incidents)
    changes = after.alert(alert(2400, "bridge", "st-2", "structure.tilt"), now=T0 + 2400)
    assert any(isinstance(c, Flapping) for c in changes)
    assert len(after.incidents) == 1


def summary(incidents: Sequence[Incident]) -> list[tuple[object, ...]]:
    return sorted((i.hazard, i.grade.label, i.alert_count, i.first_ts, i.last_ts,
                   tuple(sorted(i.all_zones)), i.confirmed) for i in incidents)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["main-1", "main-2", "main-3", "mh-1", "mh-5"]),
                          st.sampled_from(["w1", "w2", "gas-a", "gas-b"]),
                          st.sampled_from(["water.pressure", "gas.methane", "structure.tilt"]),
                          st.sampled_from(list(Grade)), st.integers(0, 9000)),
                min_size=1, max_size=12).flatmap(
    lambda rows: st.tuples(st.just(rows), st.permutations(rows))))
def test_rules_do_not_depend_on_arrival_order(
        case: tuple[list[tuple[str, str, str, Grade, int]], list[tuple[str, str, str, Grade, int]]]
) -> None:
    """Neighbour reach, radius, sensor windows, corroboration and grading by event time."""
    ordered, shuffled = case
    config = FusionConfig(window_s=300.0, quiet_s=120.0, max_span_s=86400.0,
                          rules={k: RuleConfig(reach=r.reach, radius_m=r.radius_m,
                                               sensor_window_s=r.sensor_window_s,
                                               corroborate_devices=r.corroborate_devices,
                                               escalate_after_s=r.escalate_after_s,
                                               latch_red=False, flap_episodes=0)
                                 for k, r in RULES.items()}, topology=TOPOLOGY)

    def run(rows: list[tuple[str, str, str, Grade, int]]) -> Fusion:
        return feed([Alert(id=f"p{n}", device=d, zone=z, sensor="s", channel="c", kind=k,
                           ts=T0 + ts, value=1.0, score=0.5, grade=g, reason=Reason.LIMIT, seq=0)
                     for n, (z, d, k, g, ts) in enumerate(rows)], config)[0]

    expected = run(sorted(ordered, key=lambda r: r[4]))
    assert summary(run(shuffled).incidents) == summary(expected.incidents)


class _ScanAll(Fusion):
    """Fusion without the zone index: every incident is a candidate for every alert."""

    def _nearby(self, alert: Alert, rule: RuleConfig) -> list[Incident]:
        return list(self._incidents.values())


@pytest.mark.parametrize("reach", ["zone", "neighbours", "parent"])
def test_near_zones_are_exactly_the_zones_near_by_reach(reach: str) -> None:
    zones = [*TOPOLOGY.zones, "undeclared", "north"]
    for a in zones:
        assert TOPOLOGY.near_zones(a, reach) == {b for b in zones if TOPOLOGY.near(b, a, reach)}


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["main-1", "main-2", "main-3", "dma-9", "mh-1", "mh-2",
                                           "mh-5", "elsewhere"]),
                          st.sampled_from(["w1", "w2", "gas-a", "gas-b", "gas-c"]),
                          st.sampled_from(["water.pressure", "water.flow", "gas.methane",
                                           "structure.tilt"]),
                          st.sampled_from(list(Grade)), st.integers(0, 20000), st.booleans()),
                min_size=1, max_size=25),
       st.sampled_from(["zone", "neighbours", "parent"]))
def test_the_zone_index_finds_what_a_scan_of_every_incident_finds(
        rows: list[tuple[str, str, str, Grade, int, bool]], water_reach: str) -> None:
    """The index only narrows the candidates: incidents, merges and grades are the same as
    when every incident in play is tried against every alert (with ticks and merges)."""
    rules = dict(RULES, water=RuleConfig(reach=water_reach, corroborate_devices=2,
                                         absorb_downstream=True, flap_episodes=3))
    config = FusionConfig(window_s=300.0, quiet_s=120.0, max_span_s=4 * 3600.0,
                          flap_quiet_s=900.0, rules=rules, topology=TOPOLOGY)
    alerts = [Alert(id=f"x{n}", device=d, zone=z, sensor="s", channel="c", kind=k, ts=T0 + ts,
                    value=1.0, score=0.5, grade=g, reason=Reason.LIMIT, seq=0, cleared=c)
              for n, (z, d, k, g, ts, c) in enumerate(rows)]
    indexed, scanned = Fusion(config), _ScanAll(config)
    for fusion in (indexed, scanned):
        for a in alerts:
            fusion.alert(a, now=a.ts)
            fusion.tick(a.ts)
    assert summary(indexed.incidents) == summary(scanned.incidents)
    assert ([(i.id, i.status, i.alert_count) for i in indexed.incidents]
            == [(i.id, i.status, i.alert_count) for i in scanned.incidents])


class _ScanAllDevices(_ScanAll):
    """... and every incident is looked at for a device's own incidents, too."""

    def _single(self, device: str) -> list[Incident]:
        return [i for i in self.incidents if i.devices == (device,)]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["alert", "fault", "offline", "online"]),
                          st.sampled_from(["w1", "w2", "w3"]),
                          st.sampled_from(["main-1", "main-2", "mh-1"]),
                          st.integers(0, 4000)),
                min_size=1, max_size=30))
def test_the_device_index_finds_what_a_scan_of_every_incident_finds(
        rows: list[tuple[str, str, str, int]]) -> None:
    """Outages, their absorbed sensor faults and maintenance incidents are the same as when
    every incident is scanned for a device's own."""
    fused: list[list[tuple[object, ...]]] = []
    for fusion in (Fusion(CONFIG), _ScanAllDevices(CONFIG)):
        for n, (what, device, zone, ts) in enumerate(sorted(rows, key=lambda r: r[3])):
            now = T0 + ts
            if what in ("offline", "online"):
                fusion.status(Status(device=device, zone=zone, state=what, ts=now), now)
            else:
                fusion.alert(Alert(id=f"d{n}", device=device, zone=zone, sensor="s", channel="c",
                                   kind="water.pressure", ts=now,
                                   value=None if what == "fault" else 1.0, score=0.5,
                                   grade=Y, reason=Reason.SENSOR_FAULT if what == "fault"
                                   else Reason.LIMIT, seq=0), now)
            fusion.tick(now)
        fused.append([(i.id, i.hazard, i.status, i.alert_count, i.suppressed, i.devices)
                      for i in fusion.incidents])
    assert fused[0] == fused[1]
