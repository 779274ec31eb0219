"""`lifeline-edge run` refuses a bad config at start: exit 2 (systemd does not restart it) and
`file: key: problem` lines on stderr, before any sensor or broker is touched."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from edge.cli import main
from tests.support.faults import edge_toml

SENSOR = ('\n[[sensors]]\nid = "p"\nkind = "water.pressure"\ndriver = "lines"\n'
          'port = "/dev/ttyUSB0"\ncolumns = ["kpa"]\nhigh = 600.0\n')


@pytest.mark.parametrize(("text", "problem"), [
    (SENSOR.replace("high =", "hihg ="),
     r"edge.toml:\d+: sensors\['p'\]\.hihg: is not a valid option .*did you mean 'high'\?"),
    (SENSOR.replace('"/dev/ttyUSB0"', "0"), r"edge.toml:\d+: sensors\['p'\]\.port: expected a string"),
    (SENSOR + SENSOR.replace("ttyUSB0", "ttyUSB1"),
     r"edge.toml:\d+: sensors\[1\]\.id: duplicate sensor id 'p'"),
])
def test_run_refuses_a_bad_config_with_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                              text: str, problem: str) -> None:
    path = tmp_path / "edge.toml"
    path.write_text(edge_toml(tmp_path / "state", port=1883, sensors=text))
    assert main(["run", "--config", str(path)]) == 2
    assert re.search(problem, capsys.readouterr().err)


def test_run_refuses_a_missing_file_with_exit_2(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--config", str(tmp_path / "absent.toml")]) == 2
    assert "absent.toml: (file): the file does not exist" in capsys.readouterr().err
