"""`make demo` end to end: every scripted event becomes an incident, and nothing is left running."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_demo_turns_every_scripted_event_into_an_incident(tmp_path: Path) -> None:
    # Given the demo with its scripted burst (20 s), gas leak (35 s) and failing sensor (50 s)
    done = subprocess.run([sys.executable, str(REPO / "scripts" / "demo.py"), "--duration", "62",
                           "--run-dir", str(tmp_path)], capture_output=True, text=True, timeout=150)
    # Then it exits 0, which it does only when every event became an incident of the right kind
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    summary = done.stdout[done.stdout.index("=== Lifeline demo summary ==="):]
    for label, hazard in (("water-main burst", "water"), ("gas leak", "gas"),
                          ("crack meter going bad", "maintenance")):
        line = next(row for row in summary.splitlines() if row.startswith(label))
        assert hazard in line and "NOT DETECTED" not in line
    # And the board was started and its address printed
    assert "Board: http://127.0.0.1:" in done.stdout
    assert "board: serving" in (tmp_path / "board.log").read_text()
    # And the live tail showed the incidents opening
    assert done.stdout.count(" opened ") >= 3
    # And no process of this run is left behind
    leftovers = subprocess.run(["pgrep", "-f", str(tmp_path)], capture_output=True, text=True)
    assert leftovers.stdout.strip() == ""
