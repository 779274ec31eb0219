"""The shipped Mosquitto config (hardware/mosquitto/) against the attacks that matter.

A real Mosquitto runs the shipped mosquitto.conf and acl (paths and port
rewritten) with a CA, broker and client certificates made by hub.desk.provision.
Clients are configured with lifeline.mqtt_security.apply, as the edge and the
hub are.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from hub.desk.provision import issue_certificate, make_ca, write_private
from lifeline import wire
from lifeline.mqtt_security import MqttSecurity, apply
from tests.support.secure_broker import HUB_USER, SecureBroker

pytestmark = pytest.mark.integration
# paho-mqtt 2.2 does not close its SSL socket when the handshake fails inside connect();
# the garbage collector does, with a ResourceWarning that is paho's, not ours.
paho_leaks_failed_handshake = pytest.mark.filterwarnings(
    "ignore::pytest.PytestUnraisableExceptionWarning")


@dataclass
class Session:
    """A paho client configured by mqtt_security.apply, with what happened to it."""

    client: mqtt.Client
    connected: threading.Event = field(default_factory=threading.Event)
    ended: threading.Event = field(default_factory=threading.Event)
    connect_code: str = ""
    error: str = ""
    messages: list[tuple[str, bytes]] = field(default_factory=list)
    pubacks: dict[int, str] = field(default_factory=dict)

    def wait_connected(self, timeout: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self.ended.is_set():
            if self.connected.wait(0.05):
                return True
        return self.connected.is_set()

    def publish(self, topic: str, payload: bytes) -> str:
        """Publish at QoS 1 and return the PUBACK's reason code as text."""
        info = self.client.publish(topic, payload, qos=1)
        deadline = time.monotonic() + 5
        while info.mid not in self.pubacks and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.pubacks.get(info.mid, "no puback")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def connect(broker: SecureBroker, settings: MqttSecurity, *, subscribe: tuple[str, ...] = (),
            port: int | None = None, host: str = "localhost", client_id: str = "") -> Session:
    client = mqtt.Client(CallbackAPIVersion.VERSION2,
                         client_id=client_id or f"t-{uuid.uuid4().hex[:12]}", protocol=mqtt.MQTTv5)
    client.reconnect_delay_set(min_delay=30, max_delay=30)  # one attempt per test
    session = Session(client)
    apply(client, settings)

    unacknowledged: set[int] = set()  # subscriptions sent, their SUBACK not yet back

    def on_connect(c: mqtt.Client, u: Any, flags: Any, rc: ReasonCode, p: Properties | None) -> None:
        session.connect_code = str(rc)
        if rc.is_failure:
            session.ended.set()
            return
        for topic in subscribe:
            unacknowledged.add(c.subscribe(topic, qos=1)[1])
        if not subscribe:
            session.connected.set()

    def on_subscribe(c: mqtt.Client, u: Any, mid: int, codes: Any, p: Properties | None) -> None:
        # "connected" means ready: every subscription in force (or refused by the broker)
        unacknowledged.discard(mid)
        if not unacknowledged:
            session.connected.set()

    def on_disconnect(c: mqtt.Client, u: Any, f: Any, rc: ReasonCode, p: Properties | None) -> None:
        session.connect_code = session.connect_code or str(rc)
        session.ended.set()

    def on_publish(c: mqtt.Client, u: Any, mid: int, rc: ReasonCode, p: Properties | None) -> None:
        session.pubacks[mid] = str(rc)

    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_disconnect = on_disconnect
    client.on_publish = on_publish
    client.on_message = lambda c, u, m: session.messages.append((m.topic, bytes(m.payload)))
    try:
        client.connect(host, port or broker.port, keepalive=30)
    except (OSError, ssl.SSLError) as exc:
        session.error = f"{type(exc).__name__}: {exc}"
        session.ended.set()
        return session
    client.loop_start()
    return session


def password_settings(broker: SecureBroker, user: str, tmp_path: Path,
                      password: str | None = None) -> MqttSecurity:
    path = tmp_path / f"{user}-{uuid.uuid4().hex[:6]}.password"
    write_private(path, f"{password if password is not None else broker.passwords[user]}\n".encode())
    return MqttSecurity(ca_file=broker.ca_file, username=user, password_file=path)


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[SecureBroker]:
    """The shipped config: TLS, passwords, ACL; devices edge-a and edge-b and the hub."""
    instance = SecureBroker(tmp_path / "broker")
    for user in ("edge-a", "edge-b", HUB_USER):
        instance.add_user(user, uuid.uuid4().hex)
    instance.start()
    yield instance
    instance.stop()


@pytest.fixture
def cert_broker(tmp_path: Path) -> Iterator[SecureBroker]:
    """The shipped config with require_certificate true and use_identity_as_username."""
    instance = SecureBroker(tmp_path / "cert-broker", require_certificate=True)
    instance.start()
    yield instance
    instance.stop()


def test_a_device_with_its_password_publishes_its_alerts_to_the_hub(
        broker: SecureBroker, tmp_path: Path) -> None:
    # Given the hub subscribed to every device's alerts over TLS
    hub = connect(broker, password_settings(broker, HUB_USER, tmp_path),
                  subscribe=(wire.ALERT_SUBSCRIPTION,))
    assert hub.wait_connected(), hub.connect_code or hub.error
    # When device edge-a logs in with its own password and publishes on its own topic
    device = connect(broker, password_settings(broker, "edge-a", tmp_path))
    assert device.wait_connected(), device.connect_code or device.error
    # Then the broker accepts it and the hub receives it
    assert device.publish(wire.alert_topic("edge-a"), b"real alert") == "Success"
    deadline = time.monotonic() + 5
    while not hub.messages and time.monotonic() < deadline:
        time.sleep(0.02)
    assert hub.messages == [(wire.alert_topic("edge-a"), b"real alert")]
    device.close()
    hub.close()


def test_a_wrong_password_is_refused(broker: SecureBroker, tmp_path: Path) -> None:
    # Given device edge-a's user name with someone else's password
    device = connect(broker, password_settings(broker, "edge-a", tmp_path,
                                               password=broker.passwords["edge-b"]))
    # Then the broker refuses the connection
    assert not device.wait_connected(3)
    assert device.connect_code in ("Not authorized", "Bad user name or password")
    device.close()


def test_no_credentials_at_all_is_refused(broker: SecureBroker) -> None:
    device = connect(broker, MqttSecurity(ca_file=broker.ca_file))
    assert not device.wait_connected(3)
    assert device.connect_code == "Not authorized"
    device.close()


def test_a_device_cannot_publish_into_another_devices_topic(
        broker: SecureBroker, tmp_path: Path) -> None:
    # Given the hub listening to every alert and status
    hub = connect(broker, password_settings(broker, HUB_USER, tmp_path),
                  subscribe=(wire.ALERT_SUBSCRIPTION, wire.STATUS_SUBSCRIPTION))
    assert hub.wait_connected()
    device = connect(broker, password_settings(broker, "edge-a", tmp_path))
    assert device.wait_connected()
    # When edge-a publishes a forged alert and status as edge-b, and as the hub
    forged = [device.publish(wire.alert_topic("edge-b"), b"forged alert"),
              device.publish(wire.status_topic("edge-b"), b"forged status"),
              device.publish(wire.INCIDENT_TOPIC, b"forged incident"),
              device.publish(wire.ack_topic("edge-b"), b"forged ack")]
    # Then Mosquitto 2.0 answers each QoS 1 publish with reason code 135 (MQTT 5) ...
    assert forged == ["Not authorized"] * 4
    # ... and nothing reaches a subscriber, while edge-a's own alert still does
    assert device.publish(wire.alert_topic("edge-a"), b"own") == "Success"
    time.sleep(0.5)
    assert hub.messages == [(wire.alert_topic("edge-a"), b"own")]
    device.close()
    hub.close()


def test_a_device_reads_only_its_own_acks(broker: SecureBroker, tmp_path: Path) -> None:
    # Given edge-a subscribed (it may try) to every alert and to edge-b's acks
    spy = connect(broker, password_settings(broker, "edge-a", tmp_path),
                  subscribe=(wire.ALERT_SUBSCRIPTION, wire.ack_topic("edge-b"),
                             wire.ack_topic("edge-a")))
    assert spy.wait_connected()
    other = connect(broker, password_settings(broker, "edge-b", tmp_path))
    hub = connect(broker, password_settings(broker, HUB_USER, tmp_path))
    assert other.wait_connected() and hub.wait_connected()
    # When edge-b publishes an alert and the hub acks both devices
    assert other.publish(wire.alert_topic("edge-b"), b"b's alert") == "Success"
    assert hub.publish(wire.ack_topic("edge-b"), b"ack for b") == "Success"
    assert hub.publish(wire.ack_topic("edge-a"), b"ack for a") == "Success"
    time.sleep(0.5)
    # Then edge-a received its own ack only (Mosquitto grants the subscriptions but
    # checks read access on every delivery)
    assert spy.messages == [(wire.ack_topic("edge-a"), b"ack for a")]
    for session in (spy, other, hub):
        session.close()


def test_a_device_cannot_kick_the_hub_off_by_taking_its_client_id(
        broker: SecureBroker, tmp_path: Path) -> None:
    # Given the hub connected with its client id
    hub = connect(broker, password_settings(broker, HUB_USER, tmp_path), client_id="lifeline-hub",
                  subscribe=(wire.ALERT_SUBSCRIPTION,))
    assert hub.wait_connected()
    # When a device connects with the hub's client id (MQTT's session takeover)
    thief = connect(broker, password_settings(broker, "edge-a", tmp_path),
                    client_id="lifeline-hub")
    assert thief.wait_connected()
    time.sleep(0.5)
    # Then the hub stays connected (the broker uses the user name as client id) and still
    # receives alerts
    assert not hub.ended.is_set()
    assert thief.publish(wire.alert_topic("edge-a"), b"still here") == "Success"
    deadline = time.monotonic() + 5
    while not hub.messages and time.monotonic() < deadline:
        time.sleep(0.02)
    assert hub.messages == [(wire.alert_topic("edge-a"), b"still here")]
    thief.close()
    hub.close()


def test_the_hub_cannot_publish_a_devices_alert(broker: SecureBroker, tmp_path: Path) -> None:
    hub = connect(broker, password_settings(broker, HUB_USER, tmp_path))
    assert hub.wait_connected()
    assert hub.publish(wire.alert_topic("edge-a"), b"hub forging") == "Not authorized"
    # allowed; nobody listens here (reason code 16 is a success code)
    assert hub.publish(wire.INCIDENT_TOPIC, b"incident") == "No matching subscribers"
    hub.close()


def test_a_plain_tcp_client_cannot_connect_to_the_tls_listener(broker: SecureBroker) -> None:
    # Given a client speaking plain MQTT to the TLS port, with a valid password
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="plain", protocol=mqtt.MQTTv5)
    client.username_pw_set("edge-a", broker.passwords["edge-a"])
    result: list[ReasonCode] = []
    client.on_connect = lambda c, u, f, rc, p: result.append(rc)
    # When it connects
    try:
        client.connect("127.0.0.1", broker.port, keepalive=5)
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and not result:
            client.loop(timeout=0.1)
    except OSError:
        pass
    # Then no CONNACK ever comes: the broker drops what is not a TLS handshake
    assert result == []
    client.disconnect()
    # and on a raw socket a plain MQTT CONNECT gets a TLS alert or EOF, never a CONNACK (0x20)
    with socket.create_connection(("127.0.0.1", broker.port), timeout=3) as raw:
        raw.sendall(b"\x10\x10\x00\x04MQTT\x05\x02\x00\x3c\x00\x00\x03abc")
        try:
            answer = raw.recv(16)
        except ConnectionResetError:
            answer = b""
    assert not answer.startswith(b"\x20")


@paho_leaks_failed_handshake
def test_a_broker_certificate_from_another_ca_is_refused_by_verification(
        broker: SecureBroker, tmp_path: Path) -> None:
    # Given a client that trusts a different CA (an impostor broker, from its point of view)
    other_ca = tmp_path / "other-ca.crt"
    other_ca.write_bytes(make_ca("someone else", datetime.now(UTC)).cert_pem)
    settings = password_settings(broker, "edge-a", tmp_path)
    device = connect(broker, MqttSecurity(ca_file=other_ca, username="edge-a",
                                          password_file=settings.password_file))
    # Then verification fails before any credential is sent
    assert not device.wait_connected(3)
    assert "CERTIFICATE_VERIFY_FAILED" in device.error
    device.close()


@paho_leaks_failed_handshake
def test_the_broker_name_must_match_its_certificate(tmp_path: Path) -> None:
    # Given a broker whose certificate (from the right CA) names another host
    other = SecureBroker(tmp_path / "other", server_names=("broker.example.net",))
    other.add_user("edge-a", "pw")
    other.start()
    try:
        # When a device reaches it as localhost
        device = connect(other, password_settings(other, "edge-a", tmp_path))
        # Then the host name check fails
        assert not device.wait_connected(3)
        assert "CERTIFICATE_VERIFY_FAILED" in device.error and "localhost" in device.error
        device.close()
    finally:
        other.stop()


# -- client certificates (require_certificate true, use_identity_as_username true) --------

def cert_settings(broker: SecureBroker, cert: Path, key: Path) -> MqttSecurity:
    return MqttSecurity(ca_file=broker.ca_file, cert_file=cert, key_file=key)


def test_a_device_with_a_valid_certificate_publishes_as_its_cn(
        cert_broker: SecureBroker, tmp_path: Path) -> None:
    hub = connect(cert_broker, cert_settings(cert_broker, *cert_broker.client_certificate(HUB_USER)),
                  subscribe=(wire.ALERT_SUBSCRIPTION,))
    device = connect(cert_broker, cert_settings(cert_broker,
                                                *cert_broker.client_certificate("edge-a")))
    assert hub.wait_connected() and device.wait_connected(), device.error or device.connect_code
    # the CN is the user name the ACL's %u matches: own topic yes, another device's no
    assert device.publish(wire.alert_topic("edge-a"), b"own") == "Success"
    assert device.publish(wire.alert_topic("edge-b"), b"forged") == "Not authorized"
    time.sleep(0.3)
    assert hub.messages == [(wire.alert_topic("edge-a"), b"own")]
    device.close()
    hub.close()


def test_no_client_certificate_is_refused(cert_broker: SecureBroker) -> None:
    device = connect(cert_broker, MqttSecurity(ca_file=cert_broker.ca_file))
    assert not device.wait_connected(3)
    device.close()


def test_a_self_signed_client_certificate_is_refused(
        cert_broker: SecureBroker, tmp_path: Path) -> None:
    # Given a certificate with the right CN, signed by a CA of the attacker's own
    rogue_ca = make_ca("Lifeline project CA", datetime.now(UTC))
    issued = issue_certificate(rogue_ca, "edge-a", datetime.now(UTC))
    cert, key = tmp_path / "rogue.crt", tmp_path / "rogue.key"
    cert.write_bytes(issued.cert_pem + rogue_ca.cert_pem)
    write_private(key, issued.key_pem)
    device = connect(cert_broker, cert_settings(cert_broker, cert, key))
    assert not device.wait_connected(3)
    device.close()


def test_an_expired_client_certificate_is_refused(
        cert_broker: SecureBroker, tmp_path: Path) -> None:
    # Given a certificate from the right CA that expired yesterday
    long_ago = datetime.now(UTC) - timedelta(days=400)
    issued = issue_certificate(cert_broker.ca, "edge-a", long_ago, days=399,
                               not_before=long_ago)
    cert, key = tmp_path / "old.crt", tmp_path / "old.key"
    cert.write_bytes(issued.cert_pem)
    write_private(key, issued.key_pem)
    device = connect(cert_broker, cert_settings(cert_broker, cert, key))
    assert not device.wait_connected(3)
    device.close()
    # and the CA's own valid certificate for the same device still works
    good = connect(cert_broker, cert_settings(cert_broker, *cert_broker.client_certificate("edge-a")))
    assert good.wait_connected()
    good.close()
