"""A connection that fails before MQTT names its real reason (issue 14 item 6), against real brokers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hub.desk.provision import make_ca
from lifeline.localbroker import Broker, free_port
from lifeline.mqtt_security import MqttSecurity, diagnose_connect
from tests.support.secure_broker import SecureBroker

pytestmark = pytest.mark.integration


@pytest.fixture
def localhost_only(tmp_path: Path) -> Iterator[SecureBroker]:
    """The shipped TLS broker with a certificate issued for ``localhost`` alone."""
    broker = SecureBroker(tmp_path / "tls", server_names=("localhost",))
    broker.start()
    yield broker
    broker.stop()


def test_a_certificate_for_localhost_used_against_127_0_0_1_is_a_name_mismatch(
        localhost_only: SecureBroker) -> None:
    settings = MqttSecurity(tls=True, ca_file=localhost_only.ca_file)
    why = diagnose_connect("127.0.0.1", localhost_only.port, settings)
    assert "not valid for the name '127.0.0.1'" in why and "--broker-name" in why
    # and the right name passes the handshake: what is left is MQTT's own answer
    assert "TCP and TLS" in diagnose_connect("localhost", localhost_only.port, settings)


def test_a_ca_file_that_did_not_sign_the_broker_is_an_unknown_ca(
        localhost_only: SecureBroker, tmp_path: Path) -> None:
    other = tmp_path / "other-ca.crt"
    other.write_bytes(make_ca("Some other CA", datetime.now(UTC)).cert_pem)
    why = diagnose_connect("localhost", localhost_only.port, MqttSecurity(tls=True, ca_file=other))
    assert "signed by a CA we do not trust" in why and str(other) in why


def test_tls_against_a_plain_listener_says_the_broker_does_not_speak_tls(tmp_path: Path) -> None:
    plain = Broker(tmp_path / "plain")
    plain.start()
    try:
        why = diagnose_connect("127.0.0.1", plain.port, MqttSecurity(tls=True))
    finally:
        plain.stop()
    assert "does not speak TLS on this port" in why


def test_nothing_listening_is_a_refused_connection() -> None:
    port = free_port()
    assert diagnose_connect("127.0.0.1", port, MqttSecurity(tls=True)) == (
        f"connection refused: nothing listens on 127.0.0.1:{port}")
