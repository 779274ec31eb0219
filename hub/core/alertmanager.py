"""An incident change as an Alertmanager webhook body, for receivers that take Alertmanager's.

A route with ``format = "alertmanager"`` (hub.toml ``[[routes]]``) posts this instead of the
generic body (``wire.IncidentChange``). The shape is Alertmanager's webhook payload,
version 4 (https://prometheus.io/docs/alerting/latest/configuration/#webhook_config)::

    {"version": "4", "groupKey": ..., "truncatedAlerts": 0, "status": "firing"|"resolved",
     "receiver": ..., "groupLabels": {...}, "commonLabels": {...},
     "commonAnnotations": {...}, "externalURL": ..., "alerts": [
        {"status": ..., "labels": {...}, "annotations": {...}, "startsAt": RFC 3339,
         "endsAt": RFC 3339, "generatorURL": ..., "fingerprint": ...}]}

One incident change is one notification with one alert, grouped by incident. Its labels
identify the incident and route it (``alertname`` ``LifelineIncident``, ``incident``,
``hazard``, ``zone``, ``severity`` from the grade, ``grade``); its annotations say what
happened (``summary``, ``description``, ``change``, ``event``, ``dedup_key``, ``devices``).
``status`` is ``resolved`` once the incident is resolved or merged into another, else
``firing``; ``endsAt`` is then the resolution time, else Alertmanager's zero time
``0001-01-01T00:00:00Z`` (what it sends for an alert still firing). ``fingerprint`` is
the incident's identity (a hash of its id), the same for every change of it, so a
receiver's dedup and grouping see one alert move through its states. Pure: no I/O.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from lifeline.wire import IncidentChange

__all__ = ["ALERTNAME", "SEVERITY", "ZERO_TIME", "webhook_body"]

ALERTNAME = "LifelineIncident"
ZERO_TIME = "0001-01-01T00:00:00Z"
# the severities Alertmanager setups route on, by grade
SEVERITY = {"red": "critical", "orange": "major", "yellow": "warning", "blue": "info"}
OVER = ("resolved", "merged")


def webhook_body(change: IncidentChange, receiver: str, external_url: str = "") -> dict[str, Any]:
    """The Alertmanager webhook body for one routed change (``receiver``: the route's name).

    >>> change = IncidentChange(event=7, kind="opened", at="2026-12-03T10:00:00.000Z",
    ...     incident={"id": "INC-3", "zone": "north", "hazard": "water", "grade": "orange",
    ...               "status": "open", "opened_at": "2026-12-03T10:00:00.000Z",
    ...               "resolved_at": None, "devices": ["edge-a"], "reasons": ["limit"]})
    >>> body = webhook_body(change, "pager")
    >>> body["status"], body["alerts"][0]["labels"]["severity"], body["groupKey"]
    ('firing', 'major', '{}:{incident="INC-3"}')
    """
    incident: Mapping[str, Any] = change.incident
    label = str(incident["id"])
    over = incident.get("status") in OVER
    grade = str(incident.get("grade", "blue"))
    labels = {"alertname": ALERTNAME, "incident": label, "hazard": str(incident["hazard"]),
              "zone": str(incident["zone"]), "severity": SEVERITY.get(grade, "info"),
              "grade": grade}
    reasons = [str(r) for r in incident.get("reasons") or ()]
    devices = [str(d) for d in incident.get("devices") or ()]
    summary = (f"{label} {grade} {incident['hazard']} incident in {incident['zone']}: "
               f"{change.kind}")
    annotations = {"summary": summary,
                   "description": "; ".join(x for x in (change.why or "", *reasons) if x),
                   "change": change.kind, "event": str(change.event),
                   "dedup_key": str(incident.get("dedup_key", f"lifeline/{label}")),
                   "devices": ", ".join(devices)}
    if incident.get("owner"):  # an annotation: a label would change the alert's identity
        annotations["owner"] = str(incident["owner"])
    if change.by:
        annotations["by"] = change.by
    if change.escalation is not None:  # an escalated change: whom it goes to now
        annotations["escalated_to"] = str(change.escalation.get("escalated_to") or "")
    if change.previous_grade:
        annotations["previous_grade"] = change.previous_grade
    status = "resolved" if over else "firing"
    ends = incident.get("resolved_at") or incident.get("updated_at") or change.at
    alert = {"status": status, "labels": labels, "annotations": annotations,
             "startsAt": str(incident.get("opened_at") or change.at),
             "endsAt": str(ends) if over else ZERO_TIME,
             "generatorURL": external_url,
             "fingerprint": hashlib.sha256(label.encode()).hexdigest()[:16]}
    return {"version": "4", "groupKey": f'{{}}:{{incident="{label}"}}', "truncatedAlerts": 0,
            "status": status, "receiver": receiver, "groupLabels": {"incident": label},
            "commonLabels": dict(labels), "commonAnnotations": dict(annotations),
            "externalURL": external_url, "alerts": [alert]}
