"""The operator's desk starts without the hub's service, MQTT, TLS or crypto modules (issue 8:
``incidents list|show`` in ≤ 100 ms as whole processes). Each command runs in a fresh
interpreter, which then reports what it imported."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from hub.store import Store

# Modules that cost tens of ms and that no desk command needs (paho, ssl and cryptography:
# the network and certificates; the service, ingest and fusion: `lifeline-hub run`).
HEAVY = ("paho", "ssl", "_ssl", "cryptography", "numpy", "hub.service.run", "hub.service.ingest",
         "hub.core.fusion", "hub.core.grading", "hub.desk.provision", "hub.desk.tailing",
         "hub.service.routing", "hub.service.webhook")

PROBE = """
import json, sys
from hub.cli import main
code = main(sys.argv[1:])
sys.stdout.flush()
print("MODULES " + json.dumps(sorted(sys.modules)), file=sys.stderr)
sys.exit(code)
"""


def imported(*argv: str) -> tuple[int, set[str]]:
    done = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True,
                          text=True, timeout=60)
    [line] = [x for x in done.stderr.splitlines() if x.startswith("MODULES ")]
    return done.returncode, set(json.loads(line.removeprefix("MODULES ")))


def heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in HEAVY or m in HEAVY)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    Store.open_writer(tmp_path / "hub.db").close()
    path = tmp_path / "hub.toml"
    path.write_text(f'[store]\npath = "{tmp_path / "hub.db"}"\n')
    return path


def test_importing_the_cli_imports_no_subcommand() -> None:
    # When the module is imported, nothing but the table of subcommands is loaded
    done = subprocess.run([sys.executable, "-c", "import json, sys, hub.cli; "
                           "print(json.dumps(sorted(sys.modules)))"],
                          capture_output=True, text=True, timeout=60, check=True)
    modules = set(json.loads(done.stdout))
    assert heavy(modules) == []
    assert not {"hub.config", "hub.desk.commands", "hub.store", "sqlite3"} & modules


@pytest.mark.parametrize("argv", [
    ["incidents"],
    ["incidents", "list", "--json"],
    ["incidents", "list", "--status", "open", "--all"],
    ["incidents", "show", "INC-1"],
    ["silence", "list"],
    ["status"],
])
def test_desk_commands_never_import_the_service_mqtt_or_tls(config: Path,
                                                            argv: list[str]) -> None:
    # Given a store, when a desk command runs in a fresh interpreter
    code, modules = imported(*argv, "--config", str(config))
    # Then it did its job (show: there is no incident 1, exit 1) without the heavy modules
    assert code == (1 if "show" in argv else 0)
    assert "hub.desk.commands" in modules
    assert heavy(modules) == []


def test_tail_imports_its_own_modules_and_not_the_service(config: Path) -> None:
    # --help is enough to build tail's parser; running it would follow the store forever
    code, modules = imported("tail", "--help")
    assert code == 0
    assert not {"hub.service.run", "hub.service.ingest", "hub.core.fusion", "paho", "ssl"} & modules
