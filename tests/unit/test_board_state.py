"""Where the agent's board.json is written and found (lifeline-edge status): systemd's runtime
directory (a tmpfs: no SD-card wear from a rewrite every 2 s), else the state directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge import board_state
from edge.config import load_edge_config
from lifeline import wire

EDGE = '[device]\nid = "edge-a"\nzone = "north"\nstate_dir = "state"\n'


def record(device: str, at: float) -> dict[str, object]:
    return {"device": device, "written_at": wire.format_ts(at)}


def test_the_agent_writes_to_the_runtime_directory_when_systemd_gives_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RUNTIME_DIRECTORY", raising=False)
    assert board_state.board_dir(tmp_path / "state") == tmp_path / "state"
    monkeypatch.setenv("RUNTIME_DIRECTORY", f"{tmp_path / 'run'}:{tmp_path / 'other'}")
    assert board_state.board_dir(tmp_path / "state") == tmp_path / "run"


def test_status_finds_this_devices_newest_record(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "edge.toml").write_text(EDGE)
    config = load_edge_config(tmp_path / "edge.toml")
    state, run = tmp_path / "state", tmp_path / "run"
    state.mkdir()
    run.mkdir()
    monkeypatch.setenv("RUNTIME_DIRECTORY", str(run))
    assert board_state.find(config, state) is None
    # an old record in the state directory, a newer one in the runtime directory
    board_state.write(state, record("edge-a", 1000.0))
    board_state.write(run, record("edge-a", 2000.0))
    assert board_state.find(config, state) == (run, record("edge-a", 2000.0))
    # another device's record is not this device's, however new
    board_state.write(run, record("edge-b", 3000.0))
    assert board_state.find(config, state) == (state, record("edge-a", 1000.0))
    # and a broken file is no record
    (state / board_state.BOARD_FILE).write_text("{not json")
    assert board_state.find(config, state) is None
