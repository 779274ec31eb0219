"""The systemd units in hardware/systemd pass ``systemd-analyze verify`` and say what they promise.

``systemd-analyze verify`` checks that ExecStart= and ExecReload= binaries
exist. They live in /opt/lifeline/venv on a board, not on a test machine, so
each unit is copied into a temporary directory with only the
``/opt/lifeline/venv/bin/`` prefix rewritten to a directory of small stub
scripts named like the real console scripts; every other line is verified as
shipped. A second test proves the check has teeth: ``verify`` exits 0 even on
an unknown key or a bad value, so the test also fails on any line of output
that names the unit.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
UNITS_DIR = REPO / "hardware" / "systemd"
VENV_BIN = "/opt/lifeline/venv/bin/"
UNITS = {
    "lifeline-edge.service": ("lifeline-edge", "edge.toml", "lifeline", "lifeline-edge"),
    "lifeline-hub.service": ("lifeline-hub", "hub.toml", "lifeline-hub", "lifeline-hub"),
}  # unit -> (console script, config file, User=, StateDirectory=)


def systemd_analyze() -> str:
    path = shutil.which("systemd-analyze") or (
        "/usr/bin/systemd-analyze" if Path("/usr/bin/systemd-analyze").exists() else None)
    if path is None:
        pytest.fail("systemd-analyze is not installed; install it with "
                    "`apt-get install systemd` (make test does this)")
    return path


def staged_copy(unit: str, tmp_path: Path) -> Path:
    """The unit with only the venv prefix pointed at stub scripts in ``tmp_path``."""
    bin_dir = tmp_path / "venv-bin"
    bin_dir.mkdir(exist_ok=True)
    for script, *_ in UNITS.values():
        stub = bin_dir / script
        stub.write_text("#!/bin/sh\nexit 0\n")
        stub.chmod(0o755)
    text = (UNITS_DIR / unit).read_text()
    assert VENV_BIN in text, f"{unit}: ExecStart= no longer uses {VENV_BIN}"
    staged = tmp_path / "units" / unit
    staged.parent.mkdir(exist_ok=True)
    staged.write_text(text.replace(VENV_BIN, f"{bin_dir}/"))
    return staged


def verify(unit_file: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [systemd_analyze(), "verify", "--man=no", unit_file.name],
        cwd=unit_file.parent, capture_output=True, text=True, timeout=60, check=False)


def lines_about(result: subprocess.CompletedProcess[str], unit: str) -> list[str]:
    return [line for line in (result.stdout + result.stderr).splitlines() if unit in line]


def directives(unit: str) -> dict[str, dict[str, list[str]]]:
    """Section -> key -> every value given (systemd keys may repeat)."""
    parsed: dict[str, dict[str, list[str]]] = {}
    section = ""
    for raw in (UNITS_DIR / unit).read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            parsed.setdefault(section, {})
            continue
        key, _, value = line.partition("=")
        parsed[section].setdefault(key.strip(), []).append(value.strip())
    return parsed


@pytest.mark.parametrize("unit", sorted(UNITS))
def test_unit_passes_systemd_analyze_verify(unit: str, tmp_path: Path) -> None:
    # Given the shipped unit, with only the venv prefix pointed at stub scripts
    staged = staged_copy(unit, tmp_path)
    # When systemd-analyze verifies it
    result = verify(staged)
    # Then it exits 0 and says nothing about the unit (no unknown keys, no bad values)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert lines_about(result, unit) == [], output


def test_verify_catches_a_broken_unit(tmp_path: Path) -> None:
    # Given the edge unit with a misspelt key and an invalid value
    staged = staged_copy("lifeline-edge.service", tmp_path)
    broken = staged.with_name("lifeline-broken.service")
    broken.write_text(staged.read_text()
                      .replace("ProtectSystem=strict", "ProtectSystem=stric")
                      .replace("\nType=notify", "\nTypo=notify"))
    # When systemd-analyze verifies it
    result = verify(broken)
    # Then the problems appear as lines naming the unit, whatever the exit code
    problems = "\n".join(lines_about(result, "lifeline-broken.service"))
    assert "Typo" in problems
    assert "stric" in problems


@pytest.mark.parametrize("unit", sorted(UNITS))
def test_unit_states_the_service_contract(unit: str) -> None:
    # Given the shipped unit, parsed section by section
    script, config, user, state_dir = UNITS[unit]
    service = directives(unit)["Service"]
    # Then it holds the service to issue 6's promises and issue 7's hardening
    expected = {
        "Type": ["notify"],
        "NotifyAccess": ["main"],
        "WatchdogSec": ["30s"],
        "Restart": ["always"],
        "StateDirectory": [state_dir],
        "User": [user],
        "NoNewPrivileges": ["yes"],
        "ProtectSystem": ["strict"],
        "ProtectHome": ["yes"],
        "PrivateTmp": ["yes"],
        "RestrictAddressFamilies": ["AF_UNIX AF_INET AF_INET6"],
        "ExecStart": [f"{VENV_BIN}{script} run --config /etc/lifeline/{config}"],
    }
    assert {key: service.get(key) for key in expected} == expected
    assert service["ExecReload"][-1] == "/bin/kill -HUP $MAINPID"
    assert "MemoryMax" in service


def test_edge_reaches_serial_ports_and_nothing_else() -> None:
    # Given the edge unit
    service = directives("lifeline-edge.service")["Service"]
    # Then it is in the dialout group, with a closed device policy that allows serial ttys
    assert service["SupplementaryGroups"] == ["dialout"]
    assert service["DevicePolicy"] == ["closed"]
    allowed = {value.split()[0] for value in service["DeviceAllow"]}
    assert {"char-ttyUSB", "char-ttyAMA", "char-ttyS"} <= allowed
    assert all(value.split()[1] == "rw" for value in service["DeviceAllow"])

