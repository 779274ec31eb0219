"""The store's row codecs: frozen values and dataclasses to and from the rows and JSON it keeps.

``incident_json`` is also the public JSON shape of an incident (``incidents --json``,
``tail --json``, the ``incident`` of an IncidentChange); ``change_json`` is what one row of
the events feed holds. Nothing here touches a connection.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hub.core.deadlines import ResponseClock
from hub.core.incident import (
    Acknowledged,
    Assigned,
    Change,
    CitizenReported,
    Commented,
    Confirmed,
    Escalated,
    Evidence,
    Flapping,
    GradeChanged,
    Incident,
    IncidentStatus,
    Joined,
    Merged,
    Opened,
    Readings,
    Resolved,
)
from hub.core.silences import Silence
from lifeline.grades import Grade
from lifeline.wire import Alert, format_incident_id, format_ts

__all__ = ["EVENT_DEVICES_MAX", "INCIDENT_COLUMNS", "SILENCE_COLUMNS", "Event", "IncidentRow",
           "OutboxRow", "change_json", "clock_of", "evidence_rows", "incident_from_row", "incident_json",
           "incident_row", "readings_rows", "silence_from_row"]

# The incidents table's columns in the order ``incident_row`` and ``incident_from_row`` use
INCIDENT_COLUMNS = ("id, zone, hazard, grade, status, opened_at, updated_at, resolved_at, "
                    "first_ts, last_ts, last_arrival, alert_count, devices, merged_into, "
                    "zones, assignee, latched, flapping, confirmed, suppressed, rule_state, "
                    "owner, owner_fixed, ack_due, resolve_due, ack_level, resolve_level, outcome")
# The silences table's columns in the order of ``Silence``'s fields
SILENCE_COLUMNS = ("id, created_at, created_by, comment, expires_at, zone, device, sensor, hazard, "
                   "incident_id, ended_at, ended_by, end_reason")

# One row of ``Store.incident_rows``: id, status, grade (an int), hazard, zone, alert count,
# devices (JSON array text), opened_at, updated_at, owner (None before schema 6's hub).
IncidentRow = tuple[int, str, int, str, str, int, str, float, float, str | None]


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """One routed change waiting in the outbox for its route (a webhook, or the republish)."""

    id: int
    route: str
    url: str
    body: str
    attempts: int


def silence_from_row(row: tuple[Any, ...]) -> Silence:
    return Silence(*row)


@dataclass(frozen=True, slots=True)
class Event:
    """One row of the events feed: ``payload`` is ``change_json`` of an incident change."""

    id: int
    at: float
    kind: str
    payload: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"event": self.id, "at": format_ts(self.at), **self.payload}


def _iso(ts: float | None) -> str | None:
    return None if ts is None else _ts_text(ts)


@functools.lru_cache(maxsize=4096)
def _ts_text(ts: float) -> str:
    """``format_ts``, remembered: an incident's times (opened, first alert, deadlines) are
    the same in every event of it, and the events feed writes one row per change."""
    return format_ts(ts)


# Devices an events-feed row names (the first, by name); ``device_count`` says how many
# there are. An earthquake's incident has thousands, and every change of it is a row.
EVENT_DEVICES_MAX = 20


def incident_json(incident: Incident, devices_max: int | None = None) -> dict[str, Any]:
    """The public JSON shape of an incident (``incidents --json``, ``tail --json``).

    ``devices_max``: name at most that many devices (events-feed rows); ``device_count``
    is always the number of devices."""
    return {
        "id": incident.label,
        "zone": incident.zone,
        "hazard": incident.hazard,
        "grade": incident.grade.label,
        "status": incident.status.value,
        "opened_at": _ts_text(incident.opened_at),
        "updated_at": _ts_text(incident.updated_at),
        "resolved_at": _iso(incident.resolved_at),
        "alert_count": incident.alert_count,
        "devices": list(incident.devices[:devices_max]),
        "device_count": incident.n_devices,
        "first_alert_ts": _ts_text(incident.first_ts),
        "last_alert_ts": _ts_text(incident.last_ts),
        "merged_into": None if incident.merged_into is None else format_incident_id(incident.merged_into),
        "zones": list(incident.all_zones),
        "assignee": incident.assignee,
        "latched": incident.latched,
        "flapping": incident.flapping,
        "confirmed": incident.confirmed,
        "suppressed": incident.suppressed,
        "flaps": incident.flaps,
        "citizen_reports": incident.citizen_reports,
        "reasons": list(incident.reasons),
        "dedup_key": f"lifeline/{incident.hazard}/{incident.label}",
        **_accountability_json(incident),
    }


def _accountability_json(incident: Incident) -> dict[str, Any]:
    """Owner, deadlines and outcome (hub/core/accountability.py): ``acknowledge_by`` while
    the incident waits for an acknowledgement, ``resolve_by`` while it is active (None:
    no deadline runs), ``escalation_level`` the furthest step a missed deadline reached."""
    clock = incident.clock
    ack_by = clock.ack_due if clock is not None and incident.status is IncidentStatus.OPEN \
        else None
    resolve_by = clock.resolve_due if clock is not None and incident.active else None
    return {"owner": incident.owner, "acknowledge_by": _iso(ack_by),
            "resolve_by": _iso(resolve_by),
            "escalation_level": 0 if clock is None else max(clock.ack_level,
                                                            clock.resolve_level),
            "outcome": incident.outcome}


def change_json(change: Change) -> dict[str, Any]:
    """An incident change as the events feed stores it."""
    alert = getattr(change, "alert", None)
    data: dict[str, Any] = {"kind": change.kind,
                            "incident": incident_json(change.incident, EVENT_DEVICES_MAX),
                            "alert": alert.to_dict() if isinstance(alert, Alert) else None}
    if isinstance(change, Opened) and change.device is not None:
        data["device"] = change.device
    if isinstance(change, GradeChanged):
        data["previous_grade"] = change.previous.label
    if isinstance(change, GradeChanged | Resolved | Merged | Confirmed | Flapping
                  | Acknowledged | Assigned) or (isinstance(change, Joined) and change.why):
        data["why"] = change.why
    if isinstance(change, Merged) and change.absorbed is not None:
        data["absorbed"] = change.absorbed.label
    if isinstance(change, Resolved | Acknowledged | Assigned | Commented) and change.by:
        data["by"] = change.by
    if isinstance(change, Resolved) and change.outcome:
        data["outcome"] = change.outcome
    if isinstance(change, Assigned):
        data["assignee"] = change.assignee
        if change.owner:
            data["owner"] = change.owner
    if isinstance(change, Escalated):
        data["escalation"] = {"what": change.what, "level": change.level,
                              "missed_by": change.missed_by,
                              "escalated_to": change.escalated_to,
                              "due_at": format_ts(change.due_at)}
        data["why"] = escalation_why(change)
    if isinstance(change, Commented | CitizenReported):
        data["text"] = change.text
    if isinstance(change, CitizenReported) and change.by:
        data["by"] = change.by
    return data


def json_text(value: Any) -> str:
    """``value`` as compact JSON text, what ``json.dumps(value, separators=(",", ":"))``
    reads back as, by msgspec's C encoder: a channel's rule state (200 rows) took ~630 µs
    with ``json.dumps`` and ~45 µs so (the hub writes one per channel a batch touches, and
    an events row per change). Non-ASCII text is written as UTF-8, not ``\\u`` escapes."""
    return str(_encoder().encode(value).decode())


@functools.cache
def _encoder() -> Any:
    """Built on first use: msgspec's import costs the desk's commands start-up, and only
    the hub writes."""
    import msgspec

    return msgspec.json.Encoder()


def joined_folds(changes: Sequence[Change]) -> dict[int, list[Joined]]:
    """The alerts a batch joined to each incident, folded (issue 16): per incident (and
    ``why``), every ``Joined`` with an alert, under the position in ``changes`` of the
    last of them, where the events feed gets their one ``joined`` row (``fold_json``)."""
    groups: dict[tuple[int, str], list[Joined]] = {}
    last: dict[tuple[int, str], int] = {}
    for at, change in enumerate(changes):
        if isinstance(change, Joined) and change.alert is not None:
            key = (change.incident.id, change.why)
            groups.setdefault(key, []).append(change)
            last[key] = at
    return {last[key]: fold for key, fold in groups.items()}


def fold_json(fold: Sequence[Joined]) -> dict[str, Any]:
    """One ``joined`` event for the alerts ``fold`` joined to an incident in a batch: every
    field a ``joined`` event has, for the highest-graded alert of the fold (the first of
    them) and the incident as the last one left it, with ``count`` and ``alert_ids`` (in
    the order they joined)."""
    top = max(fold, key=lambda c: int(c.alert.grade) if c.alert is not None else -1)
    data = change_json(Joined(fold[-1].incident, alert=top.alert, why=top.why))
    data["count"] = len(fold)
    data["alert_ids"] = [c.alert.id for c in fold if c.alert is not None]
    return data


def escalation_why(change: Escalated) -> str:
    """``gas-utility did not acknowledge by 12:05:00Z; escalated to duty-officer (level 1)``"""
    to = (f"escalated to {change.escalated_to} (level {change.level})"
          if change.escalated_to is not None else "nobody further to escalate to")
    return f"{change.missed_by} did not {change.what} by {format_ts(change.due_at)}; {to}"


def incident_row(incident: Incident) -> tuple[Any, ...]:
    return (incident.id, incident.zone, incident.hazard, int(incident.grade),
            incident.status.value, incident.opened_at, incident.updated_at, incident.resolved_at,
            incident.first_ts, incident.last_ts, incident.last_arrival, incident.alert_count,
            json_text(incident.devices), incident.merged_into,
            json_text(incident.zones), incident.assignee, int(incident.latched),
            int(incident.flapping), int(incident.confirmed), incident.suppressed,
            json_text({"kinds": incident.kinds, "reasons": incident.reasons,
                       "transitions": incident.transitions, "flaps": incident.flaps,
                       "device_count": incident.n_devices,
                       **({"citizen_reports": incident.citizen_reports}
                          if incident.citizen_reports else {})}),
            incident.owner, int(incident.owner_fixed),
            *((clock.ack_due, clock.resolve_due, clock.ack_level, clock.resolve_level)
              if (clock := incident.clock) is not None else (None, None, 0, 0)),
            incident.outcome)


def incident_from_row(row: tuple[Any, ...]) -> Incident:
    state = json.loads(row[20] or "{}")
    return Incident(
        id=row[0], zone=row[1], hazard=row[2], grade=Grade(row[3]),
        status=IncidentStatus(row[4]), opened_at=row[5], updated_at=row[6], resolved_at=row[7],
        first_ts=row[8], last_ts=row[9], last_arrival=row[10], alert_count=row[11],
        devices=tuple(json.loads(row[12])), merged_into=row[13],
        zones=tuple(json.loads(row[14] or "[]")), assignee=row[15], latched=bool(row[16]),
        flapping=bool(row[17]), confirmed=bool(row[18]), suppressed=row[19],
        kinds=tuple(state.get("kinds", ())), reasons=tuple(state.get("reasons", ())),
        transitions=tuple(state.get("transitions", ())), flaps=int(state.get("flaps", 0)),
        device_count=int(state.get("device_count", 0)),
        citizen_reports=int(state.get("citizen_reports", 0)),
        evidence={k: evidence_rows(v) for k, v in state.get("evidence", {}).items()},
        readings={k: readings_rows(v) for k, v in state.get("readings", {}).items()},
        owner=row[21], owner_fixed=bool(row[22]), clock=clock_of(row[23:27]),
        outcome=row[27])


def clock_of(cells: tuple[Any, ...]) -> ResponseClock | None:
    """The response clock of the columns ack_due .. resolve_level (None: none ever ran)."""
    ack_due, resolve_due, ack_level, resolve_level = cells
    if ack_due is None and resolve_due is None and not ack_level and not resolve_level:
        return None
    return ResponseClock(ack_due, resolve_due, int(ack_level or 0), int(resolve_level or 0))


# One channel's rule state from its JSON (``incident_state.rows``, or a schema-2 row's)
def evidence_rows(rows: list[list[Any]]) -> Evidence:
    return tuple((float(r[0]), int(r[1]), bool(r[2])) for r in rows)


def readings_rows(rows: list[list[Any]]) -> Readings:
    return tuple((float(r[0]), float(r[1])) for r in rows)

