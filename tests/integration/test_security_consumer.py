"""A read-only consumer of the incident stream under the shipped ACL (issue 13, item 9).

The hub republishes every incident change on ``lifeline/v1/hub/incident``; under the shipped
ACL nobody could read it. ``lifeline-hub provision-consumer`` gives a consumer a password and
an ACL block: it reads the incident stream, and nothing else.
"""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from lifeline import wire
from lifeline.mqtt_security import MqttSecurity
from tests.integration.test_security_broker import connect, password_settings
from tests.support.processes import script
from tests.support.secure_broker import HUB_USER, SecureBroker

pytestmark = pytest.mark.integration


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[SecureBroker]:
    instance = SecureBroker(tmp_path / "broker")
    for user in ("edge-a", HUB_USER):
        instance.add_user(user, uuid.uuid4().hex)
    instance.start()
    yield instance
    instance.stop()


def test_a_provisioned_consumer_reads_incidents_and_nothing_else(broker: SecureBroker,
                                                                tmp_path: Path) -> None:
    # Given a consumer provisioned with the CLI into the broker's ACL and password file
    hub_toml = tmp_path / "hub.toml"
    hub_toml.write_text('[store]\npath = "hub.db"\n')
    done = subprocess.run(
        [script("lifeline-hub"), "provision-consumer", "control-room", "--config", str(hub_toml),
         "--acl", str(broker.workdir / "acl"), "--mosquitto-passwd", str(broker.workdir / "passwd"),
         "--out", str(tmp_path)], capture_output=True, timeout=30, check=False)
    assert done.returncode == 0, done.stderr.decode()
    secret = tmp_path / "consumer-control-room.password"
    assert secret.read_text().strip() not in done.stdout.decode()
    broker.reload()
    # When it subscribes to the incident stream, every device's alerts and everything
    consumer = connect(broker, MqttSecurity(ca_file=broker.ca_file, username="consumer/control-room",
                                            password_file=secret),
                       subscribe=(wire.INCIDENT_TOPIC, wire.ALERT_SUBSCRIPTION, "#"))
    assert consumer.wait_connected(), consumer.connect_code or consumer.error
    hub = connect(broker, password_settings(broker, HUB_USER, tmp_path),
                  subscribe=(wire.ALERT_SUBSCRIPTION, wire.STATUS_SUBSCRIPTION))
    device = connect(broker, password_settings(broker, "edge-a", tmp_path))
    assert hub.wait_connected() and device.wait_connected()
    # and the hub republishes an incident change while a device sends an alert
    assert device.publish(wire.alert_topic("edge-a"), b"an alert") == "Success"
    assert hub.publish(wire.INCIDENT_TOPIC, b'{"kind":"opened"}') == "Success"
    deadline = time.monotonic() + 5
    while not consumer.messages and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.3)
    # Then it receives the incident change only (once per matching subscription)
    assert set(consumer.messages) == {(wire.INCIDENT_TOPIC, b'{"kind":"opened"}')}
    # And it cannot publish the incident stream, a device's alert or status, or an ack
    forged = [consumer.publish(wire.INCIDENT_TOPIC, b"forged"),
              consumer.publish(wire.alert_topic("edge-a"), b"forged"),
              consumer.publish(wire.status_topic("edge-a"), b"forged"),
              consumer.publish(wire.ack_topic("edge-a"), b"forged")]
    assert forged == ["Not authorized"] * 4
    # And what the device patterns let its own name reach (Mosquitto 2.0 puts a user name
    # with '/' into %u) is five levels deep: no subscription of the hub matches it
    consumer.publish("lifeline/v1/consumer/control-room/alert", b"forged")
    time.sleep(0.3)
    assert hub.messages == [(wire.alert_topic("edge-a"), b"an alert")]
    for session in (consumer, hub, device):
        session.close()
    # And provisioning it again needs --force
    again = subprocess.run(
        [script("lifeline-hub"), "provision-consumer", "control-room", "--config", str(hub_toml),
         "--acl", str(broker.workdir / "acl"), "--mosquitto-passwd", str(broker.workdir / "passwd"),
         "--out", str(tmp_path)], capture_output=True, timeout=30, check=False)
    assert again.returncode == 1 and b"--force" in again.stderr
