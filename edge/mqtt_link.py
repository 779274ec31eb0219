"""The edge's MQTT session: birth/last-will status, QoS 1 alerts, reconnect with backoff.

paho-mqtt runs its network loop in its own thread; this class only turns our
messages into publishes via the wire contract. The session is persistent
(stable client id, MQTT 5 session expiry) so QoS 1 messages in flight survive
a reconnect.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from edge.config import EdgeConfig
from lifeline import wire
from lifeline.mqtt_session import ConnectFailures, connect_persistent, new_client

log = logging.getLogger(__name__)

SESSION_EXPIRY_S = 7 * 86400
SESSION_TAKEN_OVER = 142  # MQTT 5 reason code; Mosquitto 2.0 just closes the socket instead


class TakeoverWatch:
    """Notices another client connecting with our client id. Pure: times are arguments.

    The broker keeps one session per client id and drops the older connection when another
    connects. Two boards given one identity then knock each other off every second or two,
    and paho reports only ``Unspecified error`` (Mosquitto 2.0 sends no reason). So: a
    session that the broker ended within ``short_s`` of its start, ``in_a_row`` times in a
    row, is taken for a takeover; an MQTT 5 ``Session taken over`` is one at once.
    """

    def __init__(self, short_s: float = 10.0, in_a_row: int = 3) -> None:
        self.short_s = short_s
        self.in_a_row = in_a_row
        self.short_sessions = 0
        self._connected_at: float | None = None

    def connected(self, now: float) -> None:
        self._connected_at = now

    def disconnected(self, now: float, reason: int) -> bool:
        """The session ended (``reason`` the MQTT reason code); True if it looks taken over."""
        began, self._connected_at = self._connected_at, None
        if reason == SESSION_TAKEN_OVER:
            return True
        if reason < 0x80 or began is None or now - began > self.short_s:
            self.short_sessions = 0  # our own disconnect, or a session that lived normally
            return False
        self.short_sessions += 1
        return self.short_sessions >= self.in_a_row


class MqttLink:
    def __init__(self, config: EdgeConfig, version: str) -> None:
        self.config = config
        self.version = version
        self.connected = threading.Event()
        self.generation = 0  # bumped on every successful connect
        self.acks: queue.Queue[tuple[str, ...]] = queue.Queue()
        self.counters: dict[str, int] = {"published": 0, "connects": 0, "bad_acks": 0,
                                         "connect_failures": 0, "session_takeovers": 0}
        self.takeover = TakeoverWatch()
        self._takeover_said_at = -1e18
        self.status_source: Any = None  # callable -> (sensors, outbox depth, counters)
        # (until, comment) while the board is in maintenance (edge/maintenance.py): every
        # status carries it, the goodbye too, so the hub files the outage as maintenance
        self.maintenance: tuple[float, str] | None = None
        device = config.device
        self.client_id = client_id = config.mqtt.client_id or f"lifeline-edge-{device.id}"
        # TLS and credentials; a bad key or password file is a ConfigError (exit 2)
        self.client = new_client(config.mqtt, client_id)
        self.connect_failures = ConnectFailures(config.mqtt)
        will = wire.Status(device=device.id, zone=device.zone, state="offline", ts=time.time(),
                           version=version)
        self.client.will_set(wire.status_topic(device.id), wire.encode(will), qos=1, retain=True)
        self.client.max_queued_messages_set(0)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_connect_fail = self._on_connect_fail
        self.client.on_message = self._on_message

    def start(self) -> None:
        connect_persistent(self.client, self.config.mqtt, SESSION_EXPIRY_S)

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

    def _status(self, state: str, sensors: tuple[str, ...], depth: int = 0,
                counters: dict[str, int] | None = None) -> wire.Status:
        now = time.time()
        until, comment = self.maintenance if self.maintenance is not None else (None, "")
        if until is not None and until <= now:
            until, comment = None, ""
        return wire.Status(device=self.config.device.id, zone=self.config.device.zone,
                           state=state, ts=now, sensors=sensors,
                           counters={**self.counters, **(counters or {})}, outbox_depth=depth,
                           version=self.version, maintenance_until=until,
                           maintenance_comment=comment)

    def publish_status(self, sensors: tuple[str, ...], depth: int = 0,
                       counters: dict[str, int] | None = None) -> None:
        self.client.publish(wire.status_topic(self.config.device.id),
                            wire.encode(self._status("online", sensors, depth, counters)),
                            qos=1, retain=True)

    def publish_alert_payload(self, payload: bytes) -> bool:
        """Publish an encoded alert at QoS 1; False when the link is down (the outbox keeps it)."""
        if not self.connected.is_set():
            return False
        info = self.client.publish(wire.alert_topic(self.config.device.id), payload, qos=1)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            return False
        self.counters["published"] += 1
        return True

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        try:
            ack = wire.decode_ack(bytes(message.payload))
        except wire.WireError as exc:
            self.counters["bad_acks"] += 1
            log.warning("ignoring bad ack on %s: %s", message.topic, exc)
            return
        self.acks.put(ack.ids)

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any,
                    reason_code: ReasonCode, properties: Properties | None) -> None:
        if reason_code.is_failure:
            log.error("broker refused connection device=%s: %s", self.config.device.id,
                      reason_code)
            return
        self.counters["connects"] += 1
        self.connect_failures.connected()
        self.takeover.connected(time.monotonic())
        log.info("connected to broker %s:%d device=%s session_present=%s", self.config.mqtt.host,
                 self.config.mqtt.port, self.config.device.id, flags.session_present)
        client.subscribe(wire.ack_topic(self.config.device.id), qos=1)
        self.publish_status(tuple(s.id for s in self.config.sensors))
        self.generation += 1
        self.connected.set()

    def _on_connect_fail(self, client: mqtt.Client, userdata: Any) -> None:
        """TCP or TLS failed before any CONNACK (refused, unreachable, certificate not
        verified): paho retries with backoff and says nothing, so say it -- on the 1st,
        2nd, 4th, 8th ... failure in a row, not every retry."""
        self.counters["connect_failures"] += 1
        why = self.connect_failures.failed()
        if why is not None:
            log.warning("cannot connect to broker %s:%d device=%s (%d failure(s) in a row): %s; "
                        "retrying", self.config.mqtt.host, self.config.mqtt.port,
                        self.config.device.id, self.connect_failures.in_a_row, why)

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any,
                       reason_code: ReasonCode, properties: Properties | None) -> None:
        self.connected.clear()
        now = time.monotonic()
        if self.takeover.disconnected(now, reason_code.value):
            self.counters["session_takeovers"] += 1
            if now - self._takeover_said_at >= 60.0:
                self._takeover_said_at = now
                log.error("another client is using this device's MQTT client id %r device=%s: "
                          "the broker drops our session each time it connects (%d short sessions "
                          "in a row). Two boards with one identity? Give each board its own "
                          "[device] id, client id and credentials", self.client_id,
                          self.config.device.id, self.takeover.short_sessions)
            return
        log.warning("disconnected from broker device=%s: %s", self.config.device.id, reason_code)
