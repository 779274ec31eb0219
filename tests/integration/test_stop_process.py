"""stop_process: the one way tests, the demo and the benchmarks stop a child (and its children)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from lifeline.localbroker import stop_process

pytestmark = pytest.mark.integration

# A child that prints its own child's pid, then waits; with IGNORE_TERM it ignores SIGTERM.
CHILD = """
import os, signal, subprocess, sys, time
if sys.argv[1] == "1":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
print(grandchild.pid, flush=True)
time.sleep(60)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie is dead for our purpose
        return stat.read().split(")")[-1].split()[0] != "Z"


def _spawn(ignore_term: bool) -> tuple[subprocess.Popen[bytes], int]:
    proc = subprocess.Popen([sys.executable, "-c", CHILD, "1" if ignore_term else "0"],
                            stdout=subprocess.PIPE, start_new_session=True)
    assert proc.stdout is not None
    grandchild = int(proc.stdout.readline())
    proc.stdout.close()
    return proc, grandchild


def _wait_gone(pid: int) -> bool:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.02)
    return False


def test_sigterm_stops_the_child_and_its_group() -> None:
    # Given a child that leads its own session and has started a grandchild
    proc, grandchild = _spawn(ignore_term=False)
    # When it is stopped
    status = stop_process(proc, timeout=5)
    # Then SIGTERM ended it, and the grandchild went with the group
    assert status == -signal.SIGTERM
    assert _wait_gone(grandchild)


def test_a_child_that_ignores_sigterm_is_killed_after_the_timeout() -> None:
    # Given a child that ignores SIGTERM
    proc, grandchild = _spawn(ignore_term=True)
    # When it is stopped with a short timeout
    status = stop_process(proc, timeout=0.5)
    # Then it was killed, and its grandchild too
    assert status == -signal.SIGKILL
    assert _wait_gone(grandchild)


def test_an_exited_child_returns_its_status() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"], start_new_session=True)
    proc.wait()
    assert stop_process(proc) == 3
