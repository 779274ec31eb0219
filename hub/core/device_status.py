"""What ``lifeline-hub status`` says about each device. Pure: the store's facts in, rows out.

A device is known from up to three places: its status messages (birth, last
will, ``offline``), the alerts it sent, and the device registry. The row takes
the zone from the first of those that has one -- its status, the registry, its
latest alert -- and says where it came from (``zone_source``), and the state
says what the hub actually knows:

* ``online`` / ``offline``: its latest status message;
* ``alerting (no status yet)``: alerts in the last hour, never a status (an edge
  whose birth message was lost, or one that is older than status messages);
* ``no status yet``: alerts, but none in the last hour, and never a status;
* ``never seen``: in the registry, nothing received from it.

``last_seen`` is when the hub last heard from it at all: a status or an alert.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

__all__ = ["DeviceRow", "device_rows"]

NO_STATUS_ALERTING = "alerting (no status yet)"
NO_STATUS = "no status yet"
NEVER_SEEN = "never seen"


@dataclass(frozen=True, slots=True)
class DeviceRow:
    device: str
    zone: str  # "?" when nothing says
    zone_source: str | None  # "status", "registry", "alert" or None
    state: str
    last_seen: float | None
    alerts_last_hour: int
    last_alert: float | None


def device_rows(statuses: Iterable[tuple[str, str, str, float]],
                alerts: Mapping[str, tuple[int, float | None, str | None]],
                registry: Mapping[str, str]) -> list[DeviceRow]:
    """One row per device, by name.

    ``statuses``: (device, zone, state, seen_at) of its latest status; ``alerts``:
    device -> (alerts in the last hour, when the latest arrived, that alert's zone);
    ``registry``: device -> zone.
    """
    by_status = {s[0]: s for s in statuses}
    rows = []
    for name in sorted({*by_status, *alerts, *registry}):
        count, last_alert, alert_zone = alerts.get(name, (0, None, None))
        status = by_status.get(name)
        zone, source = next(((z, s) for z, s in ((status and status[1], "status"),
                                                (registry.get(name), "registry"),
                                                (alert_zone, "alert")) if z),
                            ("?", None))
        if status is not None:
            state = status[2]
        elif last_alert is None:
            state = NEVER_SEEN
        else:
            state = NO_STATUS_ALERTING if count else NO_STATUS
        seen = [t for t in (status and status[3], last_alert) if t is not None]
        rows.append(DeviceRow(device=name, zone=zone, zone_source=source, state=state,
                              last_seen=max(seen) if seen else None,
                              alerts_last_hour=int(count or 0), last_alert=last_alert))
    return rows
