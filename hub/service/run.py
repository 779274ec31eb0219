"""``lifeline-hub run``: the MQTT session around Ingest, with acks only after commit.

paho-mqtt's network thread only enqueues messages (a bounded queue whose
blocking put is the back-pressure: while the hub is behind it stops reading, the
broker stops sending; higher grades overtake lower ones in it, hub/core/priority.py).
The main thread drains the queue in batches, commits each batch in one transaction,
then acknowledges every message of the batch to the broker (manual acks) and
publishes a ``wire.Ack`` per device. A crash anywhere
before the commit means the broker redelivers; the store drops the duplicates.

The session is persistent (stable client id, ``clean_start=False``, MQTT 5
session expiry), so alerts published while the hub is down wait at the broker.

A PostgreSQL store that fails while the hub runs (the server restarted, the connection
lost) does not end the process: the hub leaves the broker without acknowledging anything
uncommitted, reconnects to the database with backoff (1 s .. 30 s, pinging systemd's
watchdog meanwhile), and starts over from what the store holds, as after a restart; the
broker redelivers the rest. One of a share group (session expiry 0: its session, and what
the broker handed it, would end with the connection) stays connected instead, receiving
into its bounded inbox without acknowledging, and commits the failed batch first when the
database is back. A SQLite store that fails still stops the hub (exit 1).
"""

from __future__ import annotations

import dataclasses
import logging
import queue
import random
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from hub.config import HubConfig, load_hub_config
from hub.core.priority import PriorityInbox, priority_of
from hub.registry import RegistryGuard, load_registry
from hub.service.ingest import Ingest
from hub.service.routing import MQTT_ROUTE, mark_failed, route_heads
from hub.service.webhook import WebhookSender
from hub.store import BackendError, DatabaseError, OutboxRow, Store, StoreError
from hub.store.retention import Pruner
from lifeline import wire
from lifeline.mqtt_session import ConnectFailures, connect_persistent, new_client
from lifeline.sdnotify import Notifier
from lifeline.tomlconfig import ConfigError

log = logging.getLogger(__name__)

SESSION_EXPIRY_S = 7 * 86400
SHARED_SESSION_EXPIRY_S = 0  # one of a share group: see MqttInbox.start
DRAIN_MAX_S = 10.0        # SIGTERM in a share group: drain at most this long ...
DRAIN_QUIET_S = 0.5       # ... until the broker sent nothing for this long
RECEIVE_MAXIMUM = 1000    # unacknowledged messages the broker may send us at once
QUEUE_SIZE = 5000
BATCH_MAX = 500
BATCH_WAIT_S = 0.05
TICK_EVERY_S = 1.0
STATS_EVERY_S = 60.0
DELIVER_EVERY_S = 0.25
WATCHDOG_EVERY_S = 5.0    # well under WatchdogSec/2 (the unit says 30 s)
ACK_CHUNK = 1000          # ids per Ack message, well under the wire's payload limit
OUT_QUEUE_MAX = 1000      # QoS 1 messages paho may hold unacknowledged by the broker
ACKS_WAITING_MAX = 200_000  # committed ids waiting for room (~12 MB); past it the oldest go
PRUNE_BUSY_S = 1.0        # retention: a bounded step this often while there is work ...
PRUNE_IDLE_S = 60.0       # ... and a look this often when there was none
RECONNECT_MIN_S = 1.0     # a lost PostgreSQL store: first retry after this ...
RECONNECT_MAX_S = 30.0    # ... doubling up to this
CLAIM_S = 60.0            # several hubs: an outbox row being sent is not due again before this
LEASE_EVERY_S = 1.0       # several hubs: how often one without the singleton work asks for it
SINGLETON_LEASE = "singleton"  # routing, deliveries, retention, the clock: one hub's at a time


@dataclass(frozen=True, slots=True)
class Inbound:
    """A received message; ``session`` says which connection it came on (acks don't cross)."""

    topic: str
    payload: bytes
    mid: int
    qos: int
    session: int


class MqttInbox:
    """The paho client: subscribes on every connect and turns deliveries into queue items."""

    def __init__(self, config: HubConfig, stopping: threading.Event) -> None:
        self.config = config
        self.stopping = stopping
        # set when nothing more is taken in (after a share group's drain, Hub._leave_group)
        self.closed = threading.Event()
        self.end_session = False  # disconnect with session expiry 0 (left the share group)
        self._last_publish: mqtt.MQTTMessageInfo | None = None
        # a higher grade overtakes a lower one (hub/core/priority.py)
        self.queue: PriorityInbox[Inbound] = PriorityInbox(QUEUE_SIZE)
        self.session = 0
        self.subscribed = threading.Event()
        # [mqtt] share_group: alerts shared with the group's other members (each alert to
        # one of them); statuses are not shared, every hub sees every device's
        group = config.mqtt.share_group
        self.alert_subscription = (wire.shared_subscription(group, wire.ALERT_SUBSCRIPTION)
                                   if group else wire.ALERT_SUBSCRIPTION)
        # TLS and credentials; a bad key or password file is a ConfigError (exit 2)
        self.client = new_client(config.mqtt, config.mqtt.client_id, manual_ack=True)
        # Acks leave through a bounded queue. Past it they wait here, coalesced per device,
        # so an overload makes fewer, larger acks instead of paho holding one message per
        # batch and device without end (it reached paho's 65,535 message ids, ~80-140 MB).
        self.client.max_queued_messages_set(OUT_QUEUE_MAX)
        self.unsent_acks: dict[str, list[str]] = {}  # device -> committed ids not yet published
        self.acks_waiting = 0  # ids in unsent_acks
        self.acks_dropped = 0  # ids never acked because too many waited (the edge resends them)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe
        self.client.on_connect_fail = self._on_connect_fail
        self.connect_failures = ConnectFailures(config.mqtt)

    def start(self) -> None:
        # One of a share group: no session kept after the connection ends. Mosquitto
        # hands a persistent member its share while it is away (measured, docs/scale-out.md):
        # a dead hub's share would wait for it instead of going to the others.
        expiry = SHARED_SESSION_EXPIRY_S if self.config.mqtt.share_group else SESSION_EXPIRY_S
        connect_persistent(self.client, self.config.mqtt, expiry, RECEIVE_MAXIMUM)

    def stop(self) -> None:
        properties = None
        if self.end_session:
            properties = Properties(PacketTypes.DISCONNECT)  # type: ignore[no-untyped-call]
            properties.SessionExpiryInterval = 0
        self.client.disconnect(properties=properties)
        self.client.loop_stop()

    def unsubscribe(self, timeout_s: float) -> bool:
        """Stop taking alerts and statuses; True once the broker confirmed it."""
        done = threading.Event()
        self.client.on_unsubscribe = lambda *args: done.set()
        result, _ = self.client.unsubscribe([self.alert_subscription, wire.STATUS_SUBSCRIPTION])
        return result == mqtt.MQTT_ERR_SUCCESS and done.wait(timeout_s)

    def wait_published(self, timeout_s: float) -> None:
        """Wait (at most ``timeout_s``) until the last ack published reached the broker."""
        if self._last_publish is not None and not self._last_publish.is_published():
            try:
                self._last_publish.wait_for_publish(timeout_s)
            except (RuntimeError, ValueError):
                pass  # not connected: the edges resend what they were not told

    def ack(self, message: Inbound) -> None:
        """PUBACK a committed message, unless it came on an earlier connection (then it is
        redelivered on this one and acked as a duplicate)."""
        if message.session == self.session and message.qos > 0:
            self.client.ack(message.mid, message.qos)

    def publish_ack(self, device: str, ids: list[str]) -> None:
        """Tell ``device`` these committed ids may be forgotten (now, or when there is room).

        The ids waiting are bounded: past ACKS_WAITING_MAX the oldest of the device with the
        most are dropped. Nothing is lost by that -- the edge still holds those alerts and
        resends them after its ack timeout; the hub stores them once and acks them again."""
        self.unsent_acks.setdefault(device, []).extend(ids)
        self.acks_waiting += len(ids)
        while self.acks_waiting > ACKS_WAITING_MAX:
            fullest = max(self.unsent_acks, key=lambda d: len(self.unsent_acks[d]))
            waiting = self.unsent_acks[fullest]
            drop = min(len(waiting), self.acks_waiting - ACKS_WAITING_MAX)
            if self.acks_dropped == 0:
                log.warning("more than %d acks waiting for the broker: dropping the oldest "
                            "(their edges resend those alerts; counted as acks_dropped)",
                            ACKS_WAITING_MAX)
            del waiting[:drop]
            if not waiting:
                del self.unsent_acks[fullest]
            self.acks_waiting -= drop
            self.acks_dropped += drop

    def flush_acks(self) -> None:
        """Publish waiting acks, one message per device and ACK_CHUNK ids, until paho's
        queue is full; the rest stays for the next call (every loop turn)."""
        for device in list(self.unsent_acks):
            ids = self.unsent_acks[device]
            while ids:
                chunk = tuple(ids[:ACK_CHUNK])
                info = self.client.publish(wire.ack_topic(device), wire.encode(wire.Ack(chunk)),
                                           qos=1)
                if info.rc == mqtt.MQTT_ERR_QUEUE_SIZE:
                    return
                self._last_publish = info
                del ids[:ACK_CHUNK]  # published, or queued by paho until the next connection
                self.acks_waiting -= len(chunk)
            del self.unsent_acks[device]

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any,
                    reason_code: ReasonCode, properties: Properties | None) -> None:
        if reason_code.is_failure:
            log.error("broker %s:%d refused the connection: %s", self.config.mqtt.host,
                      self.config.mqtt.port, reason_code)
            return
        self.session += 1
        self.connect_failures.connected()
        log.info("connected to broker %s:%d session_present=%s", self.config.mqtt.host,
                 self.config.mqtt.port, getattr(flags, "session_present", "?"))
        client.subscribe([(self.alert_subscription, 1), (wire.STATUS_SUBSCRIPTION, 1)])

    def _on_connect_fail(self, client: mqtt.Client, userdata: Any) -> None:
        why = self.connect_failures.failed()
        if why is not None:
            log.warning("cannot reach broker %s:%d (%d failure(s) in a row): %s; retrying with "
                        "backoff (1 s .. 30 s)", self.config.mqtt.host, self.config.mqtt.port,
                        self.connect_failures.in_a_row, why)

    def _on_subscribe(self, client: mqtt.Client, userdata: Any, mid: int,
                      reason_codes: list[ReasonCode], properties: Properties | None) -> None:
        refused = [str(code) for code in reason_codes if code.is_failure]
        if refused:
            log.error("broker refused our subscriptions: %s", ", ".join(refused))
        else:
            log.info("subscribed to %s and %s", self.alert_subscription,
                     wire.STATUS_SUBSCRIPTION)
            self.subscribed.set()

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any,
                       reason_code: ReasonCode, properties: Properties | None) -> None:
        self.subscribed.clear()
        if not self.stopping.is_set():
            log.warning("disconnected from broker %s:%d: %s; reconnecting", self.config.mqtt.host,
                        self.config.mqtt.port, reason_code)

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        # Nothing a message holds may raise here: paho would end its network thread (no
        # more messages, ever). A topic that is not UTF-8 is queued under a name ingest
        # refuses as bad_topic, so the message is still counted and acknowledged.
        try:
            topic = message.topic
        except UnicodeDecodeError:
            topic = "(a topic that is not UTF-8)"
        item = Inbound(topic, bytes(message.payload), message.mid, message.qos, self.session)
        rank = priority_of(item.topic, item.payload)
        warned = False
        while not self.closed.is_set():
            try:
                self.queue.put(item, rank, timeout=0.5)
                return
            except queue.Full:
                if not warned:
                    log.warning("inbox full (%d messages): slowing the broker down", QUEUE_SIZE)
                    warned = True


def drain(inbox: PriorityInbox[Inbound], first_wait: float) -> list[Inbound]:
    """Up to BATCH_MAX messages, highest grades first: wait ``first_wait`` for one, then take
    what is there within BATCH_WAIT_S (small batches when it is quiet, big ones in a storm)."""
    try:
        batch = [inbox.get(timeout=first_wait)]
    except queue.Empty:
        return []
    deadline = time.monotonic() + BATCH_WAIT_S
    while len(batch) < BATCH_MAX and time.monotonic() < deadline:
        try:
            batch.append(inbox.get_nowait())
        except queue.Empty:
            break
    return batch


class Hub:
    """The main loop: drain, commit, ack; tick; deliver routed changes; tell systemd we live."""

    def __init__(self, config: HubConfig, store: Store, clock: Callable[[], float] = time.time,
                 notifier: Notifier | None = None, kept: Hub | None = None):
        """``kept``: the hub whose store failed (a share group's, resuming): its MQTT
        connection and the batch it could not commit are taken over (see ``keeps_inbox``)."""
        self.config = config
        self.store = store
        self.clock = clock
        self.notifier = notifier or Notifier()
        self.reload_requested = threading.Event()
        self.ingest = Ingest(store, config, clock())
        # what was received but not committed when the store failed: committed first
        self.pending: list[Inbound] = [] if kept is None else kept.pending
        self.stopping: threading.Event = threading.Event()
        self.inbox: MqttInbox
        if kept is not None:
            self.stopping = kept.stopping
            self.inbox = kept.inbox
        else:
            self.inbox = MqttInbox(config, self.stopping)
        self.keeps_inbox = False  # set by run when the store failed and the session stays
        self.adopted = kept is not None
        self.ingest.guard = _registry_guard(config)
        self.webhooks = WebhookSender({r.name: r.timeout_s for r in config.routing.routes})
        self._published: dict[int, mqtt.MQTTMessageInfo] = {}
        self._rng = random.Random()
        retain_s = config.store.retain_s
        self.pruner = None if retain_s is None else Pruner(store, retain_s)
        self.owner = False  # holds the singleton lease (_take_lease)
        self.metrics = None
        if config.metrics.enabled:  # prometheus_client only then (lifeline/metrics.py)
            from hub.service.metrics import HubMetrics

            self.metrics = HubMetrics(self)

    def run(self) -> int:
        active = sum(1 for i in self.ingest.fusion.incidents if i.active)
        log.info("hub starting broker=%s:%d store=%s active_incidents=%d client_id=%s",
                 self.config.mqtt.host, self.config.mqtt.port, self.store.location, active,
                 self.config.mqtt.client_id)
        if self.config.store.retain_days is not None:
            log.info("retention: alerts, resolved incidents and their events are deleted "
                     "%g days after they are over", self.config.store.retain_days)
        if not self.adopted:  # a kept inbox is connected already
            self.inbox.start()
        if self.metrics is not None:
            self.metrics.exporter.start()
        ready = False
        next_tick = next_stats = next_deliver = next_watchdog = next_prune = next_lease = 0.0
        try:
            while not self.stopping.is_set():
                batch = self.pending or drain(self.inbox.queue, first_wait=0.2)
                if batch:
                    self.pending = batch  # until committed: a failing store keeps it
                    self._commit(batch)
                    self.pending = []
                elif self.inbox.unsent_acks:
                    self.inbox.flush_acks()
                now = time.monotonic()
                if not ready and self.inbox.subscribed.is_set():
                    # the store is open, state recovered, connected and subscribed
                    self.notifier.ready(f"{active} active incidents")
                    ready = True
                if now >= next_watchdog:
                    self.notifier.watchdog()
                    next_watchdog = now + WATCHDOG_EVERY_S
                if self.reload_requested.is_set():
                    self.reload_requested.clear()
                    self.reload()
                if not self.owner and now >= next_lease:
                    self._take_lease()
                    next_lease = now + LEASE_EVERY_S
                if now >= next_tick:
                    self.ingest.tick(self.clock(), owner=self.owner)
                    next_tick = now + TICK_EVERY_S
                if self.owner and now >= next_deliver:
                    self._deliver(self.clock())
                    next_deliver = now + DELIVER_EVERY_S
                if self.owner and self.pruner is not None and now >= next_prune:
                    # between batches, one short transaction: ingest waits one step at most
                    step = self.pruner.step(self.clock(), self.config.fusion.max_span_s)
                    next_prune = now + (PRUNE_BUSY_S if step.busy else PRUNE_IDLE_S)
                if self.metrics is not None:
                    self.metrics.refresh(self.store, now)
                if now >= next_stats:
                    if next_stats:
                        log.info("stats %s", self._stats_line())
                    self.ingest.reset_log_budget()
                    next_stats = now + STATS_EVERY_S
            if self.config.mqtt.share_group:
                self.notifier.stopping()
                self._leave_group()
        finally:
            failed = sys.exc_info()[1]
            # One of a share group stays connected while it waits for the database: its
            # session (expiry 0) would end with the connection, and with it every alert the
            # broker had handed over uncommitted, and the group's alerts while no member
            # is there. The next Hub takes the connection over (run_hub).
            self.keeps_inbox = bool(self.config.mqtt.share_group) and resumable(
                self.config, failed)
            if not self.keeps_inbox:
                self.stopping.set()
                self.inbox.closed.set()
            if not resumable(self.config, failed):  # else it resumes (run_hub)
                self.notifier.stopping()
            if not self.keeps_inbox:
                self.inbox.stop()
            self.webhooks.stop()
            if self.metrics is not None:
                self.metrics.exporter.stop()
            log.info("hub stopped; stats %s", self._stats_line())
        return 0

    def _leave_group(self) -> None:
        """SIGTERM with ``[mqtt] share_group``: leave without loss and without parking a
        share. Unsubscribe (the broker gives the group's alerts to the others from now
        on), commit what it still delivers to us until it has been quiet for
        DRAIN_QUIET_S (at most DRAIN_MAX_S), acknowledge it all (PUBACK and the edges'
        acks), then disconnect ending the session (expiry 0), so the broker keeps
        nothing for a member that is gone. An alert the broker had not yet handed over
        is not lost either way: its edge resends it until some hub acks it."""
        started = time.monotonic()
        log.info("leaving share group %s: unsubscribing, draining what is in flight",
                 self.config.mqtt.share_group)
        self.inbox.unsubscribe(DRAIN_MAX_S)
        drained = 0
        quiet_since = time.monotonic()
        while time.monotonic() - started < DRAIN_MAX_S:
            batch = drain(self.inbox.queue, first_wait=0.1)
            if batch:
                self._commit(batch)
                drained += len(batch)
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since >= DRAIN_QUIET_S:
                break
        self.inbox.flush_acks()
        self.inbox.wait_published(max(0.5, DRAIN_MAX_S - (time.monotonic() - started)))
        log.info("left share group %s: %d messages drained, committed and acknowledged in "
                 "%.1f s", self.config.mqtt.share_group, drained, time.monotonic() - started)
        self.inbox.end_session = True

    def _take_lease(self) -> None:
        """Several hubs on one store: the singleton work -- the clock (quiet incidents
        resolve, maintenance ends), routing and its deliveries, retention -- is done by
        the one hub that holds the store's lease (``Store.try_lease``); the others ask
        every LEASE_EVERY_S, so one of them takes it over within about a second of the
        holder's connection ending. On SQLite the one hub always holds it."""
        if self.store.try_lease(SINGLETON_LEASE):
            self.owner = True
            if self.store.concurrent:
                log.info("lease %s taken: this hub does the devices' statuses, the clock, "
                         "routing, deliveries and retention client_id=%s", SINGLETON_LEASE,
                         self.config.mqtt.client_id)
                self.ingest.take_over(self.clock())

    def _stats_line(self) -> str:
        """The ingest counters, and what retention deleted since start (when it is on)."""
        line = self.ingest.counters.line()
        if self.inbox.acks_waiting or self.inbox.acks_dropped:
            line += (f" acks_waiting={self.inbox.acks_waiting}"
                     f" acks_dropped={self.inbox.acks_dropped}")
        return line if self.pruner is None else f"{line} pruned: {self.pruner.total.line()}"

    def reload(self) -> None:
        """SIGHUP: re-read hub.toml's fusion rules, topology and routes; keep all state.

        A broken file changes nothing (the error is logged); mqtt and store settings
        need a restart and are not touched. The device registry is re-read at once: a device
        removed or revoked is refused from the next message on (hub/registry.py)."""
        if self.ingest.guard is not None:
            self.ingest.guard.reload()
        if self.config.source is None:
            return
        try:
            new = load_hub_config(self.config.source)
        except ConfigError as exc:
            log.error("reload refused, keeping the running configuration: %s", exc)
            return
        if (new.mqtt, new.store) != (self.config.mqtt, self.config.store):
            log.warning("reload: [mqtt] and [store] changes take effect after a restart")
        self.config = dataclasses.replace(self.config, fusion=new.fusion, routing=new.routing,
                                          owners=new.owners, deadlines=new.deadlines)
        self.ingest.reconfigure(self.config)
        self.webhooks.timeouts = {r.name: r.timeout_s for r in new.routing.routes}
        log.info("reloaded %s: %d rules, %d zones, %d routes", self.config.source,
                 len(new.fusion.rules), len(new.fusion.topology.zones), len(new.routing.routes))

    def _commit(self, batch: list[Inbound]) -> None:
        started = time.perf_counter()
        result = self.ingest.batch([(m.topic, m.payload) for m in batch], self.clock())
        if self.metrics is not None:
            self.metrics.committed(time.perf_counter() - started, time.time())
        for message in batch:
            self.inbox.ack(message)
        for device, ids in result.acks.items():
            self.inbox.publish_ack(device, ids)
        self.inbox.flush_acks()

    def _deliver(self, now: float) -> None:
        """Send due outbox rows: webhooks via the sender thread, republish via MQTT (QoS 1)."""
        outbox = self.store.outbox
        outcomes = self.webhooks.results()
        published = [rid for rid, info in self._published.items() if info.is_published()]
        if outcomes or published:
            with self.store.transaction():
                for outcome in outcomes:
                    if outcome.error is None:
                        outbox.delivered(outcome.row.id, now)
                        log.info("routed outbox id=%d route=%s", outcome.row.id,
                                 outcome.row.route)
                    else:
                        if self.metrics is not None:
                            self.metrics.route_failures[outcome.row.route] += 1
                        delay = mark_failed(self.store, outcome.row.id, outcome.error, now,
                                            self.config.routing.retry_max_s, self._rng)
                        log.warning("route %s failed outbox id=%d attempt=%d: %s; retrying in "
                                    "%.1f s", outcome.row.route, outcome.row.id,
                                    outcome.row.attempts + 1, outcome.error, delay)
                for rid in published:
                    outbox.delivered(rid, now)
                    del self._published[rid]
        # only now, with outcomes recorded, look for what is due (no row is sent twice)
        due = outbox.due(now, route=MQTT_ROUTE, exclude=set(self._published))
        batches = route_heads(self.store, now, self.webhooks.busy_routes)
        if not self.inbox.subscribed.is_set():
            due = []
        if self.store.concurrent and (due or batches):
            due, batches = self._claim(due, batches, now)
        unsent = []
        for n, row in enumerate(due):
            info = self.inbox.client.publish(row.url, row.body, qos=1)
            if info.rc == mqtt.MQTT_ERR_QUEUE_SIZE:
                unsent = [r.id for r in due[n:]]  # paho's queue is full: due next round
                break
            self._published[row.id] = info
        if unsent and self.store.concurrent:
            with self.store.transaction():
                outbox.release(unsent, now)
        for rows in batches:
            self.webhooks.submit(rows)

    def _claim(self, due: list[OutboxRow], batches: list[list[OutboxRow]], now: float
               ) -> tuple[list[OutboxRow], list[list[OutboxRow]]]:
        """Several hubs: claim the rows about to be sent in a transaction of their own,
        committed before any is sent (``Outbox.claim``); only what was claimed goes."""
        with self.store.transaction():
            taken = set(self.store.outbox.claim(
                [r.id for r in due] + [r.id for rows in batches for r in rows], now,
                now + CLAIM_S))
        claimed = [[r for r in rows if r.id in taken] for rows in batches]
        return [r for r in due if r.id in taken], [rows for rows in claimed if rows]


def _registry_guard(config: HubConfig) -> RegistryGuard:
    """The device registry every message is checked against (hub/registry.py)."""
    path = config.security.registry
    if path is None:
        log.warning("no device registry ([security] registry in hub.toml): messages from any "
                    "device the broker admits are accepted")
        return RegistryGuard(None)
    registry = load_registry(path)
    if registry.devices:
        log.info("device registry %s: %d devices", path, len(registry.devices))
    else:
        log.warning("device registry %s is empty or missing: every device's messages are "
                    "refused until devices are provisioned", path)
    return RegistryGuard(registry)


def resumable(config: HubConfig, exc: BaseException | None) -> bool:
    """``exc`` is a PostgreSQL store failing (not one message's values): the hub waits for
    the database and resumes instead of stopping."""
    return (config.store.url is not None and isinstance(exc, BackendError)
            and not exc.value_error)


def run_hub(config: HubConfig) -> int:
    """Run until SIGTERM/SIGINT (exit 0); 1 if the store cannot be opened or fails (but a
    PostgreSQL store failing while the hub runs: see the module's docstring)."""
    try:
        store = Store.writer(config.store)
    except StoreError as exc:
        log.error("%s", exc)
        return 1
    stop_requested = threading.Event()
    current: list[Hub] = []

    def stop(signum: int, frame: FrameType | None) -> None:
        log.info("received %s; stopping", signal.Signals(signum).name)
        stop_requested.set()
        for hub in current:
            hub.stopping.set()

    def reload(signum: int, frame: FrameType | None) -> None:
        log.info("received SIGHUP; reloading %s", config.source)
        for hub in current:
            hub.reload_requested.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGHUP, reload)
    stop_board = None
    if config.board.with_hub:  # [board] with_hub: the web board in this process's threads
        from hub.board.commands import serve_with_hub
        from lifeline.errors import HubError

        try:
            stop_board = serve_with_hub(config)
        except HubError as exc:  # the hub's own work comes first: it runs without the board
            log.error("%s; the hub runs without the board", exc)
    kept: Hub | None = None  # a share group's hub whose store failed: its connection stays
    try:
        while True:
            try:
                hub = Hub(config, store, kept=kept)
                kept = None
                current[:] = [hub]
                if stop_requested.is_set():
                    hub.stopping.set()
                return hub.run()
            except (DatabaseError, BackendError, OSError) as exc:
                if not resumable(config, exc):  # the store failed: nothing uncommitted was acked
                    log.exception("hub failed; unacknowledged messages will be redelivered "
                                  "after a restart")
                    return 1
                log.error("the store failed: %s; nothing uncommitted was acknowledged (the "
                          "broker redelivers it); waiting for the database", exc)
            if current:  # what SIGHUP reloaded is kept
                config = current[0].config
                kept = current[0] if current[0].keeps_inbox else None
            store.close()
            found = _reconnect(config, stop_requested)
            if found is None:
                return 0
            store = found
            log.info("store %s is back; resuming", store.location)
    finally:
        if kept is not None:  # asked to stop while waiting for the database
            kept.stopping.set()
            kept.inbox.closed.set()
            kept.inbox.stop()
        if stop_board is not None:
            stop_board()
        store.close()


def _reconnect(config: HubConfig, stop_requested: threading.Event) -> Store | None:
    """The store again once the database answers; None if asked to stop meanwhile. The
    watchdog is pinged while waiting: the process is alive, only its database is not."""
    notifier = Notifier()
    delay = RECONNECT_MIN_S
    while not stop_requested.is_set():
        notifier.notify("WATCHDOG=1", "STATUS=waiting for the store")
        if stop_requested.wait(delay):
            break
        try:
            return Store.writer(config.store)
        except StoreError as exc:
            delay = min(delay * 2, RECONNECT_MAX_S)
            log.warning("store still unreachable: %s; retrying in %.0f s", exc, delay)
    return None
