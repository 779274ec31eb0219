"""The agent runs a multi-column sensor through the device pipeline: multichannel alerts reach the
outbox (a real SQLite file) and the multichannel detector is in the checkpoint. In-process, no broker."""

from __future__ import annotations

import json
import math
import random
import time
from pathlib import Path

from edge.agent import Agent
from edge.config import load_edge_config
from edge.drivers.base import SensorEvent
from lifeline import wire
from tests.support.edgetoml import edge_toml, lines_sensor


def multichannel_toml(state_dir: Path) -> str:
    """A pump skid with four channels on one port, and a one-channel sensor beside it."""
    return edge_toml(device="pump-station-1", state_dir=state_dir,
                     mqtt={"host": "127.0.0.1", "port": 1},
                     sensors=[lines_sensor("skid-1", "/dev/null", kind="water.pump",
                                           columns=["a", "b", "c", "d"]),
                              lines_sensor("single", "/dev/zero")])


def rows(normal: int, broken: int) -> list[tuple[float, ...]]:
    """a = load, b = 2 load + 5, c = 100 - load, d independent; then b leaves its line by 3."""
    rng = random.Random(3)
    out = []
    for i in range(normal + broken):
        load = 10.0 + 4.0 * math.sin(i / 20.0) + rng.gauss(0.0, 0.2)
        b = 2.0 * load + 5.0
        if i >= normal:  # 3 off the line, never crossing it, inside b's range: down when high, up when low
            b += -3.0 if load > 9.0 else 3.0
        out.append((load + rng.gauss(0, 0.05), b + rng.gauss(0, 0.05), 100.0 - load,
                    20.0 + rng.gauss(0.0, 1.0)))
    return out


def test_the_agent_alerts_on_a_broken_machine_and_checkpoints_its_model(tmp_path: Path) -> None:
    config = tmp_path / "edge.toml"
    config.write_text(multichannel_toml(tmp_path / "state"))
    agent = Agent(load_edge_config(config))
    try:
        # Given the agent's device pipelines: the 4-column sensor has a multichannel detector,
        # the single-column one does not
        assert "skid-1/*" in agent.detectors and "single/*" not in agent.detectors
        runtime = agent.sensors["skid-1"]
        # (one that warms in 10 minutes instead of a day, so the test need not wait a day)
        runtime.device.multichannel.warmup_s = 600.0
        # When it reads 50 minutes of a normal machine, then one whose channel b leaves its line
        start = time.time()
        for i, values in enumerate(rows(3000, 60)):
            agent.handle(SensorEvent("skid-1", "reading", start + i, values))
        # Then a multichannel anomaly alert on channel b is in the outbox, after the break only
        alerts = [wire.decode_alert(p.payload) for p in agent.outbox.pending(10_000)]
        whole = [a for a in alerts if a.message.startswith("multichannel")]
        assert whole and whole[0].channel == "b" and whole[0].reason is wire.Reason.ANOMALY
        assert whole[0].ts >= round(start + 3000, 3)
        # and the checkpoint holds the multichannel model under skid-1/*
        agent.save_checkpoint()
        saved = json.loads(agent.checkpoint_path.read_text())
        assert saved["skid-1/*"]["name"] == "pca_t2q" and saved["skid-1/*"]["state"]["n"] > 2000
    finally:
        agent.outbox.close()
