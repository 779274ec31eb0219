"""Provisioning in the documented order, each step re-runnable (issue 14 item 5).

Our console scripts as subprocesses; real certificates and mosquitto_passwd.
"""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hub.desk.provision import ProvisionError, certificate_names, provision_device
from hub.registry import load_registry
from tests.support.processes import script

pytestmark = pytest.mark.integration

HUB_TOML = """
[store]
path = "{root}/hub.db"

[security]
registry = "{root}/devices.toml"

[mqtt]
host = "broker.example"
port = 8883
ca_file = "{root}/ca/ca.crt"
cert_file = "{root}/ca/hub.crt"
key_file = "{root}/ca/hub.key"
"""


def make_ca(root: Path, *names: str, force: bool = False) -> subprocess.CompletedProcess[str]:
    argv = [script("lifeline-hub"), "make-ca", "--config", str(root / "hub.toml"),
            "--out", str(root / "ca")]
    for name in names:
        argv += ["--broker-name", name]
    return subprocess.run(argv + (["--force"] if force else []), capture_output=True, text=True,
                          timeout=60)


def test_make_ca_after_hub_toml_then_again_then_with_a_new_broker_name(tmp_path: Path) -> None:
    # Given hub.toml written first, as install.md does, naming CA files that do not exist yet
    (tmp_path / "hub.toml").write_text(HUB_TOML.format(root=tmp_path))
    # When make-ca runs
    first = make_ca(tmp_path, "broker.example")
    # Then it works (it reads nothing of hub.toml) and writes the CA and certificates
    assert first.returncode == 0, first.stderr
    ca = (tmp_path / "ca" / "ca.crt").read_bytes()
    hub_crt = (tmp_path / "ca" / "hub.crt").read_bytes()
    # When it runs again, as written: nothing changes and it says so
    again = make_ca(tmp_path, "broker.example")
    assert again.returncode == 0, again.stderr
    assert "kept the existing CA" in again.stdout and "kept broker.crt" in again.stdout
    assert (tmp_path / "ca" / "ca.crt").read_bytes() == ca
    # When a broker name is added later, without --force
    more = make_ca(tmp_path, "broker.example", "10.0.0.5")
    # Then the CA (and every certificate it signed) stays; the broker's covers both names
    assert more.returncode == 0, more.stderr
    assert (tmp_path / "ca" / "ca.crt").read_bytes() == ca
    assert (tmp_path / "ca" / "hub.crt").read_bytes() == hub_crt
    assert certificate_names((tmp_path / "ca" / "broker.crt").read_bytes()) >= {
        "broker.example", "10.0.0.5"}
    # And --force still starts over with a new CA
    assert make_ca(tmp_path, "broker.example", force=True).returncode == 0
    assert (tmp_path / "ca" / "ca.crt").read_bytes() != ca


def test_provision_device_retried_after_mosquitto_passwd_failed(tmp_path: Path) -> None:
    registry, out = tmp_path / "devices.toml", tmp_path / "out"
    common = dict(registry=registry, out_dir=out, auth="password", now=datetime.now(UTC),
                  broker_host="localhost", broker_port=8883, edge_dir=out)
    # Given a first attempt whose broker password file cannot be written
    with pytest.raises(ProvisionError, match="mosquitto_passwd failed"):
        provision_device("edge-north-1", "north", passwd_file=tmp_path / "no-dir" / "passwd",
                         **common)  # type: ignore[arg-type]
    # Then it left no password behind and registered nothing
    assert not (out / "edge-north-1.password").exists()
    assert "edge-north-1" not in load_registry(registry).devices
    # When it is retried with a writable password file
    passwd = tmp_path / "passwd"
    passwd.touch(mode=0o600)
    provision_device("edge-north-1", "north", passwd_file=passwd, **common)  # type: ignore[arg-type]
    # Then it succeeds: registered, a password file, and the broker knows the user
    assert load_registry(registry).devices["edge-north-1"].zone == "north"
    assert (out / "edge-north-1.password").exists()
    assert passwd.read_text().startswith("edge-north-1:")
