"""``lifeline-hub tail`` follows the store: a change committed while it runs is printed.

The writer is this test (the hub's own ingest on a real SQLite file); tail is our console
script as a subprocess, as an operator runs it."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import threading
from pathlib import Path

import pytest

from hub.config import HubConfig
from hub.service.ingest import Ingest
from hub.store import Store
from lifeline import wire
from lifeline.grades import Grade
from tests.support.processes import script
from tests.unit.test_store_listing import T0, alert

pytestmark = pytest.mark.integration

BOUND_S = 20.0


def test_tail_prints_what_is_committed_while_it_follows(tmp_path: Path) -> None:
    store = Store.open_writer(tmp_path / "hub.db")
    ingest = Ingest(store, HubConfig(), T0)

    def commit(zone: str, seq: int) -> None:
        a = alert(zone, T0 + seq, Grade.YELLOW, seq)
        ingest.batch([(wire.alert_topic(a.device), wire.encode(a))], T0 + seq)

    config = tmp_path / "hub.toml"
    config.write_text(f'[store]\npath = "{tmp_path / "hub.db"}"\n')
    # Given an incident in the store, and tail replaying the feed, then following
    commit("north", 1)
    tail = subprocess.Popen([script("lifeline-hub"), "tail", "--json", "--from-start",
                             "--config", str(config)], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "NO_COLOR": "1"})
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(x) for x in tail.stdout or ()],
                              daemon=True)
    reader.start()

    def opened(zone: str) -> int:
        """The event id of the next line, which must be ``zone``'s incident opening."""
        event = json.loads(lines.get(timeout=BOUND_S))
        assert (event["kind"], event["incident"]["zone"]) == ("opened", zone)
        return int(event["event"])

    try:
        first = opened("north")
        # When the hub commits more while tail follows (one commit, then a quiet store, then
        # another: tail must wake for each), Then each is printed, in order
        commit("south", 2)
        second = opened("south")
        commit("east", 3)
        third = opened("east")
        assert first < second < third
    finally:
        tail.send_signal(signal.SIGINT)
        assert tail.wait(timeout=BOUND_S) == 0
        reader.join(timeout=BOUND_S)  # at the end of tail's output
        if tail.stdout is not None:
            tail.stdout.close()
        store.close()


def test_tail_no_follow_prints_what_is_stored_and_exits(tmp_path: Path) -> None:
    config = tmp_path / "hub.toml"
    config.write_text(f'[store]\npath = "{tmp_path / "hub.db"}"\n')

    def tail(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([script("lifeline-hub"), "tail", "--no-follow", "--config",
                               str(config), *args], capture_output=True, text=True,
                              timeout=BOUND_S, env={**os.environ, "NO_COLOR": "1"})

    # Given no store yet, Then there is nothing to print, and tail exits at once
    assert (tail("--from-start").returncode, tail("--from-start").stdout) == (0, "")
    # Given three incidents in the store
    store = Store.open_writer(tmp_path / "hub.db")
    ingest = Ingest(store, HubConfig(), T0)
    for seq, zone in enumerate(("north", "south", "east"), start=1):
        a = alert(zone, T0 + seq, Grade.YELLOW, seq)
        ingest.batch([(wire.alert_topic(a.device), wire.encode(a))], T0 + seq)
    store.close()
    # When tail replays the feed without following, Then it prints all of it and exits 0
    done = tail("--from-start", "--json")
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(e["kind"], e["incident"]["zone"]) for e in events] == [
        ("opened", "north"), ("opened", "south"), ("opened", "east")]
    # ... the same as lines, filtered as when following; and from the newest event: nothing
    lines = tail("--from-start", "--zone", "south").stdout.splitlines()
    assert len(lines) == 1 and "south" in lines[0] and "opened" in lines[0]
    assert (tail().returncode, tail().stdout) == (0, "")
