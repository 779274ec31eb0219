"""Maintenance marks: a device a technician is working on. Pure: time is an argument.

While a device is *in maintenance* (``since <= now < end``), its going offline and
its sensor faults are maintenance work: they open or join a ``maintenance`` incident,
never a ``device`` one (``hub.core.liveness``). The mark ends by itself at ``until``
(the hub's clock), or earlier when someone ends it (``ended_at``); a device still
offline then is off watch, and its ``device`` incident opens.

A mark comes from an operator (``lifeline-hub maintenance start DEVICE --for 30m``, by
``desk:<user>``) or from the device itself: ``lifeline-edge probe`` puts
``maintenance_until`` in the device's retained status (by ``device``). A device may hold
itself in maintenance for at most ``DEVICE_MAX_S`` from when the hub heard it: its
credentials could otherwise hide its own outage for ever (docs/security.md).
"""

from __future__ import annotations

from dataclasses import dataclass

from lifeline.wire import MAX_TEXT, Status, format_ts

__all__ = ["BY_DEVICE", "DEVICE_MAX_S", "Mark", "device_request", "from_status"]

DEVICE_MAX_S = 4 * 3600.0
BY_DEVICE = "device"


@dataclass(frozen=True, slots=True)
class Mark:
    """One device's maintenance mark (the store keeps the latest per device)."""

    device: str
    since: float
    until: float
    comment: str = ""
    by: str = BY_DEVICE
    ended_at: float | None = None
    ended_by: str | None = None
    # a device's mark: the maintenance_until its status asked for (``until`` may be less,
    # capped); one request is granted once, so repeating it neither extends nor revives it
    asked_until: float | None = None

    def __post_init__(self) -> None:
        if self.until < self.since:
            raise ValueError(f"maintenance of {self.device} ends ({self.until}) before it "
                             f"starts ({self.since})")

    @property
    def end(self) -> float:
        """When the mark stops covering the device: ``until``, or when it was ended."""
        return self.until if self.ended_at is None else min(self.until, self.ended_at)

    def active(self, now: float) -> bool:
        """Does the mark cover the device at ``now``?

        >>> m = Mark("edge-a", since=100.0, until=200.0)
        >>> m.active(99.0), m.active(100.0), m.active(199.9), m.active(200.0)
        (False, True, True, False)
        >>> Mark("edge-a", 100.0, 200.0, ended_at=150.0).active(160.0)
        False
        """
        return self.since <= now < self.end

    def describe(self) -> str:
        """``in maintenance until 2026-12-03T14:30:00.000Z (by desk:ana: new probe)``."""
        note = f": {self.comment}" if self.comment else ""
        return f"in maintenance until {format_ts(self.end)} (by {self.by}{note})"


def from_status(status: Status, now: float) -> Mark | None:
    """The mark a device's status asks for, as the hub grants it at ``now``: from ``now``
    to ``maintenance_until``, at most ``DEVICE_MAX_S``; None when the status asks for none
    or for one already over.

    >>> from lifeline.wire import Status
    >>> s = Status("edge-a", "north", "offline", ts=1000.0, maintenance_until=2800.0)
    >>> from_status(s, now=1000.0).until
    2800.0
    >>> from_status(s, now=3000.0) is None
    True
    >>> long = Status("edge-a", "north", "offline", ts=1000.0, maintenance_until=1e9)
    >>> from_status(long, now=1000.0).until - 1000.0 == DEVICE_MAX_S
    True
    """
    until = status.maintenance_until
    if until is None or until <= now:
        return None
    return Mark(status.device, since=now, until=min(until, now + DEVICE_MAX_S),
                comment=status.maintenance_comment[:MAX_TEXT], by=BY_DEVICE, asked_until=until)


def device_request(held: Mark | None, status: Status, now: float) -> Mark | None:
    """The mark to store for a device's status at ``now``, given the mark the store holds
    for it; None to change nothing.

    A request is granted once: the agent repeats it in every status (every minute, on every
    reconnect), which must neither push the end further (past ``DEVICE_MAX_S``) nor bring
    back a mark an operator ended. An operator's mark in effect stands.

    >>> from lifeline.wire import Status
    >>> asks = Status("edge-a", "north", "online", ts=0.0, maintenance_until=1800.0)
    >>> granted = device_request(None, asks, now=10.0)
    >>> granted.until
    1800.0
    >>> device_request(granted, asks, now=70.0) is None        # the same request again
    True
    >>> ended = Mark("edge-a", 10.0, 1800.0, by="device", ended_at=100.0, asked_until=1800.0)
    >>> device_request(ended, asks, now=130.0) is None         # ended by hand: stays ended
    True
    >>> again = Status("edge-a", "north", "online", ts=0.0, maintenance_until=2400.0)
    >>> device_request(ended, again, now=130.0).until           # a new probe: a new mark
    2400.0
    """
    mark = from_status(status, now)
    if mark is None:
        return None
    if held is not None and held.by == BY_DEVICE and held.asked_until == mark.asked_until:
        return None
    if held is not None and held.by != BY_DEVICE and held.active(now):
        return None
    return mark
