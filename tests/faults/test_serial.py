"""The serial port vanishes and returns: a USB adapter unplugged, then plugged back in.

The agent opens the sensor through a symlink, as udev's ``/dev/lifeline/<name>``;
unplugging removes the link (as udev does) and closes the pseudo-terminal, plugging
back creates a new pseudo-terminal and links it.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.support.faults import Pty, Rig, stored_alerts
from tests.support.processes import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout_s(90)]

UNPLUGGED_S = 8.0


def test_serial_port_vanishes_and_returns(tmp_path: Path) -> None:
    with Rig(tmp_path) as rig:
        rig.start_hub()
        rig.start_edge()
        rig.stream.start()
        rig.wait_stored(30, timeout=20)
        # When the sensor's port disappears for 8 s and comes back under the same name
        rig.stream.unplug()
        time.sleep(UNPLUGGED_S)
        mark = rig.mark()
        rig.stream.plug(Pty())
        # Then the agent reopens it and readings flow again; the fault is raised and cleared
        recovery = rig.recovery_s(mark, timeout=30)

        def limit_alerts() -> int:
            return sum(a.reason == "limit" for a in stored_alerts(rig.store))
        before = limit_alerts()
        wait_for(lambda: limit_alerts() > before + 10, 20, "limit alerts from the new port")
        resumed = time.monotonic() - mark[0]
        rig.settle(timeout=30)
        faults = [a.message for a in stored_alerts(rig.store) if a.reason == "sensor_fault"]
        figures = rig.check("serial_vanish", f"serial port gone {UNPLUGGED_S:.0f} s, then back "
                            "under the same symlink", recovery, readings_resumed_s=round(resumed, 1))
    assert any(m.startswith("port") for m in faults), faults
    body = [a.body for a in stored_alerts(rig.store) if a.reason == "sensor_fault"]
    assert any('"cleared":true' in b for b in body), "the port fault was never cleared"
    assert figures["lost"] == 0
