"""Issue 14 item 3: ``silence add`` and ``tail`` refuse names the hub does not know.

A typo in a hazard, zone, device or incident used to answer ``silence N added`` (or
a ``tail`` that shows nothing): the operator then believes something is silenced or
watched. Our console script runs as a subprocess on a real SQLite store; names come
from hub.toml's topology, the device registry and what the store has received.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.support.processes import script
from tests.unit.test_store_listing import store_of

pytestmark = pytest.mark.integration


@pytest.fixture
def config(tmp_path: Path) -> Path:
    # Given a store that received alerts from edge-north-main-1 and edge-south-1
    # (zones north-main-1, south-1): INC-1 and INC-2; a registry with edge-north-9;
    # a topology naming "north"
    store_of(tmp_path / "hub.db", ["north-main-1", "south-1"]).close()
    (tmp_path / "devices.toml").write_text('[devices.edge-north-9]\nzone = "north-main-9"\n')
    path = tmp_path / "hub.toml"
    path.write_text(f'[store]\npath = "{tmp_path / "hub.db"}"\n'
                    '[security]\nregistry = "devices.toml"\n'
                    '[zones.north-main-1]\nparent = "north"\n')
    return path


def hub(config: Path, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run([script("lifeline-hub"), *args, "--config", str(config)],
                          capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "NO_COLOR": "1", "LIFELINE_OPERATOR": "alice"})


def silences(config: Path) -> list[tuple[object, ...]]:
    listed = json.loads(hub(config, "silence", "list", "--json").stdout)
    return [(s["zone"], s["device"], s["hazard"], s["incident"]) for s in listed]


@pytest.mark.parametrize(("flag", "value", "said"), [
    ("--hazard", "fire", "--hazard fire: not a hazard; one of water, gas, structure, "
                         "maintenance, device"),
    ("--hazard", "gass", "did you mean 'gas'?"),
    ("--zone", "nrth", "--zone nrth: no zone of that name in hub.toml's [zones], the device "
                       "registry or anything the hub has received; did you mean 'north'?"),
    ("--zone", "south1", "did you mean 'south-1'?"),  # seen only in the store's alerts
    ("--device", "edge-nort-9", "did you mean 'edge-north-9'?"),  # the registry's
    ("--device", "edge-suoth-1", "did you mean 'edge-south-1'?"),  # seen only in the store
])
def test_a_silence_naming_nothing_known_is_refused_with_a_suggestion(
        config: Path, flag: str, value: str, said: str) -> None:
    # When an operator silences a misspelt name
    done = hub(config, "silence", "add", flag, value, "--for", "2h", "--comment", "works")
    # Then it is a bad command line (2), the message suggests the name, and nothing is added
    assert done.returncode == 2, done.stdout
    assert said in done.stderr and done.stderr.startswith("lifeline-hub silence: ")
    assert done.stdout == "" and silences(config) == []


def test_an_unknown_incident_is_refused_and_known_names_are_accepted(config: Path) -> None:
    # When the incident does not exist: it cannot be carried out (1, like `incidents show`)
    done = hub(config, "silence", "add", "--incident", "INC-55", "--for", "2h",
               "--comment", "works")
    assert done.returncode == 1
    assert done.stderr.strip() == ("lifeline-hub silence: --incident INC-55: there is no "
                                   "incident INC-55; the newest are INC-2, INC-1 "
                                   "(`lifeline-hub incidents` lists them)")
    assert silences(config) == []
    # And names the hub knows from each source are accepted
    for args in (["--zone", "north"], ["--zone", "south-1"], ["--device", "edge-north-9"],
                 ["--device", "edge-south-1", "--hazard", "water"], ["--incident", "INC-2"]):
        assert hub(config, "silence", "add", *args, "--for", "1h", "--comment", "ok"
                   ).returncode == 0, args
    # And --force accepts a zone or a device not seen yet (a board being installed)
    assert hub(config, "silence", "add", "--zone", "west-9", "--force", "--for", "1h",
               "--comment", "new board").returncode == 0
    assert hub(config, "silence", "add", "--hazard", "fire", "--force", "--for", "1h",
               "--comment", "x").returncode == 2  # a hazard is never forced
    assert silences(config) == [("north", None, None, None), ("south-1", None, None, None),
                                (None, "edge-north-9", None, None),
                                (None, "edge-south-1", "water", None),
                                (None, None, None, "INC-2"), ("west-9", None, None, None)]


def test_silence_and_tail_give_the_same_exit_status_for_a_bad_duration(config: Path) -> None:
    silence = hub(config, "silence", "add", "--zone", "north", "--for", "2x",
                  "--comment", "works")
    tail = hub(config, "tail", "--since", "2x")
    assert (silence.returncode, tail.returncode) == (2, 2)
    assert "--for: '2x' is not a duration like 30s, 10m, 2h or 1d" in silence.stderr
    assert "--since: '2x' is not a duration like 30s, 10m, 2h or 1d" in tail.stderr


@pytest.mark.parametrize(("flag", "value", "said"), [
    ("--hazard", "fire", "--hazard fire: not a hazard"),
    ("--zone", "nrth", "did you mean 'north'?"),
    ("--device", "edge-nort-9", "did you mean 'edge-north-9'?"),
])
def test_tail_refuses_a_filter_that_would_show_nothing(config: Path, flag: str, value: str,
                                                       said: str) -> None:
    # When tail is asked to follow a misspelt name, Then it stops at once (it would wait
    # forever, silently), exit status 2, with the suggestion
    done = hub(config, "tail", flag, value, timeout=20)
    assert done.returncode == 2 and said in done.stderr
