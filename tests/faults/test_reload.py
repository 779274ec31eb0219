"""SIGHUP reloads edge.toml: sensors added, removed or changed; unchanged ones keep their state."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from edge.agent import Agent, plan_reload
from edge.config import load_edge_config
from tests.support.edgetoml import lines_sensor
from tests.support.faults import edge_toml, wait_for_log
from tests.support.processes import running
from tests.support.pty import PtySensor

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def config(state_dir: Path, *sensors: tuple[str, str] | tuple[str, str, float]) -> str:
    """An edge.toml with no broker (port 1: it buffers) and these (id, port[, high]) sensors."""
    return edge_toml(state_dir, port=1, sensors=[
        lines_sensor(sensor_id, port, high=rest[0] if rest else 600.0)
        for sensor_id, port, *rest in sensors])


BROKEN = "\n[[sensors]]\nid = 3\n"  # a sensor whose id is not a string


def test_reload_keeps_unchanged_sensors_and_their_detectors(tmp_path: Path) -> None:
    # Given an agent (not started: no threads, no broker) with sensors a, b and c
    path = tmp_path / "edge.toml"
    state = tmp_path / "state"
    path.write_text(config(state, ("a", "/dev/null-a"), ("b", "/dev/null-b"), ("c", "/dev/null-c")))
    agent = Agent(load_edge_config(path))
    a, b = agent.sensors["a"], agent.sensors["b"]
    detector_a = agent.detectors["a/p"]
    try:
        # When a stays, b changes its limit, c goes and d arrives
        path.write_text(config(state, ("a", "/dev/null-a"), ("b", "/dev/null-b", 700),
                               ("d", "/dev/null-d")))
        plan = agent.reload()
        # Then a keeps its runtime (detector, decider, health); b is rebuilt; c is gone
        assert plan is not None
        assert (plan.kept, plan.added, plan.removed, plan.changed) == (("a",), ("d",), ("c",),
                                                                       ("b",))
        assert agent.sensors["a"] is a and agent.detectors["a/p"] is detector_a
        assert agent.sensors["b"] is not b and agent.sensors["b"].channels[0].channel.high == 700
        assert list(agent.sensors) == ["a", "b", "d"] and list(agent.readers) == ["a", "b", "d"]
        # When the next file is broken, Then nothing changes
        path.write_text(config(state, ("a", "/dev/null-a")) + BROKEN)
        assert agent.reload() is None
        assert list(agent.sensors) == ["a", "b", "d"] and agent.sensors["a"] is a
    finally:
        agent.outbox.close()


def test_plan_reload_uses_config_equality(tmp_path: Path) -> None:
    path = tmp_path / "edge.toml"
    path.write_text(config(tmp_path, ("a", "/dev/x")))
    one = load_edge_config(path).sensors
    two = load_edge_config(path).sensors
    assert plan_reload(one, two).kept == ("a",)
    assert plan_reload(one, ()).removed == ("a",)


def test_sighup_on_a_running_agent(tmp_path: Path) -> None:
    with PtySensor() as first, PtySensor() as second:
        path = tmp_path / "edge.toml"
        state = tmp_path / "state"
        path.write_text(config(state, ("a", first.path)))
        log = tmp_path / "edge.log"
        first.stream(lambda n: b"700\n" if n % 2 == 0 else b"300\n", 20)
        second.stream(lambda n: b"900\n" if n % 2 == 0 else b"300\n", 20)
        with running("lifeline-edge", ["run", "--config", str(path)], log) as agent:
            # Given a running agent raising alerts for sensor a
            wait_for_log(log, "sensor=a channel=p reason=limit", 15)
            # When sensor b is added and SIGHUP arrives
            path.write_text(config(state, ("a", first.path), ("b", second.path)))
            os.kill(agent.pid, signal.SIGHUP)
            # Then b starts alerting while a's port is never reopened
            wait_for_log(log, "kept=a added=b removed=- changed=-", 10)
            wait_for_log(log, "sensor=b channel=p reason=limit", 10)
            # When the file becomes invalid and SIGHUP arrives, Then the agent keeps going
            path.write_text(config(state) + BROKEN)
            os.kill(agent.pid, signal.SIGHUP)
            wait_for_log(log, "config reload failed", 10)
            assert agent.poll() is None
        text = log.read_text()
        assert text.count("port open sensor=a ") == 1
