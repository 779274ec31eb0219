"""The hub and the edge behind the shipped broker config: TLS, passwords, the device registry.

Our console scripts run as subprocesses against a Mosquitto with the shipped
mosquitto.conf and acl (tests/support/secure_broker.py).
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import time
import tomllib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from hub.desk.provision import write_private
from lifeline import wire
from lifeline.grades import Grade
from lifeline.mqtt_security import MqttSecurity
from tests.integration.test_security_broker import Session, connect
from tests.support.processes import cli_json, running, script, wait_for
from tests.support.pty import PtySensor
from tests.support.secure_broker import HUB_USER, SecureBroker

pytestmark = pytest.mark.integration

BOUND_S = 15.0
ZONE = "north"


@dataclass
class Site:
    """A secure broker with devices edge-a (registered in north) and edge-b (broker account
    only), the hub's files, and a hub.toml using them."""

    tmp: Path
    broker: SecureBroker
    hub_toml: Path
    registry: Path

    def secret_file(self, user: str) -> Path:
        path = self.tmp / f"{user}.password"
        if not path.exists():
            write_private(path, f"{self.broker.passwords[user]}\n".encode())
        return path

    def device(self, user: str, *, subscribe: tuple[str, ...] = ()) -> Session:
        session = connect(self.broker, MqttSecurity(ca_file=self.broker.ca_file, username=user,
                                                    password_file=self.secret_file(user)),
                          subscribe=subscribe)
        assert session.wait_connected(), session.connect_code or session.error
        return session

    def all_logs(self) -> str:
        return "".join(p.read_text(errors="replace") for p in self.tmp.glob("*.log"))


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    broker = SecureBroker(tmp_path / "broker")
    for user in ("edge-a", "edge-b", HUB_USER):
        broker.add_user(user, uuid.uuid4().hex)
    broker.start()
    registry = tmp_path / "devices.toml"
    registry.write_text(f'[devices.edge-a]\nzone = "{ZONE}"\n')
    (tmp_path / "ca.crt").write_bytes(broker.ca.cert_pem)
    write_private(tmp_path / "hub.password", f"{broker.passwords[HUB_USER]}\n".encode())
    hub_toml = tmp_path / "hub.toml"
    hub_toml.write_text(f"""
[mqtt]
host = "localhost"
port = {broker.port}
client_id = "hub-{uuid.uuid4().hex[:8]}"
ca_file = "ca.crt"
username = "{HUB_USER}"
password_file = "hub.password"

[store]
path = "hub.db"

[fusion]
quiet_s = 2

[security]
registry = "devices.toml"
""")
    yield Site(tmp_path, broker, hub_toml, registry)
    broker.stop()


def alert(device: str = "edge-a", zone: str = ZONE, n: int = 1, **changes: Any) -> wire.Alert:
    fields: dict[str, Any] = dict(
        id=uuid.uuid4().hex, device=device, zone=zone, sensor="main-pressure",
        channel="pressure_kpa", kind="water.pressure", ts=time.time(), value=180.0, score=1.0,
        grade=Grade.ORANGE, reason=wire.Reason.LIMIT, seq=n, unit="kPa", context=(300.0, 180.0))
    fields.update(changes)
    return wire.Alert(**fields)


def incidents(config: Path) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = cli_json("lifeline-hub", ["incidents", "--config", str(config)])
    return found


def tail(config: Path, *args: str) -> list[str]:
    """The lines of ``tail --from-start --no-follow``: every stored event, then it exits."""
    done = subprocess.run([script("lifeline-hub"), "tail", "--config", str(config),
                           "--from-start", "--no-follow", *args], capture_output=True, text=True,
                          timeout=BOUND_S, env={**os.environ, "NO_COLOR": "1"})
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def acked(session: Session, alert_id: str) -> int:
    """How many times the hub's acks that ``session`` (subscribed to its ack topic) received
    name ``alert_id``: once for each time the alert arrived and was committed."""
    return sum(wire.decode_ack(payload).ids.count(alert_id) for _, payload in list(session.messages))


def test_the_hub_refuses_unknown_and_mismatched_devices_and_shows_them_to_operators(
        site: Site) -> None:
    log = site.tmp / "hub.log"
    with running("lifeline-hub", ["run", "--config", str(site.hub_toml)], log):
        wait_for(lambda: log.exists() and "subscribed to" in log.read_text(), BOUND_S,
                 "the hub to connect over TLS and subscribe")
        a, b = site.device("edge-a"), site.device("edge-b")
        # Given a registered device's real alert
        real = alert()
        assert a.publish(wire.alert_topic("edge-a"), wire.encode(real)) == "Success"
        wait_for(lambda: incidents(site.hub_toml), BOUND_S, "the real incident")
        # When edge-a claims another zone, then claims to be edge-b in its payload, and edge-b
        # (known to the broker, not to the hub) publishes its own alert and an offline status
        a.publish(wire.alert_topic("edge-a"), wire.encode(alert(zone="south", grade=Grade.RED)))
        a.publish(wire.alert_topic("edge-a"), wire.encode(alert(device="edge-b")))
        b.publish(wire.alert_topic("edge-b"), wire.encode(alert(device="edge-b", grade=Grade.RED)))
        b.publish(wire.status_topic("edge-b"), wire.encode(wire.Status(
            device="edge-b", zone=ZONE, state="offline", ts=time.time())))
        lines = wait_for(lambda: (found := tail(site.hub_toml))
                         and sum("REFUSED" in line for line in found) >= 4 and found,
                         BOUND_S, "four refusals in tail")
        a.close()
        b.close()
    # Then only the real alert became an incident ...
    found = incidents(site.hub_toml)
    assert [(i["zone"], i["hazard"], i["alert_count"], i["devices"]) for i in found] == [
        (ZONE, "water", 1, ["edge-a"])]
    # ... each refusal is a security event operators see in tail, with its reason
    refused = [line for line in lines if "REFUSED" in line]
    reasons = sorted(line.split()[5] for line in refused)
    assert reasons == ["device_mismatch", "unknown_device", "unknown_device", "zone_mismatch"]
    assert any("edge-b status on lifeline/v1/edge-b/status" in line for line in refused)
    events = [json.loads(line) for line in tail(site.hub_toml, "--json")]
    security = [e for e in events if e["kind"] == "security"]
    assert {e["reason"] for e in security} == {"device_mismatch", "unknown_device", "zone_mismatch"}
    # ... counted in the hub's stats line at exit, and no secret is in any log
    assert "refused: device_mismatch=1, unknown_device=2, zone_mismatch=1" in log.read_text()
    for secret in site.broker.passwords.values():
        assert secret not in site.all_logs()


def test_a_replayed_alert_does_not_reopen_its_resolved_incident(site: Site) -> None:
    log = site.tmp / "hub.log"
    with running("lifeline-hub", ["run", "--config", str(site.hub_toml)], log):
        wait_for(lambda: log.exists() and "subscribed to" in log.read_text(), BOUND_S,
                 "the hub to subscribe")
        device = site.device("edge-a", subscribe=(wire.ack_topic("edge-a"),))
        # Given an alert whose incident has resolved by quiet (quiet_s = 2)
        first = alert()
        original = wire.encode(first)
        device.publish(wire.alert_topic("edge-a"), original)
        wait_for(lambda: [i for i in incidents(site.hub_toml) if i["status"] == "resolved"],
                 BOUND_S, "the incident to resolve")
        wait_for(lambda: acked(device, first.id) == 1, BOUND_S, "the hub's ack of the alert")
        # When someone with the device's credentials replays the captured alert, twice
        device.publish(wire.alert_topic("edge-a"), original)
        device.publish(wire.alert_topic("edge-a"), original)
        # (the hub acks a duplicate too, after the batch that saw it is committed)
        wait_for(lambda: acked(device, first.id) == 3, BOUND_S, "the hub's acks of both replays")
        device.close()
    # Then the id is known: stored once, the incident stays resolved
    (incident,) = incidents(site.hub_toml)
    assert (incident["status"], incident["alert_count"]) == ("resolved", 1)
    assert "duplicates=2" in log.read_text()


def test_a_device_provisioned_while_the_hub_runs_is_accepted_without_a_restart(
        site: Site) -> None:
    log = site.tmp / "hub.log"
    out = site.tmp / "provisioned"
    with running("lifeline-hub", ["run", "--config", str(site.hub_toml)], log):
        wait_for(lambda: log.exists() and "subscribed to" in log.read_text(), BOUND_S,
                 "the hub to subscribe")
        # When a technician provisions edge-c with the CLI and the broker reloads
        done = subprocess.run(
            [script("lifeline-hub"), "provision-device", "edge-c", "--zone", "east",
             "--config", str(site.hub_toml), "--out", str(out),
             "--mosquitto-passwd", str(site.broker.workdir / "passwd"),
             "--broker-host", "localhost", "--broker-port", str(site.broker.port),
             "--edge-dir", str(out)], capture_output=True, timeout=BOUND_S)
        assert done.returncode == 0, done.stderr.decode()
        site.broker.reload()
        password = (out / "edge-c.password").read_text().strip()
        # Then what it prints is the edge.toml part, without the secret
        printed = done.stdout.decode()
        assert password not in printed and password not in done.stderr.decode()
        snippet = tomllib.loads(printed.split("# edge.toml:\n", 1)[1])
        assert snippet["mqtt"]["password_file"] == str(out / "edge-c.password")
        # and the new device's alert is accepted by the running hub
        (out / "ca.crt").write_bytes(site.broker.ca.cert_pem)
        device = connect(site.broker, MqttSecurity(ca_file=out / "ca.crt", username="edge-c",
                                                   password_file=out / "edge-c.password"))
        assert device.wait_connected(), device.connect_code
        device.publish(wire.alert_topic("edge-c"), wire.encode(alert("edge-c", "east")))
        found = wait_for(lambda: [i for i in incidents(site.hub_toml) if i["zone"] == "east"],
                         BOUND_S, "the new device's incident")
        device.close()
    assert found[0]["devices"] == ["edge-c"]
    assert password not in site.all_logs()


def test_the_hub_will_not_turn_tls_off_unless_told(site: Site) -> None:
    # Given a hub.toml that says tls = false for a remote broker
    bad = site.tmp / "bad.toml"
    bad.write_text('[mqtt]\nhost = "broker.example.net"\ntls = false\n')
    done = subprocess.run([script("lifeline-hub"), "run", "--config", str(bad)],
                          capture_output=True, timeout=BOUND_S)
    # Then it refuses to start, with a configuration error naming the key
    assert done.returncode == 2
    assert "bad.toml: mqtt.tls: false would send alerts and credentials to broker.example.net " \
           "unencrypted; set insecure_plain_tcp = true" in done.stderr.decode()
    # And a hub told to skip verification starts, warning loudly
    loose = site.tmp / "loose.toml"
    loose.write_text(site.hub_toml.read_text().replace(
        'ca_file = "ca.crt"', "tls_insecure_skip_verify = true"))
    log = site.tmp / "loose.log"
    with running("lifeline-hub", ["run", "--config", str(loose)], log):
        wait_for(lambda: log.exists() and "subscribed to" in log.read_text(), BOUND_S,
                 "the hub to subscribe")
    assert "WARNING lifeline.mqtt_security: TLS WITHOUT VERIFYING THE BROKER" in log.read_text()


def edge_toml(site: Site, pty_path: str) -> Path:
    path = site.tmp / "edge.toml"
    path.write_text(f"""
[device]
id = "edge-a"
zone = "{ZONE}"
state_dir = "{site.tmp / 'edge-state'}"

[mqtt]
host = "localhost"
port = {site.broker.port}
ca_file = "ca.crt"
username = "edge-a"
password_file = "{site.secret_file('edge-a')}"

[[sensors]]
id = "main-pressure"
kind = "water.pressure"
driver = "lines"
port = "{pty_path}"
baudrate = 115200
columns = ["pressure_kpa"]
low = 250.0
""")
    return path


def test_an_edge_over_tls_raises_an_incident_and_says_no_secret(site: Site) -> None:
    rng = random.Random(7)
    with PtySensor() as sensor:
        edge = edge_toml(site, sensor.path)
        # Given check-config on the edge's file
        checked = subprocess.run([script("lifeline-edge"), "check-config", str(edge)],
                                 capture_output=True, timeout=BOUND_S)
        as_json = subprocess.run([script("lifeline-edge"), "check-config", str(edge), "--json"],
                                 capture_output=True, timeout=BOUND_S)
        assert checked.returncode == 0 and as_json.returncode == 0, checked.stderr.decode()
        assert (f"mqtt: localhost:{site.broker.port}, TLS, broker verified against CA "
                f"{site.tmp / 'ca.crt'}; user edge-a with password from "
                f"{site.secret_file('edge-a')}") in checked.stdout.decode()
        with running("lifeline-hub", ["run", "--config", str(site.hub_toml)],
                     site.tmp / "hub.log"), \
                running("lifeline-edge", ["run", "--config", str(edge)], site.tmp / "edge.log"):
            # When the pressure drops after a normal spell
            sensor.stream(lambda n: f"{301.0 + rng.gauss(0, 0.8):.2f}\n".encode()
                          if n < 100 else b"140.0\n", 50)
            # Then the hub opens the incident from alerts that crossed TLS
            found = wait_for(lambda: [i for i in incidents(site.hub_toml)
                                      if i["hazard"] == "water"], 30, "a water incident")
    assert found[0]["devices"] == ["edge-a"]
    secret = site.broker.passwords["edge-a"]
    for text in (checked.stdout, checked.stderr, as_json.stdout, as_json.stderr):
        assert secret.encode() not in text
    assert secret not in site.all_logs()


def test_an_edge_refuses_a_password_file_others_can_read(site: Site) -> None:
    edge = edge_toml(site, "/dev/null")
    site.secret_file("edge-a").chmod(0o644)
    done = subprocess.run([script("lifeline-edge"), "check-config", str(edge)],
                          capture_output=True, timeout=BOUND_S)
    assert done.returncode == 2
    # (file:LINE: the line of [mqtt] password_file in edge.toml, issue 14 item 9)
    assert re.search(rf"edge\.toml:\d+: mqtt\.password_file: "
                     rf"{re.escape(str(site.secret_file('edge-a')))} is accessible to every "
                     r"user \(mode 0644\); run: chmod 600", done.stderr.decode())
    assert site.broker.passwords["edge-a"].encode() not in done.stderr + done.stdout
