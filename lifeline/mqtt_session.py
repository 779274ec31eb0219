"""The one way both sides open an MQTT session: MQTT 5, a stable client id, a persistent
session, capped reconnect backoff, TLS and credentials from ``[mqtt]``.

Imports paho, so only the processes that connect import it (the desk commands do not).
"""

from __future__ import annotations

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from lifeline import mqtt_security
from lifeline.mqtt_config import MqttConfig

__all__ = ["ConnectFailures", "connect_persistent", "new_client"]

RECONNECT_MIN_S = 1
RECONNECT_MAX_S = 30


def new_client(config: MqttConfig, client_id: str, *, manual_ack: bool = False) -> mqtt.Client:
    """A paho client for ``client_id``, with TLS and credentials applied (a bad key or
    password file raises ConfigError). Set callbacks and a last will before connecting."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5,
                         manual_ack=manual_ack)
    client.reconnect_delay_set(min_delay=RECONNECT_MIN_S, max_delay=RECONNECT_MAX_S)
    mqtt_security.apply(client, config.security)
    return client


def connect_persistent(client: mqtt.Client, config: MqttConfig, session_expiry_s: int,
                       receive_maximum: int | None = None) -> None:
    """Connect in the background with a session the broker keeps ``session_expiry_s``
    (``clean_start`` off: QoS 1 messages in flight survive a reconnect), then run paho's
    network loop in its thread; paho reconnects by itself."""
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.SessionExpiryInterval = session_expiry_s
    if receive_maximum is not None:
        props.ReceiveMaximum = receive_maximum
    client.connect_async(config.host, config.port, keepalive=config.keepalive, clean_start=False,
                         properties=props)
    client.loop_start()


class ConnectFailures:
    """Connection attempts that failed before any CONNACK, in a row.

    paho retries with backoff and says nothing, so both sides say it on the 1st, 2nd, 4th,
    8th ... failure in a row, with the reason ``diagnose_connect`` finds.
    """

    def __init__(self, config: MqttConfig) -> None:
        self.config = config
        self.in_a_row = 0

    def connected(self) -> None:
        self.in_a_row = 0

    def failed(self) -> str | None:
        """Count one failure; the reason to log when this one is worth saying, else None."""
        self.in_a_row += 1
        if self.in_a_row & (self.in_a_row - 1):
            return None
        return mqtt_security.diagnose_connect(self.config.host, self.config.port,
                                              self.config.security)
