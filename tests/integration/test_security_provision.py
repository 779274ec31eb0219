"""Provisioning: credentials that work against the shipped broker config, a registry entry,
secret files of mode 0600, and an edge.toml snippet without the secret."""

from __future__ import annotations

import stat
import tomllib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hub.desk.provision import ProvisionError, make_ca, provision_device, write_private
from hub.registry import load_registry
from lifeline import wire
from lifeline.mqtt_security import MqttSecurity
from tests.integration.test_security_broker import connect
from tests.support.secure_broker import SecureBroker

pytestmark = pytest.mark.integration


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[SecureBroker]:
    instance = SecureBroker(tmp_path / "broker")
    instance.start()
    yield instance
    instance.stop()


def test_a_provisioned_device_can_publish_with_its_password(
        broker: SecureBroker, tmp_path: Path) -> None:
    # Given a hub with a registry and the broker's password file
    registry, out = tmp_path / "devices.toml", tmp_path / "out"
    # When a device is provisioned with a password
    done = provision_device("edge-north-1", "north", registry=registry, out_dir=out,
                            auth="password", now=datetime.now(UTC), broker_host="localhost",
                            broker_port=broker.port, passwd_file=broker.workdir / "passwd",
                            edge_dir=out)
    broker.reload()
    # Then its secret file is 0600 and the snippet names it but does not contain it
    secret = out / "edge-north-1.password"
    assert done.files == (secret,)
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    password = secret.read_text().strip()
    assert len(password) >= 40 and password not in done.snippet
    snippet = tomllib.loads(done.snippet)
    assert snippet["device"] == {"id": "edge-north-1", "zone": "north"}
    assert snippet["mqtt"]["username"] == "edge-north-1"
    assert snippet["mqtt"]["password_file"] == str(secret)
    assert password not in (broker.workdir / "passwd").read_text()  # only a hash there
    # and the device is registered in its zone
    assert load_registry(registry).devices["edge-north-1"].zone == "north"
    # and the credentials work against the shipped broker config, for its own topic only
    (out / "ca.crt").write_bytes(broker.ca.cert_pem)
    device = connect(broker, MqttSecurity(ca_file=out / "ca.crt", username="edge-north-1",
                                          password_file=secret))
    assert device.wait_connected(), device.connect_code or device.error
    assert device.publish(wire.alert_topic("edge-north-1"), b"x") == "No matching subscribers"
    assert device.publish(wire.alert_topic("edge-other"), b"x") == "Not authorized"
    device.close()


def test_a_provisioned_certificate_is_signed_by_the_project_ca(tmp_path: Path) -> None:
    # Given a project CA made like make-ca does
    ca_dir = tmp_path / "ca"
    ca = make_ca("Lifeline project CA", datetime.now(UTC))
    ca_dir.mkdir()
    (ca_dir / "ca.crt").write_bytes(ca.cert_pem)
    write_private(ca_dir / "ca.key", ca.key_pem)
    broker = SecureBroker(tmp_path / "broker", require_certificate=True, ca_given=ca)
    broker.start()
    try:
        # When a device is provisioned with a certificate
        done = provision_device("edge-east-2", "east", registry=tmp_path / "devices.toml",
                                out_dir=tmp_path / "out", auth="certificate",
                                now=datetime.now(UTC), broker_host="localhost",
                                broker_port=broker.port, ca_dir=ca_dir, edge_dir=tmp_path / "out")
        cert, key = tmp_path / "out" / "edge-east-2.crt", tmp_path / "out" / "edge-east-2.key"
        assert done.files == (cert, key)
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
        assert "PRIVATE KEY" not in done.snippet
        # Then it logs in by certificate alone, as its CN
        device = connect(broker, MqttSecurity(ca_file=ca_dir / "ca.crt", cert_file=cert,
                                              key_file=key))
        assert device.wait_connected(), device.connect_code or device.error
        assert device.publish(wire.alert_topic("edge-east-2"), b"x") == "No matching subscribers"
        assert device.publish(wire.alert_topic("edge-north-1"), b"x") == "Not authorized"
        device.close()
    finally:
        broker.stop()


@pytest.mark.parametrize(("device", "zone", "message"), [
    ("hub", "north", "'hub' is reserved for the hub"),
    ("lifeline-hub", "north", "is reserved for the hub"),
    ("edge/1", "north", "device id 'edge/1' is not valid"),
    ("edge-1", "no rth", "zone 'no rth' is not valid"),
])
def test_bad_ids_are_refused_before_anything_is_written(tmp_path: Path, device: str, zone: str,
                                                        message: str) -> None:
    with pytest.raises(ProvisionError, match=message):
        provision_device(device, zone, registry=tmp_path / "devices.toml", out_dir=tmp_path,
                         auth="password", now=datetime.now(UTC), broker_host="h", broker_port=1,
                         passwd_file=tmp_path / "passwd")
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_provisioning_twice_needs_force(tmp_path: Path) -> None:
    kwargs = dict(registry=tmp_path / "devices.toml", out_dir=tmp_path / "out", auth="password",
                  now=datetime.now(UTC), broker_host="h", broker_port=8883,
                  passwd_file=tmp_path / "passwd")
    provision_device("edge-1", "north", **kwargs)  # type: ignore[arg-type]
    first = (tmp_path / "out" / "edge-1.password").read_text()
    with pytest.raises(ProvisionError, match="already registered .* use --force"):
        provision_device("edge-1", "south", **kwargs)  # type: ignore[arg-type]
    provision_device("edge-1", "south", replace=True, **kwargs)  # type: ignore[arg-type]
    assert (tmp_path / "out" / "edge-1.password").read_text() != first
    assert load_registry(tmp_path / "devices.toml").devices["edge-1"].zone == "south"
    assert (tmp_path / "passwd").read_text().count("edge-1:") == 1
