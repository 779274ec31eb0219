"""The edge's MQTT session: birth/last-will status, QoS 1 alerts, reconnect with backoff.

paho-mqtt runs its network loop in its own thread; this class only turns our
messages into publishes via the wire contract. The session is persistent
(stable client id, MQTT 5 session expiry) so QoS 1 messages in flight survive
a reconnect.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from edge.config import EdgeConfig
from lifeline import wire

log = logging.getLogger(__name__)

SESSION_EXPIRY_S = 7 * 86400


class MqttLink:
    def __init__(self, config: EdgeConfig, version: str) -> None:
        self.config = config
        self.version = version
        self.connected = threading.Event()
        self.counters: dict[str, int] = {"published": 0, "connects": 0}
        self.status_extra: dict[str, Any] = {}
        device = config.device
        client_id = config.mqtt.client_id or f"lifeline-edge-{device.id}"
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                                  protocol=mqtt.MQTTv5)
        will = wire.Status(device=device.id, zone=device.zone, state="offline", ts=time.time(),
                           version=version)
        self.client.will_set(wire.status_topic(device.id), wire.encode(will), qos=1, retain=True)
        self.client.reconnect_delay_set(min_delay=1, max_delay=30)
        self.client.max_queued_messages_set(0)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect

    def start(self) -> None:
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = SESSION_EXPIRY_S
        self.client.connect_async(self.config.mqtt.host, self.config.mqtt.port,
                                  keepalive=self.config.mqtt.keepalive, clean_start=False,
                                  properties=props)
        self.client.loop_start()

    def stop(self, sensors: tuple[str, ...]) -> None:
        """Say goodbye (retained offline status), then disconnect cleanly."""
        if self.connected.is_set():
            info = self.client.publish(wire.status_topic(self.config.device.id),
                                       wire.encode(self._status("offline", sensors)), qos=1,
                                       retain=True)
            try:
                info.wait_for_publish(timeout=2.0)
            except RuntimeError:
                pass
        self.client.disconnect()
        self.client.loop_stop()

    def _status(self, state: str, sensors: tuple[str, ...]) -> wire.Status:
        return wire.Status(device=self.config.device.id, zone=self.config.device.zone,
                           state=state, ts=time.time(), sensors=sensors,
                           counters=dict(self.counters), version=self.version)

    def publish_status(self, sensors: tuple[str, ...]) -> None:
        self.client.publish(wire.status_topic(self.config.device.id),
                            wire.encode(self._status("online", sensors)), qos=1, retain=True)

    def publish_alert(self, alert: wire.Alert) -> None:
        self.client.publish(wire.alert_topic(alert.device), wire.encode(alert), qos=1)
        self.counters["published"] += 1

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any,
                    reason_code: ReasonCode, properties: Properties | None) -> None:
        if reason_code.is_failure:
            log.error("broker refused connection device=%s: %s", self.config.device.id,
                      reason_code)
            return
        self.counters["connects"] += 1
        log.info("connected to broker %s:%d device=%s", self.config.mqtt.host,
                 self.config.mqtt.port, self.config.device.id)
        self.publish_status(tuple(s.id for s in self.config.sensors))
        self.connected.set()

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any,
                       reason_code: ReasonCode, properties: Properties | None) -> None:
        self.connected.clear()
        log.warning("disconnected from broker device=%s: %s", self.config.device.id, reason_code)
