"""Revoking a device takes effect while everything runs (issue 13, item 3).

The hub re-reads the device registry within a second of the file changing and at once on
SIGHUP, and refuses a revoked device; ``revoke-device`` also removes its broker password and
signs a CRL the shipped broker honours after a reload. Real Mosquitto with the shipped config,
our console scripts as subprocesses.
"""

from __future__ import annotations

import signal
import subprocess
import tomllib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hub.desk.provision import provision_device, revoke
from lifeline import wire
from lifeline.grades import Grade
from lifeline.mqtt_security import MqttSecurity
from tests.integration import test_security_hub
from tests.integration.test_security_broker import connect
from tests.integration.test_security_hub import BOUND_S, ZONE, Site, alert, incidents
from tests.support.processes import running, script, wait_for
from tests.support.secure_broker import SecureBroker

pytestmark = pytest.mark.integration
site = test_security_hub.site  # the fixture: a secure broker, edge-a registered, a hub.toml


def alert_counts(site: Site) -> list[int]:
    return sorted(i["alert_count"] for i in incidents(site.hub_toml))


def test_a_device_removed_from_the_registry_is_refused_after_sighup(site: Site) -> None:
    log = site.tmp / "hub.log"
    site.registry.write_text(f'[devices.edge-a]\nzone = "{ZONE}"\n\n'
                             '[devices.edge-b]\nzone = "south"\n')
    with running("lifeline-hub", ["run", "--config", str(site.hub_toml)], log) as hub:
        wait_for(lambda: log.exists() and "subscribed to" in log.read_text(), BOUND_S,
                 "the hub to subscribe")
        b = site.device("edge-b")
        # Given edge-b's alert became an incident
        b.publish(wire.alert_topic("edge-b"), wire.encode(alert("edge-b", "south")))
        wait_for(lambda: alert_counts(site) == [1], BOUND_S, "edge-b's incident")
        # When an operator deletes edge-b from devices.toml and sends SIGHUP
        site.registry.write_text(f'[devices.edge-a]\nzone = "{ZONE}"\n')
        hub.send_signal(signal.SIGHUP)
        wait_for(lambda: "device registry" in log.read_text()
                 and "removed: edge-b" in log.read_text(), BOUND_S, "the registry re-read")
        # Then edge-b's next alert -- a red one -- is refused, never fused
        b.publish(wire.alert_topic("edge-b"), wire.encode(alert("edge-b", "south", n=2,
                                                                grade=Grade.RED)))
        wait_for(lambda: "reason=unknown_device" in log.read_text(), BOUND_S,
                 "edge-b's alert to be refused")
        assert alert_counts(site) == [1]
        b.close()


def test_revoke_device_takes_effect_within_seconds_without_a_signal(site: Site) -> None:
    log = site.tmp / "hub.log"
    with running("lifeline-hub", ["run", "--config", str(site.hub_toml)], log):
        wait_for(lambda: log.exists() and "subscribed to" in log.read_text(), BOUND_S,
                 "the hub to subscribe")
        a = site.device("edge-a")
        a.publish(wire.alert_topic("edge-a"), wire.encode(alert()))
        wait_for(lambda: alert_counts(site) == [1], BOUND_S, "edge-a's incident")
        # When an operator revokes edge-a with the CLI (its session at the broker still up)
        done = subprocess.run(
            [script("lifeline-hub"), "revoke-device", "edge-a", "--why", "board stolen",
             "--config", str(site.hub_toml),
             "--mosquitto-passwd", str(site.broker.workdir / "passwd")],
            capture_output=True, timeout=BOUND_S, check=False)
        assert done.returncode == 0, done.stderr.decode()
        # Then the registry lists it as revoked, and its broker password is gone
        registry = tomllib.loads(site.registry.read_text())
        assert "edge-a" not in registry.get("devices", {})
        assert registry["revoked"]["edge-a"]["why"] == "board stolen"
        assert "edge-a:" not in (site.broker.workdir / "passwd").read_text()
        # And the hub re-reads the registry within seconds, with no signal
        wait_for(lambda: "newly revoked: edge-a" in log.read_text(), BOUND_S,
                 "the hub to see the revocation")
        # And from then on its alerts are refused as revoked
        for n in range(2, 5):
            a.publish(wire.alert_topic("edge-a"), wire.encode(alert(n=n, grade=Grade.RED)))
        wait_for(lambda: "reason=revoked_device" in log.read_text(), BOUND_S,
                 "edge-a's alerts to be refused as revoked")
        assert alert_counts(site) == [1]
        # And after the broker reloads its password file, edge-a cannot log in again
        site.broker.reload()
        a.close()
        again = connect(site.broker, MqttSecurity(ca_file=site.broker.ca_file, username="edge-a",
                                                  password_file=site.secret_file("edge-a")))
        assert not again.wait_connected()
        again.close()


@pytest.mark.filterwarnings("ignore::ResourceWarning")  # paho leaves the failed TLS socket
def test_a_revoked_certificate_is_refused_by_the_broker_after_a_reload(tmp_path: Path) -> None:
    # Given the shipped broker requiring client certificates (crlfile: make-ca's empty CRL)
    broker = SecureBroker(tmp_path / "broker", require_certificate=True)
    broker.start()
    try:
        registry, out = tmp_path / "devices.toml", tmp_path / "out"
        provision_device("edge-east-2", "east", registry=registry, out_dir=out,
                         auth="certificate", now=datetime.now(UTC), broker_host="localhost",
                         broker_port=broker.port, ca_dir=broker.workdir, edge_dir=out)
        settings = MqttSecurity(ca_file=broker.ca_file, cert_file=out / "edge-east-2.crt",
                                key_file=out / "edge-east-2.key")
        first = connect(broker, settings)
        assert first.wait_connected(), first.connect_code or first.error
        first.close()
        # When it is revoked with the CA, and the broker reloads
        done = revoke("edge-east-2", registry=registry, now=datetime.now(UTC),
                      ca_dir=broker.workdir, crl_file=broker.workdir / "crl.pem")
        assert done.crl == broker.workdir / "crl.pem" and done.certificate_serial
        broker.reload()
        # Then the certificate no longer logs in
        again = connect(broker, settings)
        assert not again.wait_connected()
        again.close()
    finally:
        broker.stop()
