"""Issue 12 item 1: a technician accepts a new normal with `lifeline-edge relearn`, and a level
that stays alarming for accept_after_s is accepted with a cleared alert naming it."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from edge.agent import RELEARN_DIR, Agent
from edge.cli import main
from edge.config import ChannelConfig, DetectionConfig, SensorConfig, load_edge_config
from edge.detectors import DEFAULT_DETECTOR, make_detector
from edge.drivers.base import SensorEvent
from edge.pipeline import ChannelPipeline
from lifeline.wire import Reason
from tests.support.faults import edge_toml

SENSOR = ('\n[[sensors]]\nid = "main"\nkind = "water.pressure"\ndriver = "lines"\n'
          'port = "/dev/ttyUSB0"\ncolumns = ["p"]\nunit = "kPa"\n'
          '\n[sensors.detection]\nthreshold = 0.9\nclear_threshold = 0.6\nmin_readings = 1\n')


def test_relearn_resets_the_sensor_model_in_a_running_agent_and_its_checkpoint(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Given an agent (its loop not started: we hand it readings) whose sensor learned a level
    # and then alarms on a new one, with a checkpoint on disk
    path = tmp_path / "edge.toml"
    path.write_text(edge_toml(tmp_path / "state", port=1, sensors=SENSOR))
    agent = Agent(load_edge_config(path))
    try:
        rng = random.Random(2)
        t = 1.7e9
        for i in range(600):
            agent.handle(SensorEvent("main", "reading", t + i, (300.0 + rng.gauss(0.0, 1.0),)))
        for i in range(600, 620):
            agent.handle(SensorEvent("main", "reading", t + i, (250.0,)))
        pipeline = agent.sensors["main"].channels[0]
        assert pipeline.alarming
        agent.save_checkpoint()
        assert "main/p" in json.loads(agent.checkpoint_path.read_text())
        alerts = agent.counters["alerts"]
        # When a technician runs relearn for that sensor
        assert main(["relearn", "--config", str(path), "main"]) == 0
        assert "dropped 1 detector checkpoint(s)" in capsys.readouterr().out
        assert "main/p" not in json.loads(agent.checkpoint_path.read_text())
        assert (agent.state_dir / RELEARN_DIR / "main").exists()
        # And the running agent looks for requests (it does every second)
        agent.check_relearn(t + 620)
        # Then its detector starts afresh, the alarm ends with a cleared alert, the request is gone
        pipeline = agent.sensors["main"].channels[0]
        assert pipeline.detector.state()["n"] == 0 and not pipeline.alarming
        assert agent.counters["alerts"] == alerts + 1
        assert not (agent.state_dir / RELEARN_DIR / "main").exists()
    finally:
        agent.outbox.close()


def test_relearn_of_an_unknown_sensor_is_a_usage_error(tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "edge.toml"
    path.write_text(edge_toml(tmp_path / "state", port=1, sensors=SENSOR))
    assert main(["relearn", "--config", str(path), "mian"]) == 2
    assert "no sensor 'mian' (sensors: main); did you mean 'main'?" in capsys.readouterr().err


def test_a_level_that_stays_for_accept_after_s_is_accepted_with_a_cleared_alert() -> None:
    # Given a channel at 300 kPa whose level moves to 280 kPa for good (a valve re-set)
    channel = ChannelConfig(name="p", unit="kPa")
    sensor = SensorConfig(id="s", kind="water.pressure", driver="lines", port="-", baudrate=9600,
                          channels=(channel,), detection=DetectionConfig(accept_after_s=3600.0))
    pipeline = ChannelPipeline(sensor, channel, make_detector(DEFAULT_DETECTOR, {}))
    rng = random.Random(4)
    drafts = []
    for i in range(3 * 3600):
        value = (300.0 if i < 3600 else 280.0) + rng.gauss(0.0, 1.0)
        draft = pipeline.process_value(1.7e9 + i, value)
        if draft is not None and (draft.cleared or "for 0 s" in draft.message):
            drafts.append((i, draft))
    # Then it alarms at once, stays up for accept_after_s, then a cleared anomaly alert names
    # the new baseline, and the new level is normal from then on
    (start, onset), (end, accepted) = drafts[0], drafts[1]
    assert start in (3600, 3601) and onset.reason is Reason.ANOMALY and not onset.cleared
    assert end - start == 3600 and accepted.cleared and accepted.reason is Reason.ANOMALY
    assert "accepted as the new normal, baseline now 280" in accepted.message
    assert len(drafts) == 2 and not pipeline.alarming and pipeline.accepted == 1
