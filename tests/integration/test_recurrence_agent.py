"""Issue 12 and 13 through the real agent: a burst after a restart alarms again; a non-finite
calibrated value is a bad read, never a crash.

One sensor on a pseudo-terminal, ``lifeline-edge run`` as a real subprocess with no broker (it
keeps its alerts in the outbox and logs each one), its state directory on disk.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

from tests.integration.test_checkpoint_restart import WARMUP, Feed
from tests.support.faults import wait_for_log
from tests.support.processes import running, wait_for
from tests.support.pty import PtySensor

pytestmark = pytest.mark.integration

SENSOR = "main-pressure"


def edge_toml(state_dir: Path, port: str, columns: str = '["p"]', extra: str = "") -> str:
    return f"""
[device]
id = "edge-recurrence"
zone = "z"
state_dir = "{state_dir}"

[mqtt]
host = "127.0.0.1"
port = 1

[[sensors]]
id = "{SENSOR}"
kind = "water.pressure"
driver = "lines"
port = "{port}"
columns = {columns}
unit = "kPa"
{extra}
"""


def stop(agent: subprocess.Popen[bytes]) -> None:
    os.kill(agent.pid, signal.SIGTERM)
    assert agent.wait(timeout=15) == 0


def test_a_burst_alarms_again_after_a_restart_with_the_checkpoint_restored(tmp_path: Path) -> None:
    state, config, log = tmp_path / "state", tmp_path / "edge.toml", tmp_path / "edge.log"
    anomaly = f"sensor={SENSOR} channel=p reason=anomaly"
    with PtySensor() as sensor:
        config.write_text(edge_toml(state, sensor.path))
        feed = Feed(sensor)
        with running("lifeline-edge", ["run", "--config", str(config)], log) as agent:
            # Given an agent warm on normal readings that sees a burst (pressure collapses)
            at = wait_for_log(log, f"port open sensor={SENSOR} ", 15)
            feed.wait_written(3 * WARMUP)
            feed.spike = 150.0
            at = wait_for_log(log, anomaly, 20, at)
            feed.wait_written(50)
            # When the burst is repaired, Then the alarm clears
            feed.spike = None
            at = wait_for_log(log, "back to normal", 20, at)
            feed.wait_written(50)
            # And the agent is restarted (SIGTERM saves the checkpoint)
            feed.paused.set()
            stop(agent)
        saved = json.loads((state / "detectors.json").read_text())[f"{SENSOR}/p"]["state"]
        assert min(saved["lo"][0], saved["hi"][0]) > 250.0  # the burst's level was never learned
        with running("lifeline-edge", ["run", "--config", str(config)], log) as agent:
            at = wait_for_log(log, "restored 1 detector checkpoint(s)", 15, at)
            at = wait_for_log(log, f"port open sensor={SENSOR} ", 15, at)
            feed.paused.clear()
            feed.wait_written(20)
            # When the same burst comes again
            feed.spike = 150.0
            # Then it alarms again (before the score/learn split it did not: the burst's level
            # had become normal and the checkpoint kept it)
            wait_for_log(log, anomaly, 20, at)
            stop(agent)


def test_non_finite_calibrated_values_are_bad_reads_and_the_agent_goes_on(tmp_path: Path) -> None:
    state, config, log = tmp_path / "state", tmp_path / "edge.toml", tmp_path / "edge.log"
    extra = "[sensors.channels.p]\nscale = 10.0\n"
    with PtySensor() as sensor:
        config.write_text(edge_toml(state, sensor.path, '["p", "q"]', extra))
        poison: list[bytes] = []

        def line(n: int) -> bytes:
            if poison:
                return poison.pop(0)
            return f"{30.0 + (n % 7) * 0.03:.2f},{300.0 + (n % 5) * 0.3:.1f}\n".encode()

        written = [0]

        def counted(n: int) -> bytes:
            written[0] += 1
            return line(n)

        sensor.stream(counted, 100)
        with running("lifeline-edge", ["run", "--config", str(config)], log) as agent:
            at = wait_for_log(log, f"port open sensor={SENSOR} ", 15)
            # Given a warm agent, When p (scale 10) reads 1e308 (inf once calibrated) and q
            # (scale 1) reads +-1e308, mixed with normal lines
            wait_for_log(log, "edge agent starting", 5)
            target = written[0] + 3 * WARMUP
            wait_for(lambda: written[0] >= target, 30, "normal readings written")
            # (a second of each: long enough for any detector to call it an event)
            poison.extend([b"1e308,300.0\n"] * 100 + [b"30.0,1e308\n", b"30.0,-1e308\n"] * 50
                          + [b"inf,300.0\n"] * 3)
            # Then each is a counted, logged bad read, and the agent keeps running
            at = wait_for_log(log, "reason=non_finite", 20, at)
            target = written[0] + 500
            wait_for(lambda: written[0] >= target, 30, "more readings written")
            assert agent.poll() is None
            # And it still saves its checkpoint (every detector state finite) on SIGTERM
            stop(agent)
    text = log.read_text()
    assert "could not write detector checkpoint" not in text and "Traceback" not in text
    assert "saved 2 detector checkpoint(s)" in text
    json.loads((state / "detectors.json").read_text())
