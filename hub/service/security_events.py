"""Security events: messages the hub refused because of who sent them, in the events feed.

A refused message (unknown device, device or zone not matching the topic and the
registry, see hub/registry.py) is never stored as an alert nor fused. It becomes
one row of the ``events`` feed with kind ``security`` and no incident, so
``lifeline-hub tail`` shows it to operators next to incident changes.

The payload carries a small pseudo-incident (``id`` ``"-"``, hazard
``security``, the claimed zone and device) so that code reading every event's
``incident`` -- tail's filters, the storm folder -- handles it unchanged; the
routing of incident changes ignores the kind.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hub.desk.render import shown
from hub.registry import Rejection
from hub.store import Store
from lifeline import wire

__all__ = ["KIND", "payload", "record", "security_line"]

KIND = "security"
_COLOUR = "\033[1;35m"
_RESET = "\033[0m"


def payload(rejection: Rejection, topic: str, message: wire.Alert | wire.Status) -> dict[str, Any]:
    """The events-feed payload of a refusal: what arrived where, and why it was refused.

    Only identifiers from the message, never its free text (``message`` of an alert
    is attacker-controlled and shown to operators)."""
    is_alert = isinstance(message, wire.Alert)
    return {
        "kind": KIND,
        "reason": rejection.reason,
        "detail": rejection.detail,
        "topic": topic,
        "message_kind": "alert" if is_alert else "status",
        "device": message.device,
        "zone": message.zone,
        "alert_id": message.id if isinstance(message, wire.Alert) else None,
        "grade": message.grade.label if isinstance(message, wire.Alert) else None,
        "alert": None,
        "incident": {"id": "-", "hazard": KIND, "zone": message.zone, "zones": [message.zone],
                     "grade": "yellow", "devices": [message.device], "status": "refused"},
    }


def record(store: Store, now: float, data: dict[str, Any]) -> None:
    """Append a security event; call inside the batch's transaction."""
    store.record_event(now, KIND, data)


def security_line(at: float, data: dict[str, Any], colour: bool) -> str:
    """``tail``'s line, e.g. ``20:14:05 REFUSED security    north        - unknown_device
    edge-x alert on lifeline/v1/edge-x/alert: device 'edge-x' is not in the device registry``."""
    clock = datetime.fromtimestamp(at, UTC).strftime("%H:%M:%S")
    line = shown(f"{clock} {'REFUSED':<7} {KIND:<11} {str(data.get('zone', '?')):<12} - "
                 f"{data.get('reason', '?')} {data.get('device', '?')} "
                 f"{data.get('message_kind', 'message')} on {data.get('topic', '?')}: "
                 f"{data.get('detail', '')}").rstrip()
    return f"{_COLOUR}{line}{_RESET}" if colour else line
