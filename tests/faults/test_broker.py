"""The broker goes away for 30 s (with and without persistence), and a long outage overflows the outbox.

Without persistence the restarted broker has forgotten the hub's session and
every queued message: only the edge's outbox (replay on reconnect, resend after
30 s without the hub's ack) can cover it.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from lifeline.grades import Grade
from tests.support.faults import Rig, stored_alerts, wait_for_log
from tests.support.processes import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

OUTAGE_S = 30.0


@pytest.mark.timeout_s(170)
@pytest.mark.parametrize("persistence", [True, False], ids=["persistent", "volatile"])
def test_broker_stopped_30s_and_restarted(tmp_path: Path, persistence: bool) -> None:
    with Rig(tmp_path, persistence=persistence) as rig:
        rig.start_hub()
        rig.start_edge()
        rig.stream.start()
        rig.wait_stored(30, timeout=20)
        # When the broker stops for 30 s while the sensor keeps alerting
        rig.broker.stop()
        time.sleep(OUTAGE_S)
        mark = rig.mark()
        rig.broker.start()
        # Then every alert accepted before and during the outage reaches the store
        recovery = rig.recovery_s(mark, timeout=100)
        time.sleep(2)
        rig.settle(timeout=60)
        name = "broker_restart_" + ("persistent" if persistence else "volatile")
        rig.check(name, f"broker stopped {OUTAGE_S:.0f} s, restarted "
                  f"({'with' if persistence else 'without'} persistence)", recovery)


@pytest.mark.timeout_s(120)
def test_outbox_overflow_during_a_long_outage(tmp_path: Path) -> None:
    with Rig(tmp_path, max_alerts=40) as rig:
        rig.start_hub()
        rig.start_edge()
        rig.stream.start()
        rig.wait_stored(10, timeout=20)
        # When the broker is gone long enough for ~4x the outbox bound of alerts
        rig.broker.stop()
        edge_log = rig.edge_logs[-1]
        wait_for_log(edge_log, "outbox full (40)", 30)
        time.sleep(12)
        back = time.monotonic()
        rig.broker.start()
        # Then once the link is back a sensor_fault alert reports the drops
        wait_for(lambda: [a for a in stored_alerts(rig.store)
                          if a.message.startswith("outbox overflow")], 60, "the drop report")
        recovery = time.monotonic() - back
        rig.settle(timeout=40, dropped=rig.edge_drops)
        dropped = rig.edge_drops()
        dropped_in_flight = len(rig.edge_dropped_ids()) - dropped
        reports = [a for a in stored_alerts(rig.store) if a.message.startswith("outbox overflow")]
        reported = sum(int(n) for a in reports for n in re.findall(r"dropped (\d+)", a.message))
        figures = rig.check("outbox_overflow", "broker down ~20 s with [outbox] max_alerts = 40",
                            recovery, reported_drops=reported,
                            dropped_but_delivered=dropped_in_flight)
    # And the drops were counted and reported, and every red alert was kept
    assert dropped > 40
    assert reported == dropped + dropped_in_flight
    red = set(re.findall(r"alert id=([0-9a-f]{32}) seq=\d+ \S+ \S+ \S+ grade=red",
                         "".join(p.read_text() for p in rig.edge_logs)))
    stored_red = {a.id for a in stored_alerts(rig.store) if a.grade == int(Grade.RED)}
    assert len(red) > 5 and red == stored_red
    assert figures["lost"] == 0 and figures["dropped"] == dropped
