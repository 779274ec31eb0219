"""Issue 14 items 4, 7, 8: the command lines as a technician installing Lifeline meets them.

Our console scripts run as subprocesses: one spelling of ``--config`` before and after
the subcommand, default configuration paths from ``$LIFELINE_*_CONFIG`` (else
/etc/lifeline), ``--version``, ``lifeline-hub check-config``, bash completion, and
journald-shaped log lines when systemd's journal reads stderr.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
from importlib import metadata
from pathlib import Path

import pytest

from tests.support.processes import running, script, wait_for

pytestmark = pytest.mark.integration

EDGE = """
[device]
id = "edge-north-1"
zone = "north"
state_dir = "{state}"

[mqtt]
host = "127.0.0.1"
port = {port}

[[sensors]]
id = "main-pressure"
kind = "{kind}"
driver = "lines"
port = "{state}/no-such-port"
baudrate = 115200
columns = ["pressure_kpa"]
"""

HUB = """
[store]
path = "hub.db"

[rules.water]
signature = ["water.presure", "water.flow"]
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def edge_toml(tmp_path: Path, kind: str = "water.pressure") -> Path:
    path = tmp_path / "edge.toml"
    path.write_text(EDGE.format(state=tmp_path, port=free_port(), kind=kind))
    return path


def run(name: str, *args: str, env: dict[str, str] | None = None
        ) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items()
             if k not in ("LIFELINE_HUB_CONFIG", "LIFELINE_EDGE_CONFIG", "JOURNAL_STREAM")}
    return subprocess.run([script(name), *args], capture_output=True, text=True, timeout=60,
                          env={**clean, **(env or {})})


# -- item 7: one spelling of --config, defaults, --version --------------------------------
@pytest.mark.parametrize("argv", [
    ["check-config", "{edge}"],                   # as before
    ["check-config", "--config", "{edge}"],       # refused before
    ["--config", "{edge}", "check-config"],
    ["--log-level", "DEBUG", "check-config", "{edge}"],  # as before
    ["check-config", "{edge}", "--log-level", "DEBUG"],
])
def test_edge_check_config_takes_config_and_log_level_anywhere(tmp_path: Path,
                                                               argv: list[str]) -> None:
    edge = edge_toml(tmp_path)
    done = run("lifeline-edge", *[a.format(edge=edge) for a in argv])
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"{edge}: ok: device edge-north-1 in zone north, 1 sensor(s)")


@pytest.mark.parametrize("argv", [
    ["incidents", "--config", "{hub}"],                  # as before
    ["incidents", "list", "--config", "{hub}"],          # as before
    ["--config", "{hub}", "incidents"],
    ["--config", "{hub}", "incidents", "list", "--log-level", "DEBUG"],
    ["--log-level", "DEBUG", "incidents", "--config", "{hub}"],
])
def test_hub_takes_config_and_log_level_before_and_after_the_command(tmp_path: Path,
                                                                    argv: list[str]) -> None:
    hub = tmp_path / "hub.toml"
    hub.write_text(HUB)
    done = run("lifeline-hub", *[a.format(hub=hub) for a in argv])
    assert (done.returncode, done.stdout) == (0, "no incidents\n"), done.stderr


def test_edge_run_takes_log_level_after_the_command(tmp_path: Path) -> None:
    # Given a config file that does not exist, `run --log-level DEBUG` is parsed (it used to
    # be refused: unrecognized arguments) and fails on the file, as a configuration error
    done = run("lifeline-edge", "run", "--log-level", "DEBUG", "--config",
               str(tmp_path / "missing.toml"))
    assert done.returncode == 2
    assert done.stderr.strip() == f"{tmp_path / 'missing.toml'}: (file): the file does not exist"


def test_the_configuration_defaults_to_the_environment_then_etc(tmp_path: Path) -> None:
    edge = edge_toml(tmp_path)
    hub = tmp_path / "hub.toml"
    hub.write_text(HUB)
    # When no --config is given, the variable names the file
    done = run("lifeline-edge", "check-config", env={"LIFELINE_EDGE_CONFIG": str(edge)})
    assert done.returncode == 0 and done.stdout.startswith(f"{edge}: ok:")
    done = run("lifeline-hub", "silence", "list", env={"LIFELINE_HUB_CONFIG": str(hub)})
    assert (done.returncode, done.stdout) == (0, "no silences\n")
    # And --config still wins over it
    done = run("lifeline-hub", "check-config", "--config", str(hub),
               env={"LIFELINE_HUB_CONFIG": str(tmp_path / "other.toml")})
    assert done.returncode == 0, done.stderr
    # And without either, /etc/lifeline/*.toml, which a message names when it is missing
    if Path("/etc/lifeline").exists():
        pytest.skip("this machine has /etc/lifeline")
    done = run("lifeline-hub", "incidents")
    assert done.returncode == 2
    assert done.stderr == ("lifeline-hub incidents: no --config given, and "
                           "/etc/lifeline/hub.toml (the default) does not exist; pass --config "
                           "FILE or set $LIFELINE_HUB_CONFIG\n")
    done = run("lifeline-edge", "run")
    assert done.returncode == 2 and "/etc/lifeline/edge.toml (the default)" in done.stderr


def test_both_command_lines_print_their_version() -> None:
    wanted = metadata.version("lifeline")
    for name in ("lifeline-hub", "lifeline-edge"):
        done = run(name, "--version")
        assert (done.returncode, done.stdout) == (0, f"{name} {wanted}\n")


# -- item 7 and 4: lifeline-hub check-config -----------------------------------------------
def test_hub_check_config_validates_and_warns_about_kinds_no_edge_sends(tmp_path: Path) -> None:
    hub = tmp_path / "hub.toml"
    hub.write_text(HUB)
    # When the hub's file is checked before the hub is started (no store is created)
    done = run("lifeline-hub", "check-config", "--config", str(hub))
    # Then it says what the hub would run with, and warns about the signature's typo
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == (f"{hub}: ok: store {tmp_path / 'hub.db'}, 0 zone(s), 1 rule table(s), "
                        "0 route(s); no registry")
    assert ("  warning: rules.water.signature: 'water.presure' is not a known kind (did you "
            "mean 'water.pressure'?); only alerts of exactly that kind match it") in lines
    assert not any("water.flow" in line for line in lines[1:])
    assert not (tmp_path / "hub.db").exists()
    # And a broken file is a configuration error, file: key: problem, exit status 2
    hub.write_text('[store]\npaht = "hub.db"\n')
    done = run("lifeline-hub", "--config", str(hub), "check-config")
    assert done.returncode == 2
    assert done.stderr == (f"{hub}: store.paht: is not a valid option for [store]; did you "
                           "mean 'path'?\n")


# -- item 4: the edge refuses a misspelt kind --------------------------------------------
def test_edge_refuses_a_kind_one_typo_from_a_known_one(tmp_path: Path) -> None:
    done = run("lifeline-edge", "check-config", str(edge_toml(tmp_path, "water.presure")))
    assert done.returncode == 2
    assert re.search(r"edge.toml:\d+: sensors\['main-pressure'\]\.kind: 'water.presure' is "
                     r"not a known kind; did you mean 'water.pressure'\?\n$", done.stderr)
    # A quantity like no known one is a new kind of sensor: accepted, with a warning
    done = run("lifeline-edge", "check-config", str(edge_toml(tmp_path, "water.nitrate")))
    assert done.returncode == 0, done.stderr
    assert "  warning: sensors['main-pressure'].kind: 'water.nitrate' is not a known water " \
           "kind" in done.stdout


# -- item 7: bash completion -------------------------------------------------------------
def complete(name: str, line: str) -> list[str]:
    """What bash offers for ``line`` (the last word being completed), with the script the
    command prints sourced in a real bash."""
    program = f"""
source <({script(name)} completion bash)
COMP_WORDS=({line})
COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ))
[[ "{line}" == *" " ]] && COMP_WORDS+=("") && COMP_CWORD=$(( COMP_CWORD + 1 ))
_{name.replace('-', '_')}
printf '%s\\n' "${{COMPREPLY[@]}}"
"""
    done = subprocess.run(["bash", "-c", program], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PATH": f"{Path(script(name)).parent}:"
                                                     f"{os.environ['PATH']}"})
    assert done.returncode == 0, done.stderr
    return [w for w in done.stdout.splitlines() if w]


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_bash_completion_offers_commands_actions_options_and_values() -> None:
    assert complete("lifeline-hub", "lifeline-hub sil") == ["silence"]
    assert complete("lifeline-hub", "lifeline-hub --config hub.toml inc") == ["incidents"]
    assert complete("lifeline-hub", "lifeline-hub silence ") == [
        "add", "list", "expire", "--config", "--help", "--log-level"]
    assert complete("lifeline-hub", "lifeline-hub silence add --for 2h --fo") == [
        "--for", "--force"]
    assert complete("lifeline-hub", "lifeline-hub tail --min-grade o") == ["orange"]
    assert complete("lifeline-hub", "lifeline-hub silence add --hazard m") == ["maintenance"]
    assert complete("lifeline-hub", "lifeline-hub che") == ["check-config"]
    assert complete("lifeline-edge", "lifeline-edge check-config --j") == ["--json"]
    assert complete("lifeline-edge", "lifeline-edge pr") == ["probe"]


# -- item 8: journald -------------------------------------------------------------------
def _both(text: str) -> str | None:
    return text if "port error" in text and "edge agent starting" in text else None


LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (WARNING|INFO) ")


@pytest.mark.parametrize("journal", [True, False])
def test_under_systemd_lines_carry_a_priority_and_no_timestamp(
        tmp_path: Path, journal: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given an edge agent whose sensor port is missing and whose broker is down (it logs
    # INFO at start, then WARNINGs), with stderr a file systemd's journal would be reading
    edge = edge_toml(tmp_path)
    log = tmp_path / "edge.log"
    log.touch()
    found = os.stat(log)
    monkeypatch.delenv("JOURNAL_STREAM", raising=False)
    if journal:
        monkeypatch.setenv("JOURNAL_STREAM", f"{found.st_dev}:{found.st_ino}")
    with running("lifeline-edge", ["run", "--config", str(edge)], log):
        text = wait_for(lambda: _both(log.read_text()), 30, "the agent's lines")
    lines = text.splitlines()
    starting = next(line for line in lines if "edge agent starting" in line)
    port = next(line for line in lines if "port error" in line)
    if journal:
        # Then each line starts with its syslog priority, as sd-daemon(3) says, and has no
        # timestamp of its own (journald stamps it): `journalctl -p warning` can filter
        assert starting.startswith("<6>INFO edge.agent: edge agent starting device=edge-north-1")
        assert port.startswith("<4>WARNING edge.drivers.stream: port error sensor=main-pressure")
        assert all(re.match(r"^<[2-7]>", line) for line in lines)
    else:
        # And outside systemd, as always
        assert LOG_LINE.match(starting) and LOG_LINE.match(port)


def test_the_hub_logs_the_same_way_under_systemd(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the hub with no broker to reach (a warning, retried), stderr the journal's
    hub = tmp_path / "hub.toml"
    hub.write_text(f'[mqtt]\nport = {free_port()}\n[store]\npath = "hub.db"\n')
    log = tmp_path / "hub.log"
    log.touch()
    found = os.stat(log)
    monkeypatch.setenv("JOURNAL_STREAM", f"{found.st_dev}:{found.st_ino}")
    with running("lifeline-hub", ["run", "--config", str(hub)], log):
        text = wait_for(lambda: (lambda t: t if "cannot reach broker" in t else None)(
            log.read_text()), 30, "the hub's warning")
    # Then its lines carry priorities too: the one set-up both command lines share
    lines = text.splitlines()
    assert any(line.startswith("<6>INFO hub.service.run: hub starting") for line in lines)
    assert any(line.startswith("<4>WARNING hub.service.run: cannot reach broker") for line in lines)
    assert all(re.match(r"^<[2-7]>", line) for line in lines)
