"""Terminal escapes from devices never reach the operator's screen (issue 13, item 6).

An alert's ``message`` and ``unit`` (and ``kind``, comments, silences ...) are the sender's
to choose. Every human output of the hub shows control characters as ``\\x1b``; ``--json``
keeps the exact text. Our console scripts run as subprocesses on a store the hub's own
ingest wrote.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import threading
import uuid
from pathlib import Path

import pytest

from hub.config import load_hub_config
from hub.service.ingest import Ingest
from hub.store import Store
from lifeline import wire
from lifeline.grades import Grade
from tests.support.processes import script

pytestmark = pytest.mark.integration

TITLE = "\x1b]0;pwned\x07\x1b[2J"                 # retitles the terminal, clears the screen
ERASE = "ok\r\x1b[1A\x1b[2K\x1b[1A\x1b[2K"        # erases the two lines above it
NOW = 1_790_000_000.0
BOUND_S = 20
# every control character but the newline that ends lines
CONTROLS = [chr(c) for c in (*range(0x00, 0x0A), *range(0x0B, 0x20), *range(0x7F, 0xA0))]


def setup_store(tmp_path: Path) -> Path:
    config = tmp_path / "hub.toml"
    config.write_text('[store]\npath = "hub.db"\n')
    hub = load_hub_config(config)
    ingest = Ingest(Store.open_writer(hub.store.path), hub, NOW)
    device = "edge-north-1"
    with_value = wire.Alert(
        id=uuid.uuid4().hex, device=device, zone="north", sensor="main-pressure",
        channel="pressure_kpa", kind="water.pressure", ts=NOW, value=150.0, score=1.0,
        grade=Grade.RED, reason=wire.Reason.LIMIT, seq=1, unit=ERASE, context=(300.0, 150.0),
        message=TITLE)
    fault = wire.Alert(
        id=uuid.uuid4().hex, device=device, zone="north", sensor="main-pressure",
        channel="pressure_kpa", kind="water.pressure", ts=NOW + 1, value=None, score=0.0,
        grade=Grade.YELLOW, reason=wire.Reason.SENSOR_FAULT, seq=2, message=ERASE + TITLE)
    status = wire.Status(device=device, zone="north", state="online", ts=NOW)
    ingest.batch([(wire.alert_topic(device), wire.encode(with_value)),
                  (wire.alert_topic(device), wire.encode(fault)),
                  (wire.status_topic(device), wire.encode(status))], NOW + 2)
    ingest.store.close()
    return config


def run(*args: str) -> str:
    done = subprocess.run([script("lifeline-hub"), *args], capture_output=True, timeout=BOUND_S,
                          env={**os.environ, "NO_COLOR": "1"})
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    return done.stdout.decode()


def assert_shown(out: str) -> None:
    assert not [c for c in CONTROLS if c in out], repr(out)


def test_every_human_output_shows_control_characters_and_json_keeps_them(
        tmp_path: Path) -> None:
    # Given alerts whose message and unit hold terminal escapes, in a store
    config = setup_store(tmp_path)
    cfg = ["--config", str(config)]
    # And an operator's comment and silence holding some too
    run("incidents", "comment", "1", f"see {ERASE}", "--by", TITLE, *cfg)
    run("silence", "add", "--for", "1h", "--comment", TITLE, "--device", "edge-north-1",
        "--by", ERASE, *cfg)
    # When an operator looks with every command, Then no control character reaches the
    # terminal; each is shown as \\x.. instead
    show = run("incidents", "show", "1", *cfg)
    assert_shown(show)
    assert "\\x1b]0;pwned\\x07\\x1b[2J" in show and "ok\\x0d\\x1b[1A\\x1b[2K" in show
    for args in (["incidents"], ["status"], ["silence", "list"]):
        assert_shown(run(*args, *cfg))
    assert "\\x1b]0;pwned" in run("silence", "list", *cfg)
    tail = tail_lines(config, 4)
    assert_shown("\n".join(tail))
    assert any("ok\\x0d\\x1b[1A" in line for line in tail)
    # And --json keeps the exact text
    data = json.loads(run("incidents", "show", "1", "--json", *cfg))
    assert [(a["unit"], a["message"]) for a in data["alerts"]] == [(ERASE, TITLE)]
    assert any(e.get("text") == f"see {ERASE}" for e in data["timeline"])
    assert json.loads(run("silence", "list", "--json", *cfg))[0]["comment"] == TITLE


def tail_lines(config: Path, count: int) -> list[str]:
    """The first ``count`` lines of ``tail --from-start --no-fold``, then Ctrl-C."""
    tail = subprocess.Popen([script("lifeline-hub"), "tail", "--from-start", "--no-fold",
                             "--config", str(config)], stdout=subprocess.PIPE,
                            env={**os.environ, "NO_COLOR": "1"}, start_new_session=True)
    lines: queue.Queue[bytes] = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(x) for x in tail.stdout or ()],
                              daemon=True)
    reader.start()
    try:
        return [lines.get(timeout=BOUND_S).decode() for _ in range(count)]
    finally:
        tail.send_signal(signal.SIGINT)
        tail.wait(timeout=BOUND_S)
        reader.join(timeout=BOUND_S)
        if tail.stdout is not None:
            tail.stdout.close()
