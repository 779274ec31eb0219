"""The fusion rule: alerts and device statuses in, incident changes out. Pure: no I/O, no clock.

An alert's *hazard* is its family (``water``, ``gas``, ``structure``) when it is
about the world (reason ``limit`` or ``anomaly``) and ``maintenance`` when it is
about the instrument (``sensor_fault``): maintenance never becomes a hazard.

Alerts fuse by **event time** (``alert.ts``), not arrival time, so the outcome does
not depend on the order in which alerts arrive. An alert joins an incident of
its hazard when it is within the family rule's reach:

* in time: its ts lies within ``window_s`` of the incident's span
  ``[first_ts, last_ts]`` -- or within ``sensor_window_s`` of an earlier alert of
  the same sensor channel (a flapping sensor, a slow leak);
* in space: its zone is one of the incident's zones or, by the rule's
  ``reach``, a neighbour or a sibling under the same parent -- or its device is
  within ``radius_m`` of one of the incident's devices.

An alert that reaches two incidents merges them (the older id survives). No
incident spans more than ``max_span_s``. A resolved incident that a late alert
reaches is reopened rather than duplicated.

**Causes absorb their effects**: a confirmed water incident whose rule has
``absorb_downstream`` takes in the low-pressure alerts of the zones downstream
of it (joined with a reason, counted as ``suppressed``) and merges
downstream pressure-only incidents, whichever arrived first; a device that is
offline absorbs its own sensor-fault alerts and maintenance incidents.

Grade, confirmation, latching and flapping follow from the evidence
(``hub.core.grading``); every grade change carries its reason. ``tick(now)``
resolves incidents quiet for ``quiet_s`` (``flap_quiet_s`` when flapping;
never a latched one; a device incident only when flapping and the device is
online). A connection that comes and goes is one device incident with a flap
count (``status``).

What each alert costs does not grow with its incident: fusion keeps per incident
the running summaries of ``hub.core.running`` and updates the one channel an alert
changed.

The state is the set of ``Incident`` values (with their rule state), so the hub
rebuilds it on start from the incidents its store holds.
"""

from __future__ import annotations

import bisect
import dataclasses
from collections.abc import Callable, Iterable

from hub.config import FusionConfig, RuleConfig
from hub.core.accountability import Accountable
from hub.core.grading import Tally, assess, readings_key
from hub.core.incident import (
    ACTIVE,
    DEVICE_GRADE,
    DEVICE_HAZARD,
    MAINTENANCE_HAZARD,
    MAX_DEVICES,
    Acknowledged,
    Assigned,
    Change,
    Commented,
    Confirmed,
    Evidence,
    Flapped,
    Flapping,
    GradeChanged,
    Incident,
    IncidentStatus,
    Joined,
    Merged,
    Opened,
    Reopened,
    Resolved,
)
from hub.core.liveness import DeviceLiveness
from hub.core.running import Running
from lifeline.wire import Alert, Reason

__all__ = [
    "ACTIVE", "DEVICE_GRADE", "DEVICE_HAZARD", "MAINTENANCE_HAZARD", "Acknowledged", "Assigned",
    "Change", "Commented", "Confirmed", "Flapped", "Flapping", "Fusion", "GradeChanged", "Incident",
    "IncidentStatus", "Joined", "Merged", "Opened", "Reopened", "Resolved", "channel_key",
    "hazard_of",
]


def hazard_of(alert: Alert) -> str:
    """The hazard an alert is evidence of: its family, or ``maintenance`` for a sensor fault."""
    return MAINTENANCE_HAZARD if alert.reason is Reason.SENSOR_FAULT else alert.family


def channel_key(alert: Alert) -> str:
    """How evidence is keyed: ``device/sensor/channel@zone``."""
    return f"{alert.device}/{alert.sensor}/{alert.channel}@{alert.zone}"


def _within(rows: Evidence, ts: float, reach_s: float) -> bool:
    """Is there a reading in ``rows`` (sorted by ts) within ``reach_s`` of ``ts``?"""
    at = bisect.bisect_left(rows, (ts - reach_s,))
    return at < len(rows) and rows[at][0] <= ts + reach_s


def _is_low_pressure(alert: Alert) -> bool:
    return alert.kind == "water.pressure"


class Fusion(DeviceLiveness):
    """The live incident set. Feed it alerts and statuses; call ``tick`` now and then."""

    # owners and response clocks of the incidents (hub/core/accountability.py), set by the hub
    accountable: Accountable | None = None

    def __init__(self, config: FusionConfig, incidents: Iterable[Incident] = (),
                 next_id: int = 1) -> None:
        self.config = config
        self._incidents: dict[int, Incident] = {}
        # derived from _incidents: each one's rule state and running summaries (hub.core.running),
        # incidents by zone of their evidence
        self._running: dict[int, Running] = {}
        self._in_zone: dict[str, set[int]] = {}
        self._unplaced: set[int] = set()  # incidents without evidence: candidates everywhere
        self._of_device: dict[str, set[int]] = {}  # one-device incidents (device, maintenance)
        self._marks = {}  # maintenance marks by device (hub.core.maintenance)
        self._offline = {}  # devices whose latest status is offline: (zone, ts)
        self._settled = set()  # maintenance marks whose end has been handled
        self._next_id = next_id
        # where new ids come from when several hubs share a store (their database's
        # sequence, hub/store/queries.py ``Store.incident_ids``); None: count from next_id
        self.id_source: Callable[[], int] | None = None
        self.reload(incidents)

    @property
    def next_id(self) -> int:
        """The id the next opened incident gets: a rebuilt fusion must start from it, since
        an incident merged away (so not handed back) may hold the highest id so far."""
        return self._next_id

    def reload(self, incidents: Iterable[Incident]) -> None:
        """Replace the state with ``incidents`` (from the store, after an operator changed one)."""
        self._incidents = {}
        self._running, self._in_zone, self._unplaced, self._of_device = {}, {}, set(), {}
        for incident in incidents:
            if incident.status is not IncidentStatus.MERGED:
                self._put(incident)
        self._next_id = max([self._next_id, *(i + 1 for i in self._incidents)])

    def refresh(self, belongs: Callable[[Incident], bool], incidents: Iterable[Incident]) -> None:
        """Replace the incidents for which ``belongs`` holds (a fusion domain another hub
        wrote, hub/core/domains.py) with ``incidents``, the store's; keep the rest."""
        for gone in [i for i in self._incidents.values() if belongs(i)]:
            self._forget(gone.id)
        for incident in incidents:
            if incident.status is not IncidentStatus.MERGED:
                self._put(incident)

    @property
    def incidents(self) -> list[Incident]:
        """Incidents still in play (active, or resolved recently enough to reopen), by id."""
        return [self._incidents[k] for k in sorted(self._incidents)]

    def rule(self, hazard: str) -> RuleConfig:
        return self.config.rule(hazard)

    # -- alerts ------------------------------------------------------------
    def alert(self, alert: Alert, now: float) -> list[Change]:
        """Fuse one new alert (the caller drops duplicates) arriving at wall time ``now``."""
        hazard = hazard_of(alert)
        if hazard == MAINTENANCE_HAZARD and (host := self._outage_of(alert)):
            return self._absorb(host, alert, now, f"device {alert.device} is offline; its sensor "
                                "faults are part of that")
        rule = self.rule(hazard)
        mine = channel_key(alert)
        candidates = sorted((i for i in self._nearby(alert, rule)
                             if i.hazard == hazard and self._reaches(i, alert, rule, mine)),
                            key=lambda i: i.id)
        if not candidates:
            cause = self._cause_of(alert)
            if cause is not None:
                return self._absorb(cause, alert, now, f"downstream low pressure in {alert.zone}"
                                    f" caused by {cause.label}")
            return self._open_for_alert(alert, hazard, now)
        survivor, changes = candidates[0], list[Change]()
        for other in candidates[1:]:
            if self._span(survivor, other.first_ts, other.last_ts, alert.ts) <= self.config.max_span_s:
                survivor, absorbed = self._merge(survivor, other, now)
                changes.append(Merged(survivor, absorbed=absorbed,
                                      why=f"an alert of {alert.device} reaches both"))
        if not survivor.active:
            survivor = self._put(dataclasses.replace(
                survivor, status=IncidentStatus.OPEN, resolved_at=None, updated_at=now,
                transitions=(*survivor.transitions, now)[-20:]))
            changes.append(Reopened(survivor, alert=alert))
        survivor = self._put(self._with_alert(survivor, alert, now, rule))
        changes.append(Joined(survivor, alert=alert))
        changes.extend(self._evaluate(survivor.id, now))
        changes.extend(self._absorb_effects(survivor.id, now))
        return changes

    def _reaches(self, incident: Incident, alert: Alert, rule: RuleConfig, mine: str) -> bool:
        """Pairwise, so that the incidents are the connected runs of alerts whatever the
        arrival order: some alert of the incident is near in space and in time.

        ``mine`` is the alert's channel key. Its own channel is one lookup; the others
        are looked up by the zones near the alert's and, by ``radius_m``, the devices
        near it (``hub.core.running``): the cost does not grow with the incident's size."""
        if self._span(incident, alert.ts) > self.config.max_span_s:
            return False
        window = rule.window_s or self.config.window_s
        if not incident.evidence:  # stored before evidence was kept: by span and zones
            return (incident.first_ts - window <= alert.ts <= incident.last_ts + window
                    and self._near(incident.zone, incident.devices[:1], alert, rule))
        own = incident.evidence.get(mine)
        if own is not None and _within(own, alert.ts, max(window, rule.sensor_window_s)):
            return True
        # every evidence row lies in [first_ts, last_ts]: nothing else can be within window
        if not incident.first_ts - window <= alert.ts <= incident.last_ts + window:
            return False
        running = self._running_of(incident)
        evidence = running.evidence
        for zone in self.config.topology.near_zones(alert.zone, rule.reach):
            keys = running.by_zone.get(zone)
            if keys and any(_within(evidence[key], alert.ts, window) for key in keys):
                return True
        if rule.radius_m > 0:
            for device in running.devices_within(self.config.topology, alert.device,
                                                 rule.radius_m):
                if any(_within(evidence[key], alert.ts, window)
                       for key in running.by_device[device]):
                    return True
        return False

    def _nearby(self, alert: Alert, rule: RuleConfig) -> Iterable[Incident]:
        """The incidents that may reach ``alert`` in space (a superset; ``_reaches`` decides):
        those with evidence in a zone near the alert's, found by the zone index. By
        distance (``radius_m``) any incident may, so then all of them."""
        if rule.radius_m > 0:
            return list(self._incidents.values())
        ids = set(self._unplaced)
        for zone in self.config.topology.near_zones(alert.zone, rule.reach):
            ids.update(self._in_zone.get(zone, ()))
        return [self._incidents[i] for i in ids if i in self._incidents]

    def _running_of(self, incident: Incident) -> Running:
        """The running summaries of ``incident`` (built again if its rule state is not the
        one fusion keeps: an incident handed in from outside)."""
        running = self._running.get(incident.id)
        if running is None or not running.owns(incident):
            running = self._running[incident.id] = Running(incident)
        return running

    def _tally(self, incident: Incident, rule: RuleConfig) -> Tally:
        """What grading needs from the incident's channels, from its running summaries."""
        return self._running_of(incident).tally(rule)

    def _near(self, zone: str, devices: tuple[str, ...], alert: Alert, rule: RuleConfig) -> bool:
        topology = self.config.topology
        if topology.near(zone, alert.zone, rule.reach):
            return True
        if rule.radius_m > 0:
            for device in devices:
                distance = topology.distance_m(device, alert.device)
                if distance is not None and distance <= rule.radius_m:
                    return True
        return False

    def _cause_of(self, alert: Alert) -> Incident | None:
        """A confirmed upstream incident that explains this downstream low-pressure alert."""
        if not _is_low_pressure(alert) or alert.reason is Reason.SENSOR_FAULT:
            return None
        for incident in self.incidents:
            rule = self.rule(incident.hazard)
            window = rule.window_s or self.config.window_s
            if (incident.active and incident.hazard == alert.family and incident.confirmed
                    and rule.absorb_downstream
                    and alert.zone in self.config.topology.downstream(incident.all_zones)
                    and incident.first_ts - window <= alert.ts <= incident.last_ts + window):
                return incident
        return None

    def _absorb_effects(self, cause_id: int, now: float) -> list[Change]:
        """Merge downstream pressure-only incidents into a confirmed cause."""
        cause = self._incidents[cause_id]
        rule = self.rule(cause.hazard)
        if not (cause.confirmed and rule.absorb_downstream and cause.active):
            return []
        window = rule.window_s or self.config.window_s
        downstream = self._running_of(cause).downstream(self.config.topology, cause.all_zones)
        changes: list[Change] = []
        for other in self.incidents:
            if (other.id != cause.id and other.active and other.hazard == cause.hazard
                    and set(other.all_zones) <= downstream and other.kinds == ("water.pressure",)
                    and other.first_ts <= cause.last_ts + window
                    and other.last_ts >= cause.first_ts - window):
                cause, absorbed = self._merge(cause, other, now, effect=True)
                changes.append(Merged(cause, absorbed=absorbed,
                                      why=f"downstream low pressure caused by {cause.label}"))
        return changes

    def _absorb(self, host: Incident, alert: Alert, now: float, why: str) -> list[Change]:
        host = self._put(dataclasses.replace(
            host, updated_at=now, last_arrival=max(host.last_arrival, now),
            alert_count=host.alert_count + 1, suppressed=host.suppressed + 1))
        return [Joined(host, alert=alert, why=why)]

    @staticmethod
    def _span(incident: Incident, *times: float) -> float:
        return max(incident.last_ts, *times) - min(incident.first_ts, *times)

    def _open_for_alert(self, alert: Alert, hazard: str, now: float) -> list[Change]:
        rule = self.rule(hazard)
        incident = self._with_alert(Incident(
            id=self._take_id(), zone=alert.zone, hazard=hazard, grade=alert.grade,
            status=IncidentStatus.OPEN, opened_at=now, updated_at=now, first_ts=alert.ts,
            last_ts=alert.ts, last_arrival=now), alert, now, rule)
        assessment = assess(incident, rule, self.config.flap_quiet_s, self._tally(incident, rule))
        incident = self._put(dataclasses.replace(
            incident, grade=assessment.grade, reasons=assessment.reasons,
            confirmed=assessment.confirmed, latched=assessment.latched))
        changes: list[Change] = [Opened(incident, alert=alert)]
        if incident.confirmed:
            changes.append(Confirmed(incident, why="; ".join(assessment.reasons[1:])
                                     or _CONFIRMED_ALONE.get(hazard, "")))
        return changes

    def _merge(self, survivor: Incident, other: Incident, now: float,
               effect: bool = False) -> tuple[Incident, Incident]:
        """Fold ``other`` into ``survivor``; an ``effect`` brings alerts but not zones or devices."""
        active = survivor.active or other.active
        running = self._running_of(survivor)
        if not effect:  # into the survivor's rule state, channel by channel
            running.devices.update(self._running_of(other).devices)
            for key, rows in other.evidence.items():
                running.merge_rows(key, rows)
            for key, values in other.readings.items():
                running.merge_values(key, values)
        merged = dataclasses.replace(
            survivor,
            status=(survivor.status if survivor.active else IncidentStatus.OPEN) if active
            else survivor.status,
            resolved_at=None if active else survivor.resolved_at,
            opened_at=min(survivor.opened_at, other.opened_at), updated_at=now,
            first_ts=survivor.first_ts if effect else min(survivor.first_ts, other.first_ts),
            last_ts=survivor.last_ts if effect else max(survivor.last_ts, other.last_ts),
            last_arrival=max(survivor.last_arrival, other.last_arrival),
            alert_count=survivor.alert_count + other.alert_count,
            suppressed=survivor.suppressed + (other.alert_count if effect else other.suppressed),
            devices=survivor.devices if effect else tuple(sorted({*survivor.devices,
                                                                  *other.devices}))[:MAX_DEVICES],
            device_count=survivor.device_count if effect else len(running.devices),
            zones=survivor.zones if effect else _union(survivor.all_zones, other.all_zones),
            kinds=survivor.kinds if effect else tuple(sorted({*survivor.kinds, *other.kinds})),
            evidence=running.evidence, readings=running.readings,
            latched=survivor.latched or other.latched,
            transitions=tuple(sorted({*survivor.transitions, *other.transitions}))[-20:])
        absorbed = dataclasses.replace(other, status=IncidentStatus.MERGED,
                                       merged_into=survivor.id, updated_at=now)
        self._forget(other.id)
        return self._put(merged), absorbed

    def _evaluate(self, incident_id: int, now: float) -> list[Change]:
        """Re-assess grade and flags from the evidence; one change per thing that moved."""
        incident = self._incidents[incident_id]
        rule = self.rule(incident.hazard)
        result = assess(incident, rule, self.config.flap_quiet_s, self._tally(incident, rule))
        if (result.grade, result.reasons, result.confirmed, result.flapping, result.latched) == (
                incident.grade, incident.reasons, incident.confirmed, incident.flapping,
                incident.latched):
            return []  # nothing moved (most alerts of a storm): no copy of the incident
        updated = self._put(dataclasses.replace(
            incident, grade=result.grade, reasons=result.reasons, confirmed=result.confirmed,
            flapping=result.flapping, latched=result.latched))
        changes: list[Change] = []
        if result.grade != incident.grade:
            changes.append(GradeChanged(updated, previous=incident.grade,
                                        why="; ".join(result.reasons)))
        if result.confirmed and not incident.confirmed:
            changes.append(Confirmed(updated, why="; ".join(result.reasons[1:]) or "lasting"))
        if result.flapping and not incident.flapping:
            changes.append(Flapping(updated, why="a sensor keeps coming and going; kept open "
                                    f"until quiet for {self.config.flap_quiet_s:g} s"))
        return changes

    # -- time ------------------------------------------------------------------
    def tick(self, now: float) -> list[Change]:
        """Resolve quiet incidents; forget resolved ones too old to reopen; open the device
        incident of a device still offline when its maintenance ends."""
        changes: list[Change] = self.maintenance_over(now)
        for incident in self.incidents:
            quiet = self.config.flap_quiet_s if incident.flapping else self.config.quiet_s
            if not incident.active or incident.latched or now - incident.last_arrival < quiet:
                continue
            if incident.citizen_reports and not incident.evidence:
                continue  # people's reports alone: a person resolves it, not the quiet
            if incident.hazard == MAINTENANCE_HAZARD and self._holds_outage(incident):
                continue  # a device offline in maintenance: until it is back, or the mark ends
            if incident.hazard != DEVICE_HAZARD:
                changes.append(self._resolve(incident, now, f"no new alert for {quiet:g} s"))
            elif incident.flapping and self._device_online(incident):
                changes.append(self._resolve(incident, now, f"device {incident.devices[0]} "
                                             f"online and steady for {quiet:g} s"))
        for incident in list(self._incidents.values()):
            if (incident.resolved_at is not None
                    and now - incident.resolved_at > self.config.max_span_s):
                self._forget(incident.id)
        return changes

    def _resolve(self, incident: Incident, now: float, why: str, by: str | None = None
                 ) -> Resolved:
        done = dataclasses.replace(incident, status=IncidentStatus.RESOLVED, resolved_at=now,
                                   updated_at=now, latched=False,
                                   transitions=(*incident.transitions, now)[-20:])
        return Resolved(self._put(done), why=why, by=by)

    # -- bookkeeping -------------------------------------------------------------
    def _with_alert(self, incident: Incident, alert: Alert, now: float, rule: RuleConfig
                    ) -> Incident:
        """``incident`` with ``alert`` in it: its channel's rows and running summaries
        change (``hub.core.running``), nothing else of the incident is read."""
        running = self._running_of(incident)
        key = channel_key(alert)
        running.add_row(key, alert.ts, int(alert.grade), alert.cleared)
        if alert.value is not None and any(kind == alert.kind for kind, _ in rule.escalate_rate):
            running.add_value(readings_key(alert.kind, key), alert.ts, alert.value)
        devices, zones, kinds = running.joined(incident, alert.device, alert.zone, alert.kind)
        return dataclasses.replace(
            incident,
            updated_at=now,
            first_ts=min(incident.first_ts, alert.ts),
            last_ts=max(incident.last_ts, alert.ts),
            last_arrival=max(incident.last_arrival, now),
            alert_count=incident.alert_count + 1,
            devices=devices, zones=zones, kinds=kinds, device_count=len(running.devices),
            evidence=running.evidence, readings=running.readings,
        )

    def _take_id(self) -> int:
        if self.id_source is not None:
            return self.id_source()
        self._next_id += 1
        return self._next_id - 1

    def _put(self, incident: Incident) -> Incident:
        if self.accountable is not None:
            incident = self.accountable.stamp(incident, self._incidents.get(incident.id))
        running = self._running_of(incident)
        if running.evidence is not incident.evidence or running.readings is not incident.readings:
            incident = dataclasses.replace(incident, evidence=running.evidence,
                                           readings=running.readings)
        running.follow(incident)
        self._incidents[incident.id] = incident
        if running.evidence:  # evidence only grows, so its zones only grow: add, never drop
            for zone in running.take_new_zones():
                self._in_zone.setdefault(zone, set()).add(incident.id)
        else:
            self._unplaced.add(incident.id)
        if len(incident.devices) == 1:
            self._of_device.setdefault(incident.devices[0], set()).add(incident.id)
        return incident

    def amend(self, incident: Incident) -> Incident:
        """Take back an incident whose clock the hub advanced (hub/service/escalation.py)."""
        return self._put(incident)

    def _forget(self, incident_id: int) -> None:
        """Drop an incident (merged away, or too old to reopen) and its index entries."""
        gone = self._incidents.pop(incident_id, None)
        _unindex(self._of_device, gone.devices if gone is not None else (), incident_id)
        running = self._running.pop(incident_id, None)
        _unindex(self._in_zone, running.by_zone if running is not None else (), incident_id)
        self._unplaced.discard(incident_id)


# why an incident of these hazards is confirmed by its first alert
_CONFIRMED_ALONE = {MAINTENANCE_HAZARD: "a sensor fault is maintenance work on its own"}


def _unindex(index: dict[str, set[int]], keys: Iterable[str], incident_id: int) -> None:
    """Take ``incident_id`` out of ``index`` under each of ``keys``; drop emptied keys."""
    for key in keys:
        ids = index.get(key)
        if ids is not None:
            ids.discard(incident_id)
            if not ids:
                del index[key]


def _union(a: Iterable[str], b: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys((*a, *b)))
