"""Load generation and bare consumers for the hub benchmarks: MQTT through paho and raw sockets.

Alerts are built and encoded with the wire contract (``lifeline.wire``) only, published on
``wire.alert_topic(device)`` for many simulated devices. The bare consumers are the baselines:
a paho-mqtt subscriber that only counts (the client-library limit) and ``mosquitto_sub`` (the
broker limit).
"""

from __future__ import annotations

import itertools
import shutil
import socket
import struct
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from lifeline import wire
from lifeline.grades import Grade

ALERT_TOPICS = wire.ALERT_SUBSCRIPTION


def alert_payloads(count: int, devices: int, zones: int, ts: float | None = None,
                   prefix: str | None = None, first: int = 0) -> list[tuple[str, str, bytes]]:
    """``count`` (alert id, topic, payload) triples spread round-robin over ``devices``, the
    ``first``-th of the run onwards."""
    run = prefix or uuid.uuid4().hex[:8]
    now = time.time() if ts is None else ts
    out = []
    for i in range(first, first + count):
        device = f"load-{i % devices:05d}"
        alert = wire.Alert(
            id=f"{run}-{i}", device=device, zone=f"z{i % devices % zones:03d}", sensor="s0",
            channel="pressure_kpa", kind="water.pressure", ts=now, value=120.0 + i % 10,
            score=1.0, grade=Grade.ORANGE, reason=wire.Reason.LIMIT, seq=i // devices,
            unit="kPa", context=(300.0, 250.0, 180.0, 120.0),
            message="120 kPa below low limit 250")
        out.append((alert.id, wire.alert_topic(device), wire.encode(alert)))
    return out


def alert_stream(devices: int, zones: int, chunk: int = 1_000
                 ) -> Iterator[tuple[str, str, bytes]]:
    """``alert_payloads`` without end, built ``chunk`` at a time as they are taken: for a
    stream that runs for a time rather than a count (what is never sent is never built).
    Small chunks: building one pauses the publisher (~30-80 µs an alert here), and a long
    pause makes the paced stream burst to catch up."""
    prefix = uuid.uuid4().hex[:8]
    for first in itertools.count(0, chunk):
        yield from alert_payloads(chunk, devices, zones, prefix=prefix, first=first)


def alert_now(alert_id: str, device: str, zone: str) -> tuple[str, bytes]:
    alert = wire.Alert(
        id=alert_id, device=device, zone=zone, sensor="s0", channel="pressure_kpa",
        kind="water.pressure", ts=time.time(), value=120.0, score=1.0, grade=Grade.ORANGE,
        reason=wire.Reason.LIMIT, seq=0, unit="kPa", message="120 kPa below low limit 250")
    return wire.alert_topic(device), wire.encode(alert)


# Unacknowledged publishes one Publisher may hold. paho queues without bound otherwise, and with
# paho-mqtt 2.2 a 100,000-message backlog stalls at ~68,000 acknowledgements: more messages than
# MQTT's 65,535 packet ids were in flight. Well under that, and large enough to keep the broker busy.
WINDOW = 10_000


class Publisher:
    """One paho connection publishing QoS 1, counting broker PUBACKs.

    ``publish()`` blocks while ``window`` messages are unacknowledged, so a backlog of any size
    goes out at the broker's pace instead of piling up in paho.
    """

    def __init__(self, port: int, client_id: str, window: int = WINDOW) -> None:
        if not 1 <= window < 65_535:
            raise ValueError(f"window must be 1..65534 unacknowledged messages, not {window}")
        self.window = window
        self.acked = 0
        self.published = 0
        self.peak_unacked = 0
        self._room = threading.Condition()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                                  protocol=mqtt.MQTTv5)
        self.client.max_inflight_messages_set(1000)
        self.client.max_queued_messages_set(0)
        self.client.on_publish = self._on_publish
        connected = threading.Event()
        self.client.on_connect = lambda *a: connected.set()
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        if not connected.wait(10):
            raise RuntimeError("the load generator could not connect to the broker")

    def _on_publish(self, *args: object) -> None:
        with self._room:
            self.acked += 1
            self._room.notify()

    def publish(self, topic: str, payload: bytes, timeout: float = 60.0) -> None:
        """Publish QoS 1 once fewer than ``window`` messages wait for the broker's PUBACK."""
        with self._room:
            if not self._room.wait_for(lambda: self.published - self.acked < self.window, timeout):
                raise RuntimeError(f"the broker acknowledged nothing for {timeout:.0f} s with "
                                   f"{self.published - self.acked} messages outstanding")
            self.published += 1
            self.peak_unacked = max(self.peak_unacked, self.published - self.acked)
        info = self.client.publish(topic, payload, qos=1)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            raise RuntimeError(f"paho refused a publish: {mqtt.error_string(info.rc)}")

    def wait_acked(self, count: int, timeout: float) -> bool:
        with self._room:
            return self._room.wait_for(lambda: self.acked >= count, timeout)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def paced(items: Iterable[tuple[str, str, bytes]], rate: float,
          on_send: Callable[[str, float], None] | None = None,
          seconds: float | None = None) -> Iterator[tuple[str, bytes]]:
    """Yield (topic, payload) at ``rate`` per second, in slices of 5 ms; with ``seconds``,
    stop taking items that long after the start (a publisher slower than ``rate`` then
    offers what it can in that time, instead of running on until every item is out)."""
    started = time.monotonic()
    for index, (alert_id, topic, payload) in enumerate(items):
        if seconds is not None and time.monotonic() - started >= seconds:
            return
        due = started + index / rate
        delay = due - time.monotonic()
        if delay > 0.005:
            time.sleep(delay)
        if on_send is not None:
            on_send(alert_id, time.monotonic())
        yield topic, payload


@dataclass
class CountingSubscriber:
    """The bare paho baseline: subscribes QoS 1 (persistent session) and only counts."""

    port: int
    client_id: str
    topic: str = ALERT_TOPICS
    received: int = 0
    first: float = 0.0
    last: float = 0.0
    arrivals: dict[bytes, float] = field(default_factory=dict)
    keep: Callable[[bytes], bytes | None] | None = None

    def connect(self) -> None:
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.client_id,
                                  protocol=mqtt.MQTTv5)
        self.client.on_message = self._on_message
        subscribed = threading.Event()
        self.client.on_subscribe = lambda *a: subscribed.set()
        self.client.on_connect = lambda c, *a: c.subscribe(self.topic, qos=1)
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = 3600
        props.ReceiveMaximum = 1000  # as the hub asks
        self.client.connect("127.0.0.1", self.port, clean_start=False, properties=props)
        self.client.loop_start()
        if not subscribed.wait(10):
            raise RuntimeError("the counting subscriber could not subscribe")

    def _on_message(self, client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        now = time.monotonic()
        if not self.received:
            self.first = now
        self.received += 1
        self.last = now
        if self.keep is not None:
            key = self.keep(bytes(message.payload))
            if key is not None:
                self.arrivals[key] = now

    def wait(self, count: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self.received < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.received >= count

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def mosquitto_sub_argv(port: int, client_id: str, count: int | None) -> list[str]:
    """mosquitto_sub with a persistent MQTT 5 session; prints a receive timestamp per message."""
    binary = shutil.which("mosquitto_sub") or "mosquitto_sub"
    argv = [binary, "-h", "127.0.0.1", "-p", str(port), "-V", "mqttv5", "-i", client_id, "-c",
            "-x", "3600", "-q", "1", "-t", ALERT_TOPICS]
    return argv + (["-E"] if count is None else ["-C", str(count), "-F", "%U"])


def mosquitto_sub_drain(port: int, client_id: str, count: int, timeout: float) -> float:
    """Messages/s at which mosquitto_sub receives ``count`` queued messages (first to last)."""
    out = subprocess.run(mosquitto_sub_argv(port, client_id, count), capture_output=True,
                         text=True, timeout=timeout, check=True).stdout.split()
    if len(out) < count:
        raise RuntimeError(f"mosquitto_sub printed {len(out)} of {count} messages")
    first, last = float(out[0]), float(out[count - 1])
    return (count - 1) / (last - first)


# -- raw MQTT 3.1.1 device connections (thousands of them without thousands of threads) --------
def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _string(data: bytes) -> bytes:
    return struct.pack("!H", len(data)) + data


def connect_packet(client_id: str, will_topic: str, will_payload: bytes) -> bytes:
    """CONNECT, clean session, keep-alive off, retained QoS 1 last will."""
    flags = 0x02 | 0x04 | 0x08 | 0x20
    body = (_string(b"MQTT") + bytes([4, flags]) + struct.pack("!H", 0)
            + _string(client_id.encode()) + _string(will_topic.encode()) + _string(will_payload))
    return bytes([0x10]) + _varint(len(body)) + body


def publish_packet(topic: str, payload: bytes, retain: bool = False) -> bytes:
    """PUBLISH at QoS 0 (nothing to acknowledge; the device benchmark only needs delivery)."""
    body = _string(topic.encode()) + payload
    return bytes([0x30 | (0x01 if retain else 0)]) + _varint(len(body)) + body


class RawDevice:
    """One simulated edge device: a socket, an online status (retained), an offline last will."""

    def __init__(self, port: int, device: str, zone: str) -> None:
        self.device, self.zone = device, zone
        offline = wire.Status(device=device, zone=zone, state="offline", ts=time.time())
        online = wire.Status(device=device, zone=zone, state="online", ts=time.time())
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.sendall(connect_packet(f"dev-{device}", wire.status_topic(device),
                                         wire.encode(offline))
                          + publish_packet(wire.status_topic(device), wire.encode(online), True))

    def connack(self) -> bool:
        self.sock.settimeout(10)
        data = b""
        while len(data) < 4:
            chunk = self.sock.recv(4 - len(data))
            if not chunk:
                return False
            data += chunk
        return data[0] == 0x20 and data[3] == 0

    def alert(self, alert_id: str) -> None:
        topic, payload = alert_now(alert_id, self.device, self.zone)
        self.sock.sendall(publish_packet(topic, payload))

    def drop(self) -> None:
        """Vanish without DISCONNECT, so the broker publishes the last will."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()
