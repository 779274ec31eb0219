"""``lifeline-edge replay`` end to end: our module run as a real subprocess over a small CSV."""

from __future__ import annotations

import csv
import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.edgetoml import edge_toml, lines_sensor

EDGE_TOML = edge_toml(
    device="bench-1", zone="lab", mqtt={"host": "127.0.0.1"},
    sensors=[lines_sensor("main-pressure", "/dev/null", columns=["pressure_kpa"], low=250.0,
                          detection={"detector": "robust_z", "threshold": 0.8,
                                     "clear_threshold": 0.5, "min_readings": 1})])


def write_csv(path: Path, column: str = "value", drop_to: float = 280.0) -> list[float]:
    """600 readings a minute apart around 300 kPa, then a drop held for 30 readings."""
    rng = random.Random(3)
    values = [300.0 + rng.gauss(0.0, 0.5) for _ in range(600)] + [drop_to] * 30
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["timestamp", column])
        for i, v in enumerate(values):
            writer.writerow([f"2026-01-01T{i // 60:02d}:{i % 60:02d}:00", v])
    return values


def replay(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "edge.replay", *map(str, args)],
                          capture_output=True, text=True, timeout=60, check=False)


def test_scores_every_row_and_prints_the_alerts(tmp_path: Path) -> None:
    # Given a recording with a pressure drop at row 600
    data, out = tmp_path / "pressure.csv", tmp_path / "scores.csv"
    values = write_csv(data)
    # When it is replayed with the default detector
    result = replay(data, "--scores", out)
    # Then every row has a score, quiet before the drop, and one alert is printed for the drop
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(out.read_text().splitlines()))
    assert list(rows[0]) == ["timestamp", "value", "anomaly_score", "alarm"]
    assert len(rows) == len(values)
    assert max(float(r["anomaly_score"]) for r in rows[200:600]) < 0.9  # the shipped threshold
    alerts = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(alerts) >= 1
    assert alerts[0]["reason"] == "anomaly" and alerts[0]["timestamp"].startswith("2026-01-01T10:0")


def test_config_supplies_detector_thresholds_and_limits(tmp_path: Path) -> None:
    # Given a site config whose channel has a physical low limit of 250 kPa
    data, out, toml = tmp_path / "pressure.csv", tmp_path / "scores.csv", tmp_path / "edge.toml"
    write_csv(data, column="pressure_kpa", drop_to=240.0)
    toml.write_text(EDGE_TOML)
    # When replayed with that config
    result = replay(data, "--config", toml, "--column", "pressure_kpa", "--scores", out)
    # Then the limit breach alerts at once, graded orange
    assert result.returncode == 0, result.stderr
    alerts = [json.loads(line) for line in result.stdout.splitlines()]
    limit = [a for a in alerts if a["reason"] == "limit"]
    assert limit and limit[0]["grade"] == "orange" and limit[0]["value"] == 240.0


@pytest.mark.parametrize(("args", "message"), [
    (["--column", "flow"], "no column 'flow'"),
    (["--detector", "nope"], "invalid choice: 'nope'"),
])
def test_usage_errors_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    data = tmp_path / "pressure.csv"
    write_csv(data)
    result = replay(data, "--scores", tmp_path / "s.csv", *args)
    assert result.returncode == 2
    assert message in result.stderr
