"""The board's pure parts: config, operators file, row order, zone fill, SVG escaping, SSE
frames; and the metrics' histogram. No server, no browser (tests/integration has those)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from hub.board.svg import map_layout, sparkline_svg, zone_map_svg
from hub.board.users import UsersError, hash_password, load_users, remove_user, set_user, verify_password
from hub.board.view import parse_event_id, sort_rows, sse_frame, worst_by_zone
from hub.config import load_hub_config
from hub.core.topology import Topology, Zone
from lifeline.metrics import Histogram
from lifeline.tomlconfig import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "hub.toml"
    path.write_text(text)
    return path


# -- config -------------------------------------------------------------------------------
def test_board_and_metrics_default_to_loopback_read_only_and_off(tmp_path: Path) -> None:
    config = load_hub_config(write(tmp_path, ""))
    assert config.board.listen == ("127.0.0.1", 8080) and config.board.users is None
    assert config.board.hosts() == {"127.0.0.1", "localhost", "::1"}
    assert not config.metrics.enabled


def test_board_keys_load_with_paths_relative_to_the_file(tmp_path: Path) -> None:
    config = load_hub_config(write(tmp_path, '[board]\nlisten = "[::1]:9000"\nusers = "ops"\n'
                                   'allowed_hosts = ["board.city"]\n[metrics]\n'
                                   'textfile = "m/hub.prom"\n[zones.a]\nx = 1\ny = 2\n'))
    assert config.board.listen == ("::1", 9000)
    assert config.board.users == tmp_path / "ops"
    assert config.board.hosts() == {"board.city"}
    assert config.metrics.textfile == tmp_path / "m" / "hub.prom" and config.metrics.enabled
    assert config.fusion.topology.zones["a"].position == (1.0, 2.0)


@pytest.mark.parametrize(("text", "message"), [
    ('[board]\nlisten = "0.0.0.0:8080"\n', "board.listen: '0.0.0.0' is not a loopback address"),
    ('[board]\nlisten = "8080"\n', "board.listen: '8080' is not host:port"),
    ('[board]\nlisen = "127.0.0.1:1"\n', "board.lisen: is not a valid option"),
    ('[metrics]\nlisten = "10.0.0.5:9108"\n', "metrics.listen: '10.0.0.5' is not a loopback"),
    ('[metrics]\ntextfile = "hub.txt"\n', "metrics.textfile: 'hub.txt': node_exporter reads only"),
    ('[zones.a]\nx = 1\n', "zones.a.y: give both x and y"),
])
def test_bad_board_and_metrics_keys_name_file_and_key(tmp_path: Path, text: str,
                                                      message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("(", r"\(")):
        load_hub_config(write(tmp_path, text))


def test_a_remote_address_is_accepted_when_said_so(tmp_path: Path) -> None:
    config = load_hub_config(write(tmp_path, '[board]\nlisten = "0.0.0.0:8080"\n'
                                   'allow_remote = true\n'))
    assert config.board.listen == ("0.0.0.0", 8080)


# -- operators file -------------------------------------------------------------------------
def test_operators_file_is_written_private_and_verifies(tmp_path: Path) -> None:
    path = tmp_path / "ops"
    assert set_user(path, "alice", "correct horse") is True
    assert set_user(path, "alice", "battery staple") is False  # a new password
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    users = load_users(path)
    assert "correct horse" not in path.read_text()
    assert verify_password("battery staple", users["alice"])
    assert not verify_password("correct horse", users["alice"])
    remove_user(path, "alice")
    assert load_users(path) == {}


@pytest.mark.parametrize(("name", "password", "message"), [
    ("al ice", "long enough", "is not an operator name"),
    ("alice", "short", "at least 8 characters"),
])
def test_bad_operator_requests_are_refused(tmp_path: Path, name: str, password: str,
                                           message: str) -> None:
    with pytest.raises(UsersError, match=message):
        set_user(tmp_path / "ops", name, password)


def test_a_broken_operators_file_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "ops"
    path.write_text("# comment\nalice:" + hash_password("x" * 8, n=16) + "\nbob:plain\n")
    with pytest.raises(UsersError, match=r"ops:3: not 'name:scrypt"):
        load_users(path)


def test_a_missing_file_is_no_operators(tmp_path: Path) -> None:
    assert load_users(tmp_path / "none") == {}


# -- what the list and the map show ---------------------------------------------------------
def row(label: str, grade: str, opened: str, zones: list[str], status: str = "open"
        ) -> dict[str, object]:
    return {"id": label, "grade": grade, "opened_at": opened, "zone": zones[0], "zones": zones,
            "status": status}


def test_rows_sort_red_to_blue_then_oldest() -> None:
    rows = [row("INC-1", "yellow", "2026-01-01T00:00:00.000Z", ["a"]),
            row("INC-2", "red", "2026-01-03T00:00:00.000Z", ["a"]),
            row("INC-3", "orange", "2026-01-01T00:00:00.000Z", ["a"]),
            row("INC-4", "red", "2026-01-02T00:00:00.000Z", ["a"]),
            row("INC-5", "blue", "2025-12-01T00:00:00.000Z", ["a"])]
    assert [r["id"] for r in sort_rows(rows)] == ["INC-4", "INC-2", "INC-3", "INC-1", "INC-5"]


def test_zones_are_filled_by_their_worst_active_incident_and_parents_by_their_childrens() -> None:
    topology = Topology.build([Zone("city"), Zone("north", parent="city"),
                               Zone("m1", parent="north"), Zone("east", parent="city")], {})
    rows = [row("INC-1", "yellow", "t", ["m1"]), row("INC-2", "orange", "t", ["east"]),
            row("INC-3", "red", "t", ["m1"], status="resolved")]
    assert worst_by_zone(rows, topology) == {"m1": "yellow", "north": "yellow",
                                             "east": "orange", "city": "orange"}


def test_zone_names_and_labels_are_escaped_in_the_svg() -> None:
    topology = Topology.build([Zone('<script>alert(1)</script>'), Zone('a"b')], {})
    svg = zone_map_svg(topology, {'a"b': "red"})
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert 'data-zone="a&quot;b"' in svg and 'class="zone g-red"' in svg
    assert "<script" not in sparkline_svg([1.0, 2.0], label="<script>x</script>")


def test_zones_with_positions_are_drawn_there_and_the_rest_as_a_tree() -> None:
    topology = Topology.build([Zone("a", position=(0, 0)), Zone("b", position=(10, 0)),
                               Zone("root"), Zone("child", parent="root")], {})
    at = map_layout(topology)
    assert at["a"][1] == at["b"][1] and at["a"][0] < at["b"][0]
    assert at["root"][1] < at["child"][1] and at["root"][1] > at["a"][1]


def test_an_empty_sparkline_and_non_finite_values_draw_nothing_wrong() -> None:
    assert "polyline" not in sparkline_svg([])
    assert "nan" not in sparkline_svg([1.0, float("nan"), 3.0]).lower()


def test_sse_frames_keep_newlines_in_json_on_one_data_line() -> None:
    frame = sse_frame("change", 3, {"text": "line 1\nline 2\r\n\n"})
    assert frame.count(b"\n\n") == 1 and frame.endswith(b"\n\n")
    assert frame.startswith(b"event: change\nid: 3\ndata: ")
    assert parse_event_id("99999999999999999999") is None  # not an id: start from now


# -- metrics' histogram ---------------------------------------------------------------------
def test_histogram_buckets_are_cumulative_with_inf_equal_to_the_count() -> None:
    histogram = Histogram((0.01, 0.1, 1.0))
    for value in (0.005, 0.05, 0.05, 5.0):
        histogram.observe(value)
    family = histogram.family("x_seconds", "x")
    assert list(family.buckets) == [(0.01, 1.0), (0.1, 3.0), (1.0, 3.0), (float("inf"), 4.0)]
    assert family.sum == pytest.approx(5.105)


def test_check_config_says_where_the_board_and_metrics_are_and_what_is_missing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from hub.cli import main

    path = write(tmp_path, '[board]\nlisten = "0.0.0.0:8080"\nallow_remote = true\n'
                 'users = "ops"\n[metrics]\nlisten = "127.0.0.1:9108"\n')
    assert main(["check-config", "--config", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"  board: http://0.0.0.0:8080/ (operators from {tmp_path / 'ops'}; " in out
    assert "  metrics: http://127.0.0.1:9108/metrics" in out
    assert "warning: board operators file" in out and "does not exist yet" in out
    assert "warning: board.listen 0.0.0.0 is not loopback but board.allowed_hosts" in out
