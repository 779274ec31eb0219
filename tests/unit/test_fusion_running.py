"""Fusion's running summaries (hub/core/running.py) against a full recomputation.

Issue 13 item 4: the summaries that make an alert's cost independent of its incident's
size (tests/unit/test_fusion_storm.py) must give what reading every channel gives:
hypothesis, against ``grading.tally`` and against a fusion that recomputes.
"""

from __future__ import annotations

import dataclasses
import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from hub.config import FusionConfig, RuleConfig
from hub.core import grading, running
from hub.core.fusion import Fusion, Incident, IncidentStatus
from hub.core.running import Running
from hub.core.topology import Topology, Zone
from lifeline.grades import Grade
from lifeline.wire import Alert, Reason, Status

T0 = 1_800_000_000.0
_ids = itertools.count(1)

TOPOLOGY = Topology.build(
    [Zone("main-1", parent="north", neighbours=("main-2",), downstream=("dma-9",)),
     Zone("main-2", parent="north"), Zone("dma-9", parent="north"),
     Zone("mh-1", parent="east"), Zone("mh-2", parent="east")],
    {"d1": (0.0, 0.0), "d2": (80.0, 60.0), "d3": (900.0, 0.0), "d4": (40.0, -30.0)})
RULES = {
    "water": RuleConfig(reach="neighbours", corroborate_devices=2, absorb_downstream=True,
                        signature=("water.pressure", "water.flow"), flap_episodes=3,
                        escalate_rate=(("water.pressure", -20.0),), latch_red=False),
    "gas": RuleConfig(reach="zone", radius_m=120.0, corroborate_devices=3,
                      escalate_rate=(("gas.methane", 5.0),), flap_episodes=2),
    "structure": RuleConfig(reach="parent", sensor_window_s=3600.0, escalate_after_s=1800.0,
                            corroborate_devices=0, growth_devices=3, latch_red=False),
}
CONFIG = FusionConfig(window_s=300.0, quiet_s=120.0, max_span_s=4 * 3600.0, flap_quiet_s=900.0,
                      rules=RULES, topology=TOPOLOGY)


class Recomputing(Fusion):
    """Fusion that grades from every channel (``grading.tally``), as before the summaries."""

    def _tally(self, incident: Incident, rule: RuleConfig) -> grading.Tally:
        return grading.tally(incident, rule)


def check_running(fusion: Fusion) -> None:
    """Every summary fusion keeps equals what reading all the incident's channels gives."""
    for incident in fusion.incidents:
        kept = fusion._running_of(incident)
        assert kept.owns(incident)
        rule = fusion.rule(incident.hazard)
        assert kept.tally(rule) == grading.tally(incident, rule)
        fresh = Running(incident)
        assert fresh.tally(rule) == kept.tally(rule)
        assert {z: sorted(k) for z, k in kept.by_zone.items()} == {
            z: sorted(k for k in incident.evidence if running.zone_of(k) == z)
            for z in {running.zone_of(k) for k in incident.evidence}}
        assert {d: sorted(k) for d, k in kept.by_device.items()} == {
            d: sorted(k for k in incident.evidence if running.device_of(k) == d)
            for d in {running.device_of(k) for k in incident.evidence}}
        assert (kept.devices, kept.zones, kept.kinds) == (
            set(incident.devices), set(incident.all_zones), set(incident.kinds))
        assert incident.n_devices == incident.device_count == len(incident.devices)
        assert list(incident.devices) == sorted(incident.devices)
        assert list(incident.kinds) == sorted(incident.kinds)


ROWS = st.lists(st.tuples(
    st.sampled_from(["main-1", "main-2", "dma-9", "mh-1", "mh-2"]),
    st.sampled_from(["d1", "d2", "d3", "d4"]),
    st.sampled_from(["s1", "s2"]),
    st.sampled_from(["water.pressure", "water.flow", "gas.methane", "structure.tilt"]),
    st.sampled_from(list(Grade)), st.integers(0, 3000), st.integers(-100, 100),
    st.sampled_from([False, False, True])), min_size=1, max_size=30)


def to_alerts(rows: list[tuple[str, str, str, str, Grade, int, int, bool]]) -> list[Alert]:
    return [Alert(id=f"u{n}", device=d, zone=z, sensor=s, channel="c", kind=k, ts=T0 + ts,
                  value=float(v), score=0.5, grade=g, reason=Reason.LIMIT, seq=0, cleared=c)
            for n, (z, d, s, k, g, ts, v, c) in enumerate(rows)]


@settings(max_examples=200, deadline=None)
@given(ROWS, st.booleans())
def test_running_summaries_equal_a_full_recomputation(
        rows: list[tuple[str, str, str, str, Grade, int, int, bool]], sort: bool) -> None:
    """Alerts in or out of order, merges, ticks and a rebuild half way: after each alert
    the summaries equal a recomputation, and fusion's changes equal those of a fusion
    that grades from every channel."""
    alerts = to_alerts(sorted(rows, key=lambda r: r[5]) if sort else rows)
    kept, full = Fusion(CONFIG), Recomputing(CONFIG)
    for n, alert in enumerate(alerts):
        now = T0 + 4000 + n
        a = [(type(c).__name__, c.incident.id, c.incident.grade, c.incident.reasons)
             for c in kept.alert(alert, now)]
        b = [(type(c).__name__, c.incident.id, c.incident.grade, c.incident.reasons)
             for c in full.alert(alert, now)]
        assert a == b
        check_running(kept)
        kept.tick(now)
        full.tick(now)
        if n == len(alerts) // 2:  # as after a restart: the same incidents, handed in
            kept = Fusion(CONFIG, incidents=kept.incidents, next_id=kept.next_id)
    assert ([(i.id, i.grade, i.reasons, i.flapping, i.confirmed) for i in kept.incidents]
            == [(i.id, i.grade, i.reasons, i.flapping, i.confirmed) for i in full.incidents])


def test_the_most_episodes_are_looked_for_again_when_old_rows_fall_off() -> None:
    """Episodes are counted per channel; when old rows fall off (MAX_EVIDENCE) the most
    episodes of the incident can fall too."""
    incident = Incident(id=1, zone="z", hazard="water", grade=Grade.YELLOW,
                        status=IncidentStatus.OPEN, opened_at=T0, updated_at=T0, first_ts=T0,
                        last_ts=T0, last_arrival=T0)
    kept = Running(incident)
    kept.add_row("d2/s1/c@z", T0, 2, cleared=False)
    for n in range(grading.MAX_EVIDENCE + 10):  # alarm, clear, alarm, ... then only alarms
        kept.add_row("d1/s1/c@z", T0 + n, 2, cleared=n < 8 and n % 2 == 1)
        assert kept.tally(RULES["water"]) == grading.tally(
            dataclasses.replace(incident, evidence=kept.evidence), RULES["water"])
    assert kept.tally(RULES["water"]).episodes == 1


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["alert", "fault", "offline", "online", "tick"]),
                          st.sampled_from(["d1", "d2"]), st.sampled_from(["mh-1", "main-1"]),
                          st.integers(0, 3000)), min_size=1, max_size=40))
def test_statuses_and_flapping_devices_keep_the_summaries_right(
        rows: list[tuple[str, str, str, int]]) -> None:
    """Outages, flapping connections and sensor faults between alerts: the summaries equal a
    recomputation at every step, and a fusion rebuilt from its incidents half way (a
    restart) goes on exactly as one that never stopped."""
    kept, full = Fusion(CONFIG), Recomputing(CONFIG)
    now = T0
    for n, (what, device, zone, gap) in enumerate(rows):
        now += gap / 10
        for fusion in (kept, full):
            if what == "tick":
                fusion.tick(now)
            elif what in ("offline", "online"):
                fusion.status(Status(device=device, zone=zone, state=what, ts=now), now)
            else:
                fusion.alert(Alert(id=f"v{n}", device=device, zone=zone, sensor="s", channel="c",
                                   kind="water.pressure", ts=now,
                                   value=None if what == "fault" else 1.0, score=0.5,
                                   grade=Grade.YELLOW, reason=Reason.SENSOR_FAULT
                                   if what == "fault" else Reason.LIMIT, seq=n), now)
        check_running(kept)
        if n == len(rows) // 2:
            kept = Fusion(CONFIG, incidents=kept.incidents, next_id=kept.next_id)
    assert ([(i.id, i.hazard, i.status, i.flapping, i.flaps, i.alert_count, i.devices,
              i.device_count) for i in kept.incidents]
            == [(i.id, i.hazard, i.status, i.flapping, i.flaps, i.alert_count, i.devices,
                 i.device_count) for i in full.incidents])
