"""Device liveness for fusion: outages as incidents, and connections that come and go. Pure.

A device's retained status and MQTT last will say when it goes ``offline``; that
opens a ``device`` incident in its zone (one per device), which absorbs the
device's sensor faults and maintenance incidents, and ``online`` resolves it.

A connection that comes and goes is one incident, as a flapping sensor is: an
outage within ``flap_quiet_s`` of the device's last one reopens that incident and
counts one more flap (``Incident.flaps``). Once it has resolved and reopened as
often as the ``device`` rule's ``flap_episodes`` make flapping, it is marked
flapping and stays open; further comings and goings are ``Flapped`` changes (its
counters only: saved, no event, nothing routed), and ``Fusion.tick`` resolves it
once the device has been online and quiet for ``flap_quiet_s``. 20,000 statuses
from 10 devices made 10,000 incidents before.

A device in maintenance (``hub.core.maintenance``) is being worked on: its going offline
opens or joins a ``maintenance`` incident of it instead, which does not resolve by
quiet while the device is offline. When the mark ends (by itself at ``until`` on the
hub's clock, or ended by hand) and the device is still offline, its ``device``
incident opens (``Fusion.tick``), absorbing that maintenance incident.

``DeviceLiveness`` is the part of ``hub.core.fusion.Fusion`` that does this; the state
(incidents, indexes) and the bookkeeping it uses are Fusion's.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from hub.config import FusionConfig, RuleConfig
from hub.core.grading import add_evidence
from hub.core.incident import (
    DEVICE_GRADE,
    DEVICE_HAZARD,
    MAINTENANCE_HAZARD,
    Change,
    Flapped,
    Flapping,
    Incident,
    IncidentStatus,
    Joined,
    Merged,
    Opened,
    Reopened,
    Resolved,
)
from hub.core.maintenance import Mark
from hub.core.running import Running
from lifeline.wire import Alert, Status, format_ts

__all__ = ["DeviceLiveness", "status_key"]

STATUS_SUFFIX = "/status/state"


def status_key(status: Status) -> str:
    """A device incident's evidence: the device's statuses, offline (then online = cleared),
    by their ``ts``. A last will carries the time its session began, so an outage's start
    is early, never late."""
    return f"{status.device}/status/state@{status.zone}"


class DeviceLiveness:
    """Device statuses into device incidents (mixed into ``hub.core.fusion.Fusion``)."""

    config: FusionConfig
    _incidents: dict[int, Incident]
    _of_device: dict[str, set[int]]
    # maintenance marks by device (those ended stay until tick has seen them end), and the
    # devices whose latest status is offline: device -> (zone, offline ts)
    _marks: dict[str, Mark]
    _offline: dict[str, tuple[str, float]]
    _settled: set[tuple[str, float]]  # (device, end) of marks whose end tick has handled

    # Fusion's bookkeeping, used here
    def rule(self, hazard: str) -> RuleConfig:
        raise NotImplementedError

    def _running_of(self, incident: Incident) -> Running:
        raise NotImplementedError

    def _put(self, incident: Incident) -> Incident:
        raise NotImplementedError

    def _take_id(self) -> int:
        raise NotImplementedError

    def _merge(self, survivor: Incident, other: Incident, now: float,
               effect: bool = False) -> tuple[Incident, Incident]:
        raise NotImplementedError

    def _resolve(self, incident: Incident, now: float, why: str, by: str | None = None
                 ) -> Resolved:
        raise NotImplementedError

    def _single(self, device: str) -> list[Incident]:
        """Incidents in play whose only device is ``device``, by id (the device index)."""
        ids = self._of_device.get(device, ())
        return [self._incidents[i] for i in sorted(ids)
                if i in self._incidents and self._incidents[i].devices == (device,)]

    def _device_incident(self, device: str) -> Incident | None:
        for incident in self._single(device):
            if incident.active and incident.hazard == DEVICE_HAZARD:
                return incident
        return None

    def _outage_of(self, alert: Alert) -> Incident | None:
        """The device incident that explains a sensor fault: the device is offline now, or
        was offline when the reading was taken -- the faults it logged during an outage
        arrive from its backlog after it is back, and must not open maintenance work."""
        current = self._device_incident(alert.device)
        if current is not None:
            return current
        for incident in self._single(alert.device):
            if incident.hazard != DEVICE_HAZARD:
                continue
            rows = [r for k, r in incident.evidence.items()
                    if k.partition("@")[0].endswith(STATUS_SUFFIX)]
            if rows and rows[0][-1][2]:  # the outage has ended: (offline ts .. online ts)
                # Only an outage that covers the fault's time explains it: no slack after the
                # device is back, or a sensor unplugged minutes after a reconnect would hide in
                # the resolved outage while the device is online. Before it, ``quiet_s``: a
                # fault that came first is part of the outage when the device's going offline
                # finds its maintenance incident still open (``_open_outage``), and must be
                # when it arrives after the outage is over (several hubs: statuses and alerts
                # reach the store in either order, issue 17).
                start, end = rows[0][0][0], rows[0][-1][0]
                if start - self.config.quiet_s <= alert.ts <= end:
                    return incident
        return None

    def status(self, status: Status, now: float) -> list[Change]:
        """A device said online/offline (or its last will did): open or resolve its device
        incident -- or, for a connection that comes and goes, keep one incident and count.

        An outage within ``flap_quiet_s`` of the device's last one reopens that incident
        (``flaps`` counts each return). Once it has resolved and reopened as often as the
        device rule's ``flap_episodes`` make flapping, it is marked flapping and stays
        open: further comings and goings only move its counters (``Flapped``, saved, no
        event, nothing routed), and it resolves when the device has been online and
        quiet for ``flap_quiet_s`` (``tick``)."""
        current = self._device_incident(status.device)
        key = status_key(status)
        if status.state == "offline":
            self._offline[status.device] = (status.zone, status.ts)
        else:
            self._offline.pop(status.device, None)
        mark = self.in_maintenance(status.device, now)
        if mark is not None and current is None:
            return self._maintenance_status(status, key, mark, now)
        if status.state == "offline":
            if current is not None:
                if not current.flapping or not self._device_online(current):
                    return []  # still offline (a retained last will, redelivered)
                return [Flapped(self._put(self._with_status(current, key, status, now,
                                                            flap=True)))]
            recent = self._recent_outage(status.device, now)
            if recent is not None:
                return self._reopen_outage(recent, key, status, now)
            return self._open_outage(status.device, status.zone, key, status.ts, now,
                                     "device offline")
        if current is None:
            return []
        current = self._with_status(current, key, status, now, flap=False)
        if current.flapping:
            return [Flapped(self._put(current))]
        return [self._resolve(current, now, f"device {status.device} is online again")]

    def _open_outage(self, device: str, zone: str, key: str, ts: float, now: float,
                     reason: str) -> list[Change]:
        """Open the device incident of ``device`` (offline since ``ts``); it absorbs the
        device's active maintenance incidents."""
        incident = self._put(Incident(
            id=self._take_id(), zone=zone, hazard=DEVICE_HAZARD, grade=DEVICE_GRADE,
            status=IncidentStatus.OPEN, opened_at=now, updated_at=now, first_ts=now,
            last_ts=now, last_arrival=now, devices=(device,), device_count=1,
            confirmed=True, reasons=(reason,),
            evidence=add_evidence({}, key, ts, DEVICE_GRADE, False)))
        changes: list[Change] = [Opened(incident, device=device)]
        for other in self._single(device):
            if other.active and other.hazard == MAINTENANCE_HAZARD:
                incident, absorbed = self._merge(incident, other, now, effect=True)
                changes.append(Merged(incident, absorbed=absorbed,
                                      why=f"device {device} is offline; its sensor "
                                      "faults are part of that"))
        return changes

    # -- maintenance -----------------------------------------------------------
    def set_maintenance(self, marks: Iterable[Mark]) -> None:
        """The maintenance marks the store holds, one per device (replacing those known).
        An ended one is kept until ``maintenance_over`` has seen it end (once: not again
        when the store's marks are handed in again)."""
        self._marks = {mark.device: mark for mark in marks
                       if (mark.device, mark.end) not in self._settled}

    def set_offline(self, devices: Iterable[tuple[str, str, float]]) -> None:
        """(device, zone, offline ts) of the devices whose latest status is offline (from the
        store on start): a mark that ends while one is offline opens its device incident."""
        self._offline = {device: (zone, ts) for device, zone, ts in devices}

    def in_maintenance(self, device: str, now: float) -> Mark | None:
        mark = self._marks.get(device)
        return mark if mark is not None and mark.active(now) else None

    def _maintenance_record(self, device: str) -> Incident | None:
        """The device's active maintenance incident (the newest), if any."""
        found = [i for i in self._single(device)
                 if i.active and i.hazard == MAINTENANCE_HAZARD]
        return found[-1] if found else None

    def _maintenance_status(self, status: Status, key: str, mark: Mark, now: float
                            ) -> list[Change]:
        """A status of a device in maintenance (and without a device incident): its
        outage opens or joins its maintenance incident; back online, that one notes it."""
        record = self._maintenance_record(status.device)
        offline = status.state == "offline"
        if record is None:
            if not offline:
                return []
            incident = self._put(Incident(
                id=self._take_id(), zone=status.zone, hazard=MAINTENANCE_HAZARD,
                grade=DEVICE_GRADE, status=IncidentStatus.OPEN, opened_at=now, updated_at=now,
                first_ts=status.ts, last_ts=status.ts, last_arrival=now,
                devices=(status.device,), device_count=1, confirmed=True,
                reasons=(f"device offline {mark.describe()}",),
                evidence=add_evidence({}, key, status.ts, DEVICE_GRADE, False)))
            return [Opened(incident, device=status.device)]
        if offline == self._holds_outage(record):
            return []  # the same state again (a retained status, redelivered)
        record = self._put(self._with_status(record, key, status, now, flap=False))
        state = "offline" if offline else "online again"
        return [Joined(record, why=f"device {status.device} {state}, {mark.describe()}")]

    def _holds_outage(self, incident: Incident) -> bool:
        """Does this incident hold its device's statuses, the latest offline?"""
        rows = [r for k, r in incident.evidence.items()
                if k.partition("@")[0].endswith(STATUS_SUFFIX)]
        return bool(rows) and not rows[0][-1][2]

    def maintenance_over(self, now: float) -> list[Change]:
        """Marks that have ended: a device still offline is off watch -- its device incident
        opens (absorbing its maintenance incident)."""
        changes: list[Change] = []
        for device, mark in sorted(self._marks.items()):
            if mark.end > now:
                continue
            del self._marks[device]
            self._settled.add((device, mark.end))
            if device not in self._offline or self._device_incident(device) is not None:
                continue
            zone, ts = self._offline[device]
            changes += self._open_outage(
                device, zone, f"{device}{STATUS_SUFFIX}@{zone}", ts, now,
                f"device offline; its maintenance ended at {format_ts(mark.end)}")
        return changes

    def _with_status(self, incident: Incident, key: str, status: Status, now: float,
                     flap: bool) -> Incident:
        """``incident`` with one more status of its device (``flap``: it went again)."""
        self._running_of(incident).add_row(key, status.ts, int(DEVICE_GRADE),
                                           status.state != "offline")
        return dataclasses.replace(
            incident, updated_at=now, last_ts=max(incident.last_ts, now),
            last_arrival=max(incident.last_arrival, now), flaps=incident.flaps + (1 if flap else 0))

    def _device_online(self, incident: Incident) -> bool:
        """Did the device of this device incident last say it is online?"""
        rows = [r for k, r in incident.evidence.items()
                if k.partition("@")[0].endswith(STATUS_SUFFIX)]
        return bool(rows) and rows[0][-1][2]

    def _recent_outage(self, device: str, now: float) -> Incident | None:
        """The device's outage incident resolved within ``flap_quiet_s`` (the newest)."""
        found = [i for i in self._single(device)
                 if i.hazard == DEVICE_HAZARD and i.resolved_at is not None
                 and now - i.resolved_at <= self.config.flap_quiet_s]
        return found[-1] if found else None

    def _reopen_outage(self, incident: Incident, key: str, status: Status, now: float
                       ) -> list[Change]:
        """The device went again soon after it came back: the same incident, one more flap."""
        was_flapping = incident.flapping
        incident = self._with_status(dataclasses.replace(
            incident, status=IncidentStatus.OPEN, resolved_at=None,
            transitions=(*incident.transitions, now)[-20:]), key, status, now, flap=True)
        rule = self.rule(DEVICE_HAZARD)
        recent = [t for t in incident.transitions
                  if t >= incident.transitions[-1] - self.config.flap_quiet_s]
        flapping = was_flapping or (rule.flap_episodes > 1
                                    and len(recent) >= 2 * (rule.flap_episodes - 1))
        incident = self._put(dataclasses.replace(incident, flapping=flapping))
        changes: list[Change] = [Reopened(incident)]
        if flapping and not was_flapping:
            changes.append(Flapping(incident, why=f"device {status.device} keeps going offline "
                                    f"({incident.flaps} times); kept open until online and "
                                    f"quiet for {self.config.flap_quiet_s:g} s"))
        return changes
