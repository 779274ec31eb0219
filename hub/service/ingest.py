"""One batch of MQTT messages -> validated, stored once, fused, committed in one transaction.

No MQTT here: the service hands in (topic, payload) pairs and gets back which
alert ids each device may now forget. Everything a batch does commits together
or not at all; if the store fails the hub stops, and on restart it rebuilds
fusion from the store while the broker redelivers what was never acknowledged.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections import Counter, deque
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field, replace

from hub import registry
from hub.config import HubConfig
from hub.core import maintenance
from hub.core.accountability import Accountable
from hub.core.domains import Domains, hazard_of_fields
from hub.core.fusion import Change, Flapped, Fusion, Joined, Merged, Opened
from hub.service import security_events
from hub.service.escalation import escalate
from hub.service.routing import route_events
from hub.store import Store, store_failure
from lifeline import wire

log = logging.getLogger(__name__)

LOG_PER_REASON = 10  # invalid messages logged per reason between two stats lines
LOG_STATUS_PER_DEVICE = 10  # status lines logged per device between two stats lines
UNFUSED_STATUSES = 50  # per device, the statuses a hub without the lease keeps (take_over)
UNPROCESSABLE = "unprocessable"  # the reason of a message that raised what no check foresaw
@dataclass
class BatchResult:
    """What one committed batch did; ``acks`` maps device -> alert ids now safe in the store."""

    acks: dict[str, list[str]] = field(default_factory=dict)
    changes: list[Change] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Done:
    """What one message did: the alert to acknowledge to its edge (also a duplicate), whether
    it was a status, and the incident changes it made."""

    acked: wire.Alert | None = None
    duplicate: bool = False
    status: bool = False
    changes: list[Change] = field(default_factory=list)


@dataclass
class Counters:
    received: int = 0
    stored: int = 0
    duplicates: int = 0
    statuses: int = 0
    clock_skew: int = 0  # alerts whose own time was implausible: fused at receipt time
    invalid: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)  # security events, by reason

    def line(self) -> str:
        invalid = ", ".join(f"{k}={v}" for k, v in sorted(self.invalid.items())) or "none"
        refused = ", ".join(f"{k}={v}" for k, v in sorted(self.refused.items())) or "none"
        return (f"received={self.received} stored={self.stored} duplicates={self.duplicates} "
                f"statuses={self.statuses} clock_skew={self.clock_skew} invalid: {invalid} "
                f"refused: {refused}")


class Ingest:
    """Turns batches of raw messages into store rows and incident changes."""

    guard: registry.RegistryGuard | None = None  # the device registry, set by the service

    def __init__(self, store: Store, config: HubConfig, now: float) -> None:
        self.store = store
        self.config = config
        # Several hubs on one store (PostgreSQL): a batch locks the fusion domains it
        # touches and first reads again those another hub wrote since (issue 17)
        self.shared = store.concurrent
        self.domains = Domains.build(config.fusion)
        self.domain_reloads = 0  # domains read again because another hub wrote them
        self._token = uuid.uuid4().hex[:12]
        self._writes = 0
        self._seen: dict[str, str] = store.domain_tokens() if self.shared else {}
        # Statuses reach every hub (not shared): only the holder of the singleton lease
        # fuses and records them -- a hub behind the others would otherwise apply an old
        # status after a newer one. The others keep each device's recent ones, for when
        # they take the lease over (take_over).
        self.status_owner = not self.shared
        self._unfused_statuses: dict[str, deque[tuple[str, bytes, wire.Status]]] = {}
        self.fusion = Fusion(config.fusion, store.live_incidents(now, config.fusion.max_span_s),
                             next_id=store.next_incident_id())
        self.fusion.id_source = store.incident_ids()
        self.fusion.set_maintenance(store.maintenance.marks())
        self.fusion.set_offline(store.offline_devices())
        self.fusion.accountable = accountable(config)
        self.counters = Counters()
        self._logged: Counter[str] = Counter()
        self._desk_revision = store.desk_revision()
        with self.store.transaction():
            route_events(store, config.routing, config.fusion.topology, now)

    def reconfigure(self, config: HubConfig) -> None:
        """New fusion rules, topology and routes (SIGHUP); incidents and rule state are kept."""
        self.config = config
        self.fusion.config = config.fusion
        self.fusion.accountable = accountable(config)
        self.domains = Domains.build(config.fusion)
        self._seen = {}  # the domains may have changed: read every one again when touched

    def batch(self, messages: Sequence[tuple[str, bytes]], now: float) -> BatchResult:
        """Handle ``messages`` received by wall time ``now`` in one transaction.

        One message can never stop the batch: whatever it makes us raise -- a WireError,
        or anything else (a bug its content reaches) -- undoes that message's writes (a
        savepoint), is counted under a reason and logged, and the batch goes on; the
        broker gets its PUBACK (redelivering it cannot help), the edge no ack (so an
        alert stays in its outbox). Only a failure of the store itself
        (``STORE_FAILURES``: disk full, database gone) leaves here: then nothing of the
        batch is committed nor acknowledged, and the hub stops."""
        result = BatchResult()
        unexpected = False
        domains = self._domains_of(messages) if self.shared else None
        with self.store.transaction(domains):
            self._sync_desk(now)
            if domains is not None:
                self._refresh(domains, now)
            alerts: list[tuple[str, bytes]] = []  # a run of alert messages, handled together
            for topic, payload in messages:
                if _is_alert_topic(topic):
                    alerts.append((topic, payload))
                    continue
                unexpected |= self._alert_run(alerts, now, result)
                alerts = []
                unexpected |= self._message(topic, payload, now, result)
            unexpected |= self._alert_run(alerts, now, result)
            self.store.apply(result.changes, now)
            if self.shared:  # routing is the lease holder's, after the batches (Hub.run)
                self._written(result.changes)
            else:
                route_events(self.store, self.config.routing, self.config.fusion.topology, now)
        if unexpected:
            # fusion may hold half of what the failed message did: take the store's word
            self._reload_all(now)
        _log_changes(result.changes)
        return result

    def _message(self, topic: str, payload: bytes, now: float, result: BatchResult) -> bool:
        """One message on its own, its writes in a savepoint; True if it raised what no
        check foresaw (then fusion is rebuilt from the store after the batch)."""
        self.counters.received += 1
        try:
            with self.store.savepoint():
                done = self._one(topic, payload, now)
        except wire.WireError as exc:
            self._invalid(topic, exc.reason, str(exc))
            return False
        except Exception as exc:
            if store_failure(exc):
                raise
            self._unprocessable(topic, payload, exc)
            return True
        self._count(done, result)
        return False

    def _alert_run(self, run: Sequence[tuple[str, bytes]], now: float,
                   result: BatchResult) -> bool:
        """Consecutive alert messages of a batch, as ``_message`` would handle each, in
        fewer statements: all validated (``_checked_alert``), stored in one look-up and one
        insert (``_store_alerts``), then the new ones fused in arrival order. An alert that
        fusion cannot take is refused alone: its row is deleted again (what its savepoint
        did). True if any message raised what no check foresaw."""
        unexpected = False
        checked: list[tuple[str, bytes, wire.Alert, str]] = []
        for topic, payload in run:
            self.counters.received += 1
            try:
                alert_body = self._checked_alert(topic, payload, now)
            except wire.WireError as exc:
                self._invalid(topic, exc.reason, str(exc))
                continue
            except Exception as exc:
                if store_failure(exc):
                    raise
                unexpected = True
                self._unprocessable(topic, payload, exc)
                continue
            if alert_body is not None:
                checked.append((topic, payload, *alert_body))
        stored = self._store_alerts(checked, now)
        failed: set[tuple[str, str]] = set()  # (device, id) fusion could not take
        for (topic, payload, alert, _), new in zip(checked, stored, strict=True):
            if new is None:  # the store refused its row (counted)
                unexpected = True
                continue
            if not new and (alert.device, alert.id) in failed:
                # a copy of an alert refused above: refused too (alone, its row would
                # have been stored and fused again, and failed the same way)
                self._unprocessable(topic, payload, RuntimeError(
                    f"a copy of alert {alert.id} that fusion could not take"))
                continue
            if not new:
                log.debug("duplicate alert id=%s device=%s sensor=%s", alert.id, alert.device,
                          alert.sensor)
                self._count(_Done(acked=alert, duplicate=True), result)
                continue
            try:
                changes = self.fusion.alert(alert, now)
            except Exception as exc:
                if store_failure(exc):
                    raise
                unexpected = True
                self.store.remove_alert(alert)
                failed.add((alert.device, alert.id))
                self._unprocessable(topic, payload, exc)
                continue
            self._count(_Done(acked=alert, changes=changes), result)
        return unexpected

    def _checked_alert(self, topic: str, payload: bytes, now: float
                       ) -> tuple[wire.Alert, str] | None:
        """An alert message validated as ``_one`` does (its time, its device): the alert and
        the JSON text to store (the payload itself when it is canonical), or None if it was
        refused as a security event; WireError if it is not in the contract."""
        with _contract_errors():
            try:
                alert, body = wire.decode_alert_body(payload, now=now)
            except wire.WireError as exc:
                if exc.reason != "bad_timestamp":
                    raise
                alert = self._skewed(topic, payload, now, exc)
                body = wire.encode(alert).decode()
        if self._refused(topic, alert, now):
            return None
        return alert, body

    def _store_alerts(self, checked: Sequence[tuple[str, bytes, wire.Alert, str]], now: float
                      ) -> list[bool | None]:
        """Per alert: True if stored now, False if a duplicate, None if the store refused its
        row (a value it cannot hold: counted as unprocessable, alone)."""
        if not checked:
            return []
        try:
            with self.store.savepoint():
                return list(self.store.add_alerts([(a, body) for _, _, a, body in checked], now))
        except Exception as exc:
            if store_failure(exc):
                raise
        stored: list[bool | None] = []  # one row failed: alert by alert, to refuse that one
        for topic, payload, alert, body in checked:
            try:
                with self.store.savepoint():
                    stored.append(self.store.add_alert(alert, now, body))
            except Exception as exc:
                if store_failure(exc):
                    raise
                self._unprocessable(topic, payload, exc)
                stored.append(None)
        return stored

    def tick(self, now: float, owner: bool = True) -> list[Change]:
        """Let time pass: auto-resolve quiet incidents, persisting and routing what changed
        (operators' actions included). A changed device registry is re-read here too, so a
        revocation takes effect within a second even while no message arrives.

        On a store several hubs share, only the ``owner`` of the singleton work (the
        lease, hub/service/run.py) ticks and routes: alone in the store for that
        transaction, after reading again every domain another hub wrote."""
        if self.guard is not None:
            self.guard.refresh(now)
        if not owner:
            return []
        with self.store.transaction():
            self._sync_desk(now)
            if self.shared:
                self._refresh_stale(now)
            changes = self.fusion.tick(now)
            changes += escalate(self.fusion, self.store, self.config.deadlines,
                                self.config.fusion.topology, now)
            self.store.apply(changes, now)
            if self.shared:
                self._written(changes)
            route_events(self.store, self.config.routing, self.config.fusion.topology, now)
        _log_changes(changes)
        return changes

    # -- several hubs on one store (issue 17) ---------------------------------------------
    def take_over(self, now: float) -> BatchResult:
        """This hub now holds the singleton lease: from now on it fuses the devices'
        statuses, starting with the latest it received of each device while another hub
        did (a status already applied changes nothing: as a retained one, redelivered)."""
        self.status_owner = True
        recorded = self.store.device_statuses()
        pending: list[tuple[str, bytes]] = []
        for device, seen in self._unfused_statuses.items():
            items = list(seen)
            start = 0  # after the last one the store holds: what the old holder applied
            for k in range(len(items) - 1, -1, -1):
                if wire.encode(items[k][2]).decode() == recorded.get(device):
                    start = k + 1
                    break
            pending.extend((topic, payload) for topic, payload, _ in items[start:])
        self._unfused_statuses.clear()
        return self.batch(pending, now) if pending else BatchResult()

    def _domains_of(self, messages: Sequence[tuple[str, bytes]]) -> set[str]:
        """The fusion domains these messages may touch (hub/core/domains.py); a status
        only if this hub fuses statuses."""
        keys: set[str] = set()
        for topic, payload in messages:
            if not self.status_owner and topic.endswith("/status"):
                continue
            fields = wire.peek_fusion_fields(payload)
            if fields is not None:
                zone, kind, reason = fields
                keys.update(self.domains.keys(zone, hazard_of_fields(kind, reason)))
        return keys

    def _refresh(self, keys: Collection[str], now: float,
                 tokens: dict[str, str] | None = None) -> None:
        """Inside the transaction that holds their locks: read again the incidents of the
        domains another hub wrote since this one last saw them."""
        tokens = self.store.domain_tokens(keys) if tokens is None else tokens
        stale = [k for k in keys if tokens.get(k, "") != self._seen.get(k, "")]
        if not stale:
            return
        zones: set[str] = set()
        for key in stale:
            zones |= self.domains.zones_of(key)
        hazards = {k.removeprefix("hazard:") for k in stale if k.startswith("hazard:")}
        loaded = self.store.live_incidents_in(now, self.config.fusion.max_span_s, zones, hazards)
        self.fusion.refresh(lambda incident: self.domains.holds(stale, incident), loaded)
        for key in stale:
            self._seen[key] = tokens.get(key, "")
        self.domain_reloads += len(stale)

    def _refresh_stale(self, now: float) -> None:
        """Alone in the store (a tick): read again every domain another hub wrote."""
        tokens = self.store.domain_tokens()
        self._refresh(tokens.keys(), now, tokens)

    def _written(self, changes: Sequence[Change]) -> None:
        """Leave this hub's token on the domains whose incidents these changes wrote."""
        keys: set[str] = set()
        for change in changes:
            keys.update(self.domains.of_incident(change.incident))
            if isinstance(change, Merged) and change.absorbed is not None:
                keys.update(self.domains.of_incident(change.absorbed))
        if not keys:
            return
        self._writes += 1
        token = f"{self._token}:{self._writes}"
        self.store.set_domain_tokens(keys, token)
        self._seen.update(dict.fromkeys(keys, token))

    def _reload_all(self, now: float) -> None:
        """Take the store's word for every incident (the domains' tokens read first: what
        another hub commits meanwhile is read again when its domain is next touched)."""
        tokens = self.store.domain_tokens() if self.shared else {}
        self.fusion.reload(self.store.live_incidents(now, self.config.fusion.max_span_s))
        self._seen = tokens

    def _sync_desk(self, now: float) -> None:
        """An operator changed incidents (desk CLI): take the store's word for them.

        Called inside the write transaction, so nothing the operator wrote can be
        overwritten by a stale copy held here."""
        revision = self.store.desk_revision()
        if revision != self._desk_revision:
            self._reload_all(now)
            self.fusion.set_maintenance(self.store.maintenance.marks())
            self._desk_revision = revision

    def reset_log_budget(self) -> None:
        """A new stats period: say how many statuses each chatty device sent quietly."""
        for key, count in sorted(self._logged.items()):
            if key.startswith("status:") and count > LOG_STATUS_PER_DEVICE:
                log.info("device status device=%s: %d more statuses not logged (%d in all since "
                         "the last stats line)", key.removeprefix("status:"),
                         count - LOG_STATUS_PER_DEVICE, count)
        self._logged.clear()

    def _log_status(self, status: wire.Status) -> None:
        """A status line per status, up to LOG_STATUS_PER_DEVICE per device and stats period;
        then one line that says the rest are counted (a flapping connection sends thousands)."""
        key = f"status:{status.device}"
        self._logged[key] += 1
        if self._logged[key] <= LOG_STATUS_PER_DEVICE:
            log.info("device status device=%s zone=%s state=%s", status.device, status.zone,
                     status.state)
        elif self._logged[key] == LOG_STATUS_PER_DEVICE + 1:
            log.info("more statuses from device=%s; counting them quietly until the next stats "
                     "line", status.device)

    def _one(self, topic: str, payload: bytes, now: float) -> _Done:
        """Validate, check, store and fuse one message that is not an alert (alerts go in
        runs: ``_alert_run``); what it did, for ``_count``."""
        status = _decode_status(topic, payload)
        if status is None or self._refused(topic, status, now):
            return _Done()
        if not self.status_owner:
            self._unfused_statuses.setdefault(
                status.device, deque(maxlen=UNFUSED_STATUSES)).append((topic, payload, status))
            return _Done(status=True)
        self.store.record_status(status, now, wire.encode(status).decode())
        self._log_status(status)
        self._device_maintenance(status, now)
        return _Done(status=True, changes=self.fusion.status(status, now))

    def _device_maintenance(self, status: wire.Status, now: float) -> None:
        """A device's status that asks for maintenance (``lifeline-edge probe``) marks it,
        for at most ``maintenance.DEVICE_MAX_S`` (``maintenance.device_request``)."""
        if status.maintenance_until is None:
            return
        mark = maintenance.device_request(self.store.maintenance.mark(status.device), status,
                                          now)
        if mark is None:
            return
        self.store.maintenance.start(mark)
        self.fusion.set_maintenance(self.store.maintenance.marks())
        log.info("maintenance device=%s until=%s by=device comment=%r", status.device,
                 wire.format_ts(mark.until), mark.comment)

    def _count(self, done: _Done, result: BatchResult) -> None:
        """A message handled in full: its ack, its changes, its counters."""
        if done.acked is not None:
            result.acks.setdefault(done.acked.device, []).append(done.acked.id)
            if done.duplicate:
                self.counters.duplicates += 1
            else:
                self.counters.stored += 1
        self.counters.statuses += done.status
        result.changes.extend(done.changes)

    def _refused(self, topic: str, message: wire.Alert | wire.Status, now: float) -> bool:
        """A message from the wrong device (topic, registry, zone) becomes a security event;
        it is never stored as an alert nor fused (hub/registry.py, hub/service/security_events.py)."""
        topic_device, _ = wire.parse_topic(topic)
        rejection = (self.guard.check(topic_device, message.device, message.zone, now)
                     if self.guard is not None
                     else registry.check_message(None, topic_device, message.device, message.zone))
        if rejection is None:
            return False
        self.counters.refused[rejection.reason] += 1
        security_events.record(self.store, now, security_events.payload(rejection, topic, message))
        self._logged[f"refused:{rejection.reason}"] += 1
        if self._logged[f"refused:{rejection.reason}"] <= LOG_PER_REASON:
            log.warning("refused message topic=%s device=%s reason=%s: %s", topic, message.device,
                        rejection.reason, rejection.detail)
        return True

    def _skewed(self, topic: str, payload: bytes, now: float, exc: wire.WireError) -> wire.Alert:
        """An alert valid in every way but its time, which is far from the hub's clock.

        That is a device clock fault (a board without RTC before NTP sync, a drifting
        clock), not a reason to lose the alert: refused, it would sit unacknowledged in
        the edge's outbox and be resent for ever, filling its delivery window. It is
        stored and fused at the time the hub received it, with the device's own time
        kept at the front of its message, and counted as ``clock_skew``. A time that is
        not a time at all stays ``bad_timestamp``."""
        device, kind = wire.parse_topic(topic)
        if kind != "alert":
            raise exc
        try:
            alert = wire.decode_alert(payload)  # no plausibility window
            device_time = wire.format_ts(alert.ts)
        except (wire.WireError, ValueError, OverflowError, OSError):
            raise exc from None
        self.counters.clock_skew += 1
        self._logged[f"clock_skew:{alert.device}"] += 1
        if self._logged[f"clock_skew:{alert.device}"] <= LOG_PER_REASON:
            log.warning("device clock off device=%s sensor=%s id=%s: alert time %s, hub time %s; "
                        "fused at the hub's time", device, alert.sensor, alert.id, device_time,
                        wire.format_ts(now))
        message = (f"[device clock: {device_time}] " + alert.message)[:wire.MAX_TEXT]
        return replace(alert, ts=now, message=message)

    def _unprocessable(self, topic: str, payload: bytes, exc: Exception) -> None:
        """A message that made us raise something the contract did not foresee: a bug its
        content reaches. Counted as ``unprocessable`` and logged with the traceback (within
        the log budget), so it is seen and fixed; the hub goes on."""
        self.counters.invalid[UNPROCESSABLE] += 1
        self._logged[UNPROCESSABLE] += 1
        if self._logged[UNPROCESSABLE] <= LOG_PER_REASON:
            log.error("unprocessable message topic=%s bytes=%d: %r; refused, the hub goes on",
                      topic, len(payload), exc, exc_info=exc)
        elif self._logged[UNPROCESSABLE] == LOG_PER_REASON + 1:
            log.error("more unprocessable messages; counting them quietly until the next "
                      "stats line")

    def _invalid(self, topic: str, reason: str, detail: str) -> None:
        self.counters.invalid[reason] += 1
        self._logged[reason] += 1
        if self._logged[reason] <= LOG_PER_REASON:
            log.warning("invalid message topic=%s reason=%s: %s", topic, reason, detail)
        elif self._logged[reason] == LOG_PER_REASON + 1:
            log.warning("more invalid messages with reason=%s; counting them quietly until the "
                        "next stats line", reason)


def _is_alert_topic(topic: str) -> bool:
    """An alert's topic (``_alert_run`` takes it); anything else goes one by one."""
    try:
        return wire.parse_topic(topic)[1] == "alert"
    except wire.WireError:
        return False


def accountable(config: HubConfig) -> Accountable:
    """Owners and deadlines of hub.toml, for fusion to stamp its incidents with."""
    return Accountable(config.owners, config.deadlines, config.fusion.topology)


@contextlib.contextmanager
def _contract_errors() -> Iterator[None]:
    """A decoder failing in a way the contract did not foresee is still the message's fault,
    not a reason to stop the hub (the broker would redeliver it forever): ``malformed``."""
    try:
        yield
    except wire.WireError:
        raise
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:
        raise wire.WireError("malformed", f"cannot decode the payload: {exc!r}") from exc


def _decode_status(topic: str, payload: bytes) -> wire.Status | None:
    """Validate a message that is not an alert; WireError (with a counted reason) for
    anything not in the contract."""
    _, kind = wire.parse_topic(topic)  # the device is checked against the topic in _refused
    if kind == "status":
        with _contract_errors():
            # an empty retained payload just clears a status: nothing to learn
            return wire.decode_status(payload) if payload else None
    raise wire.WireError("bad_topic", f"topic {topic!r} is not an alert or status topic")


def _log_changes(changes: Sequence[Change]) -> None:
    for change in changes:
        incident = change.incident
        alert = change.alert if isinstance(change, Opened | Joined) else None
        level = logging.DEBUG if isinstance(change, Joined | Flapped) else logging.INFO
        log.log(level, "incident %s %s zone=%s hazard=%s grade=%s alerts=%d%s", incident.label,
                change.kind, incident.zone, incident.hazard, incident.grade.label,
                incident.alert_count,
                f" alert id={alert.id} device={alert.device} sensor={alert.sensor}"
                if alert is not None else "")
