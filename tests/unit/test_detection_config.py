"""Issue 12 item 5: a detector that would not build is a config error before start, and a
SIGHUP reload with one keeps the running configuration."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from edge.agent import Agent
from edge.cli import main
from edge.config import DetectionConfig, load_edge_config
from tests.support.faults import edge_toml

SENSOR = ('\n[[sensors]]\nid = "p"\nkind = "water.pressure"\ndriver = "lines"\n'
          'port = "/dev/ttyUSB0"\ncolumns = ["kpa", "flow", "temp"]\n')


@pytest.mark.parametrize(("detection", "problem"), [
    ('detector = "isolation-forest"',
     r"edge.toml:\d+: sensors\['p'\]\.detection\.detector: 'isolation-forest' is not one of default, "
     r"half_space_trees, .*"),
    ('detector = "profile_novelti"',
     r"sensors\['p'\]\.detection\.detector: .*did you mean 'profile_novelty'\?"),
    ('detector = "range_novelty"\nparams = { tolerence = 0.1 }',
     r"sensors\['p'\]\.detection\.params\.tolerence: is not a parameter of detector 'range_novelty'; "
     r"did you mean 'tolerance'\?"),
    ('params = { alert_threshold = 1.5 }',
     r"sensors\['p'\]\.detection\.params: detector 'profile_novelty' cannot be built .*alert_threshold"),
    ('multichannel = "pca"',
     r"sensors\['p'\]\.detection\.multichannel: 'pca' is not one of auto, none"),
    ('accept_after_s = 0', r"sensors\['p'\]\.detection\.accept_after_s: 0 is below the minimum"),
    ('treshold = 0.8', r"sensors\['p'\]\.detection\.treshold: is not a valid option .*did you mean "
                       r"'threshold'\?"),
])
def test_check_config_refuses_a_detector_that_would_not_build(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], detection: str, problem: str) -> None:
    path = tmp_path / "edge.toml"
    path.write_text(edge_toml(tmp_path / "state", port=1883,
                              sensors=SENSOR + "\n[sensors.detection]\n" + detection + "\n"))
    assert main(["check-config", str(path)]) == 2
    assert re.search(problem, capsys.readouterr().err)


def test_new_detection_keys_default_and_parse(tmp_path: Path) -> None:
    path = tmp_path / "edge.toml"
    path.write_text(edge_toml(tmp_path / "state", port=1883, sensors=SENSOR))
    detection = load_edge_config(path).sensors[0].detection
    assert (detection.accept_after_s, detection.multichannel) == (21600.0, "auto")
    assert (DetectionConfig().accept_after_s, DetectionConfig().multichannel) == (21600.0, "auto")
    path.write_text(edge_toml(tmp_path / "state", port=1883, sensors=SENSOR + (
        '\n[sensors.detection]\naccept_after_s = 3600\nmultichannel = "none"\n')))
    detection = load_edge_config(path).sensors[0].detection
    assert (detection.accept_after_s, detection.multichannel) == (3600.0, "none")


def test_a_reload_with_a_bad_detector_keeps_the_running_config(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # Given an agent (not started) with a good config
    path = tmp_path / "edge.toml"
    path.write_text(edge_toml(tmp_path / "state", port=1, sensors=SENSOR))
    agent = Agent(load_edge_config(path))
    try:
        before = agent.config
        # When the file now names a detector that does not exist and a reload is asked
        path.write_text(edge_toml(tmp_path / "state", port=1, sensors=SENSOR + (
            '\n[sensors.detection]\ndetector = "isolation-forest"\n')))
        # Then the reload fails with the config error, and the running config stays
        assert agent.reload() is None
        assert agent.config is before and set(agent.sensors) == {"p"}
        assert "is not one of default" in caplog.text
    finally:
        agent.outbox.close()
