"""The hub's inbound queue: a higher grade overtakes a lower one.

In a storm the hub holds thousands of received messages it has not yet fused; a red
gas alarm from elsewhere, received behind them, waited for all of them. Here each
message waits by its priority, read cheaply from its payload before any decoding:

* an alert by its ``grade`` (red first, then orange, yellow, blue);
* a device status at the rank of the incident it makes (yellow, ``DEVICE_GRADE``);
* anything else (an alert whose grade cannot be read: it will be refused) last.

Among equal priorities the order of arrival holds, so what order matters for stays
in order: one device's statuses (online, offline) never overtake each other.
Alerts may overtake alerts of lower grades, the same device's too: fusion groups
them by their reading time, so the incidents are the same in any order (the
hypothesis tests in tests/unit/test_fusion*.py), and each is acknowledged to its
edge after the commit of its own batch whatever the order.

The grade read here is a hint for ordering only; every message is still decoded
and validated by ``lifeline.wire``. A device that marks everything red gets its
messages fused first, no more: each is still validated, and the queue is bounded.
"""

from __future__ import annotations

import itertools
import queue
import re
from typing import Generic, TypeVar

from hub.core.incident import DEVICE_GRADE
from lifeline import wire
from lifeline.grades import Grade

__all__ = ["LAST", "PriorityInbox", "priority_of"]

T = TypeVar("T")
LAST = 0  # a message whose grade cannot be read
_GRADE = re.compile(rb'"grade"\s*:\s*"([A-Za-z]{1,6})"')
_RANKS = {**{g.label.encode(): -int(g) for g in Grade},
          **{g.level.encode(): -int(g) for g in Grade}}


def priority_of(topic: str, payload: bytes) -> int:
    """Lower goes first: minus the grade of an alert (red -4 .. blue -1), a status at
    ``DEVICE_GRADE``, anything else ``LAST``. Reads a few bytes, never raises."""
    if topic.endswith("/status"):
        return -int(DEVICE_GRADE)
    if not topic.endswith("/alert") or len(payload) > wire.MAX_PAYLOAD_BYTES:
        return LAST
    found = _GRADE.search(payload)
    if found is None:
        return LAST
    name = found.group(1)
    return _RANKS.get(name.lower()) or _RANKS.get(name.upper()) or LAST


class PriorityInbox(Generic[T]):
    """A bounded, thread-safe queue of items by priority, then by arrival.

    ``put`` blocks while it is full (``queue.Full`` after ``timeout``): that is the
    hub's back-pressure on the broker. ``get``/``get_nowait`` as ``queue.Queue``."""

    def __init__(self, maxsize: int) -> None:
        self._queue: queue.PriorityQueue[tuple[int, int, T]] = queue.PriorityQueue(maxsize)
        self._arrivals = itertools.count()

    def put(self, item: T, priority: int, timeout: float | None = None) -> None:
        self._queue.put((priority, next(self._arrivals), item), timeout=timeout)

    def get(self, timeout: float | None = None) -> T:
        return self._queue.get(timeout=timeout)[2]

    def get_nowait(self) -> T:
        return self._queue.get_nowait()[2]

    def qsize(self) -> int:
        return self._queue.qsize()
