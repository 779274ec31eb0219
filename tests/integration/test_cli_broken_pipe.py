"""Both CLIs piped into a reader that has already left (``| head -1``) exit quietly.

The reader is a real pipe whose read end is closed before our console script
writes, so its first write fails with EPIPE, every time. Run with stdout
block-buffered (the CLI's output reaches the pipe in the flush at exit) and
unbuffered (it fails in the middle of printing).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.support.processes import script

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def into_closed_pipe(argv: list[str], unbuffered: bool) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    if unbuffered:
        env["PYTHONUNBUFFERED"] = "1"
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first line
    try:
        return subprocess.run(argv, stdout=write_end, stderr=subprocess.PIPE, env=env,
                              timeout=60, check=False)
    finally:
        os.close(write_end)


@pytest.mark.parametrize("unbuffered", [False, True], ids=["buffered", "unbuffered"])
def test_edge_check_config_into_a_closed_pipe(unbuffered: bool) -> None:
    # Given `lifeline-edge check-config configs/edge.toml` (it prints the effective config)
    # When its reader has left, Then it exits 0 without a traceback or any other word
    done = into_closed_pipe([script("lifeline-edge"), "check-config",
                             str(ROOT / "configs" / "edge.toml")], unbuffered)
    assert (done.returncode, done.stderr.decode()) == (0, "")


@pytest.mark.parametrize("unbuffered", [False, True], ids=["buffered", "unbuffered"])
def test_hub_incidents_into_a_closed_pipe(tmp_path: Path, unbuffered: bool) -> None:
    # Given `lifeline-hub incidents` on a hub that has not run yet (it prints "no incidents")
    config = tmp_path / "hub.toml"
    config.write_text(f'[mqtt]\nhost = "127.0.0.1"\nport = 1\n\n[store]\npath = "{tmp_path / "hub.db"}"\n')
    done = into_closed_pipe([script("lifeline-hub"), "incidents", "--config", str(config)],
                            unbuffered)
    # When its reader has left, Then it exits 0 without a traceback or any other word
    assert (done.returncode, done.stderr.decode()) == (0, "")
