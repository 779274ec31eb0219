"""Faults of whole processes: none, the hub killed, the edge killed (power-loss analogue).

Each test drives the numbered alert stream (tests/support/faults.py) through
``lifeline-edge run`` -> Mosquitto -> ``lifeline-hub run`` and checks that every
alert the edge accepted is stored once and the incidents equal the fault-free
reference.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.support.faults import Rig

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout_s(90)]


def test_fault_free_baseline(tmp_path: Path) -> None:
    with Rig(tmp_path) as rig:
        # Given hub and edge up, When numbered readings flow until 50 alerts are stored
        rig.start_hub()
        rig.start_edge()
        rig.stream.start()
        rig.wait_stored(50, timeout=30)
        # Then everything accepted is stored once, in the reference incidents
        rig.settle(timeout=30)
        figures = rig.check("baseline", "none", recovery_s=None)
    assert figures["accepted"] >= 50


def test_hub_kill_9_mid_stream_and_restart(tmp_path: Path) -> None:
    with Rig(tmp_path) as rig:
        rig.start_hub()
        rig.start_edge()
        rig.stream.start()
        rig.wait_stored(30, timeout=20)
        # When the hub dies without warning mid-stream and comes back 5 s later
        rig.kill_hub()
        time.sleep(5)  # the fault itself: 5 s without a hub (not a wait for anything)
        mark = rig.mark()
        rig.start_hub()
        recovery = rig.recovery_s(mark, timeout=45)
        # and the stream goes on through the restarted hub: a few alerts stored after recovery
        rig.wait_stored(len(rig.stored_ids()) + 5, timeout=30)
        # Then the broker's persistent session and the edge's outbox cover the gap
        rig.settle(timeout=45)
        rig.check("hub_kill_9", "hub kill -9, restarted after 5 s", recovery)


def test_edge_kill_9_mid_stream_and_restart(tmp_path: Path) -> None:
    with Rig(tmp_path) as rig:
        rig.start_hub()
        rig.start_edge()
        rig.stream.start()
        rig.wait_stored(30, timeout=20)
        # When the edge dies mid-stream (power loss) and its service restarts 3 s later
        rig.kill_edge()
        time.sleep(3)  # the fault itself: 3 s without an edge (not a wait for anything)
        mark = rig.mark()
        rig.start_edge()
        # Then the outbox replays what the hub had not acked, nothing twice
        recovery = rig.recovery_s(mark, timeout=45)
        # and the restarted edge goes on reading: a few new alerts stored after recovery
        rig.wait_stored(len(rig.stored_ids()) + 5, timeout=30)
        rig.settle(timeout=45)
        rig.check("edge_kill_9", "edge kill -9, restarted after 3 s", recovery,
                  in_outbox_at_kill=len(rig.killed_outbox))
