"""A storm in one incident (issue 13 item 4): the work per alert must not grow with it.

One device alerting from thousands of sensors in one zone at once (an earthquake) made
each alert walk every channel of its incident -- grading summarised each, the zone index
was rebuilt -- so 1k/2k/4k alerts took 0.27/2.0/12.3 s. Work is counted here (function
calls made while fusing), not timed.
"""

from __future__ import annotations

import sys
import tracemalloc

import pytest

from hub.config import FusionConfig, RuleConfig
from hub.core.fusion import Fusion
from lifeline.grades import Grade
from lifeline.wire import Alert, Reason

T0 = 1_800_000_000.0
CONFIG = FusionConfig(window_s=300.0, rules={
    "water": RuleConfig(reach="neighbours", corroborate_devices=2, absorb_downstream=True,
                        escalate_rate=(("water.pressure", -20.0),)),
    "gas": RuleConfig(reach="zone", radius_m=120.0, escalate_rate=(("gas.methane", 5.0),)),
    "structure": RuleConfig(reach="parent", escalate_after_s=1800.0, growth_devices=3)})


def calls_per_alert(size: int, kind: str) -> float:
    """Function calls (Python and C) per alert joining an incident of ``size`` channels:
    one device, a sensor each, one zone, all within a second (an earthquake)."""
    fusion = Fusion(CONFIG)
    for n in range(size):
        fusion.alert(Alert(id=f"e{size}-{n}", device="d1", zone="mh-1", sensor=f"s{n}",
                           channel="c", kind=kind, ts=T0 + n * 0.0001, value=1.0, score=0.5,
                           grade=Grade.YELLOW, reason=Reason.LIMIT, seq=n), now=T0 + 1)
    calls = 0

    def count(frame: object, event: str, arg: object) -> None:
        nonlocal calls
        if event in ("call", "c_call"):
            calls += 1

    sys.setprofile(count)
    try:
        for n in range(50):
            fusion.alert(Alert(id=f"f{size}-{n}", device="d1", zone="mh-1", sensor=f"t{n}",
                               channel="c", kind=kind, ts=T0 + 0.5 + n * 0.0001, value=1.0,
                               score=0.5, grade=Grade.ORANGE, reason=Reason.LIMIT, seq=n),
                         now=T0 + 2)
    finally:
        sys.setprofile(None)
    [incident] = fusion.incidents
    assert incident.alert_count == size + 50
    return calls / 50


@pytest.mark.parametrize("kind", ["structure.tilt", "gas.methane", "water.pressure"])
def test_an_alert_costs_the_same_in_an_incident_of_any_size(kind: str) -> None:
    """Issue 13 item 4: the work per alert (function calls, counted) is the same in an
    incident of 200 channels and of 2,000. Before the running summaries each alert
    summarised every channel of its incident and rebuilt its zone index: ~10x the calls."""
    small, large = calls_per_alert(200, kind), calls_per_alert(2000, kind)
    assert large <= small * 1.1 + 5, (small, large)


def largest_allocation_per_alert(size: int) -> int:
    """Bytes of the largest transient allocation while alerts of new devices join an
    incident of ``size`` devices, one channel each (tracemalloc's peak over the current)."""
    fusion = Fusion(CONFIG)
    for n in range(size):
        fusion.alert(Alert(id=f"g{size}-{n}", device=f"dev-{n:05d}", zone="mh-1", sensor="s",
                           channel="c", kind="structure.tilt", ts=T0 + n * 0.0001, value=1.0,
                           score=0.5, grade=Grade.YELLOW, reason=Reason.LIMIT, seq=n), now=T0 + 1)
    tracemalloc.start()
    try:
        largest = 0
        for n in range(20):  # names that sort first: each changes the named devices
            before = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            fusion.alert(Alert(id=f"h{size}-{n}", device=f"a-{n:03d}", zone="mh-1", sensor="s",
                               channel="c", kind="structure.tilt", ts=T0 + 0.5, value=1.0,
                               score=0.5, grade=Grade.ORANGE, reason=Reason.LIMIT, seq=n),
                         now=T0 + 2)
            largest = max(largest, tracemalloc.get_traced_memory()[1] - before)
    finally:
        tracemalloc.stop()
    [incident] = fusion.incidents
    assert incident.n_devices == size + 20
    assert len(incident.devices) <= size + 20
    return largest


def test_a_new_device_costs_the_same_in_an_incident_of_any_size() -> None:
    """An earthquake: every alert from another device. The incident's device tuple was
    rebuilt whole for each (a copy of every device: 80 KB at 10,000); it names the first
    MAX_DEVICES by name now, and counts them all."""
    small, large = largest_allocation_per_alert(1500), largest_allocation_per_alert(6000)
    assert large <= small * 1.2 + 1024, (small, large)
