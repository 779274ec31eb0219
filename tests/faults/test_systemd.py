"""The edge as hardware/systemd/lifeline-edge.service runs it: Type=notify, WatchdogSec, SIGTERM.

The test plays systemd: it binds the ``$NOTIFY_SOCKET`` datagram socket and passes
``$WATCHDOG_USEC``, as systemd does for ``Type=notify`` with ``WatchdogSec=``. The
watchdog here is 4 s rather than the unit's 30 s, so the agent's staleness limit for
a reader thread (half of it, at least 2 s) is shorter than the 8 s the port is gone.
"""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest

from tests.support.faults import Pty, Rig, wait_for_log
from tests.support.processes import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout_s(90)]

UNPLUGGED_S = 8.0


class NotifySocket:
    """systemd's end of sd_notify: every datagram the service sends, with its arrival time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.2)
        self.received: list[tuple[float, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._listen, daemon=True)
        self._thread.start()

    def _listen(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            self.received.append((time.monotonic(), data.decode()))

    def messages(self, since: float = 0.0, until: float = float("inf")) -> list[str]:
        return [m for t, m in list(self.received) if since <= t <= until]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()


def test_edge_ready_watchdog_through_an_unplugged_port_and_clean_stop(tmp_path: Path) -> None:
    notify = NotifySocket(tmp_path / "notify.sock")
    try:
        with Rig(tmp_path) as rig:
            rig.start_hub()
            # Given the edge started the way systemd starts a Type=notify unit with a watchdog
            rig.start_edge(env={"NOTIFY_SOCKET": str(notify.path), "WATCHDOG_USEC": "4000000"})
            log = rig.edge_logs[-1]
            # Then READY=1 comes once the broker connection is up, then watchdog pings
            ready = wait_for(lambda: [m for m in notify.messages() if m.startswith("READY=1")],
                             20, "READY=1")
            assert "STATUS=1 sensors, broker connected" in ready[0]
            wait_for(lambda: "WATCHDOG=1" in notify.messages(), 10, "a first watchdog ping")
            rig.stream.start()
            rig.wait_stored(10, timeout=20)
            # When the serial port vanishes for longer than the reader staleness limit
            opened = log.read_bytes().count(b"port open sensor=")
            unplugged = time.monotonic()
            rig.stream.unplug()
            time.sleep(UNPLUGGED_S)
            plugged = time.monotonic()
            rig.stream.plug(Pty())
            wait_for(lambda: log.read_bytes().count(b"port open sensor=") > opened, 20,
                     "the port reopened")
            # Then the agent kept feeding the watchdog: a reader waiting to reopen is not hung
            assert "WATCHDOG=1" in notify.messages(unplugged, plugged)
            assert b"not feeding the watchdog" not in log.read_bytes()
            # When everything accepted is stored and systemd stops the unit (SIGTERM)
            rig.settle(timeout=30)
            edge = rig.edge
            assert edge is not None
            rig.stop_edge()
            # Then it says STOPPING=1 and exits 0
            assert edge.returncode == 0
            wait_for_log(log, "edge agent stopping", 5)
            assert "STOPPING=1" in notify.messages()
    finally:
        notify.close()
