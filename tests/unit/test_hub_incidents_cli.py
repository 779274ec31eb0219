"""``lifeline-hub incidents``: the table shows the newest ``TABLE_LIMIT`` unless ``--limit N`` or
``--all``, says on stderr when it cut, and ``--json`` keeps listing every incident."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

import hub.desk.commands
from hub.cli import main
from hub.desk.render import _when
from tests.unit.test_store_listing import store_of

ZONES = ["z1", "z2", "z3", "z4", "z5"]  # INC-1 .. INC-5, newest last


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("NO_COLOR", "1")
    store = store_of(tmp_path / "hub.db", ZONES)
    with store.transaction():  # the oldest two are done with
        store.db.execute("UPDATE incidents SET status = 'resolved' WHERE id IN (1, 2)")
    store.close()
    path = tmp_path / "hub.toml"
    path.write_text(f'[store]\npath = "{tmp_path / "hub.db"}"\n')
    return path


def table(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[list[str], str]:
    assert main(list(argv)) == 0
    out, err = capsys.readouterr()
    return [line.split()[0] for line in out.splitlines()[1:]], err


def test_the_table_shows_the_newest_and_says_how_many_it_left_out(
        config: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    # Given more incidents than the table shows by default
    monkeypatch.setattr(hub.desk.commands, "TABLE_LIMIT", 3)
    # When an operator lists them, Then the newest three, and a note on stderr
    ids, err = table(capsys, "incidents", "--config", str(config))
    assert ids == ["INC-5", "INC-4", "INC-3"]
    assert err == "showing newest 3 of 5; --all for every incident\n"
    # And --limit and --all, also after `list`
    ids, err = table(capsys, "incidents", "list", "--limit", "2", "--config", str(config))
    assert ids == ["INC-5", "INC-4"] and err.startswith("showing newest 2 of 5;")
    ids, err = table(capsys, "incidents", "--all", "--config", str(config))
    assert ids == ["INC-5", "INC-4", "INC-3", "INC-2", "INC-1"] and err == ""
    ids, err = table(capsys, "incidents", "list", "--limit", "5", "--config", str(config))
    assert len(ids) == 5 and err == ""


def test_an_open_incident_older_than_the_table_is_pointed_out(
        config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Given the oldest incidents resolved and INC-3 open, when the table shows the newest two
    ids, err = table(capsys, "incidents", "--limit", "2", "--config", str(config))
    # Then the note says one open or acknowledged incident is not shown, and how to see it
    assert ids == ["INC-5", "INC-4"]
    assert err.splitlines()[1] == ("1 open or acknowledged incident(s) older than these not "
                                   "shown: --status open, --status acknowledged")
    ids, err = table(capsys, "incidents", "--status", "resolved", "--limit", "1",
                     "--config", str(config))
    assert ids == ["INC-2"] and len(err.splitlines()) == 1


def test_json_lists_every_incident_unless_limited(
        config: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hub.desk.commands, "TABLE_LIMIT", 3)
    assert main(["incidents", "--json", "--config", str(config)]) == 0
    out, err = capsys.readouterr()
    listed = json.loads(out)
    assert [i["id"] for i in listed] == ["INC-5", "INC-4", "INC-3", "INC-2", "INC-1"]
    assert err == "" and "reasons" in listed[0] and "dedup_key" in listed[0]
    assert main(["incidents", "list", "--json", "--limit", "1", "--config", str(config)]) == 0
    assert [i["id"] for i in json.loads(capsys.readouterr().out)] == ["INC-5"]


@pytest.mark.parametrize("argv", [["--limit", "0"], ["--limit", "x"], ["--limit", "2", "--all"]])
def test_a_bad_limit_is_a_usage_error(config: Path, capsys: pytest.CaptureFixture[str],
                                      argv: list[str]) -> None:
    assert main(["incidents", "list", *argv, "--config", str(config)]) == 2
    assert "--limit" in capsys.readouterr().err


@pytest.mark.parametrize("ts", [0.0, 1_790_000_000.0, 1_790_000_059.9999996,
                                1_790_000_059.9999994, 1_790_006_399.5, 1_795_128_080.2225113,
                                1_790_035_199.9999999, 4_102_444_799.9999995])
def test_table_times_read_as_datetime_shows_them(ts: float) -> None:
    # The table's own formatter rounds microseconds the way datetime does
    assert _when(ts) == datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")
