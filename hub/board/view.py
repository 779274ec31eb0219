"""What the board shows, as plain data: rows, their order, the zone map's fill, SSE frames. Pure.

The page keeps its list up to date from the events feed itself (board.js sorts
and fills the same way); these functions make the first picture and are what the
unit tests pin down.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from hub.core.incident import Incident
from hub.core.topology import Topology
from hub.store import incident_json
from lifeline.grades import Grade

__all__ = ["board_row", "parse_event_id", "sort_rows", "sse_comment", "sse_frame",
           "worst_by_zone"]

ROW_DEVICES = 20  # devices a row names; ``device_count`` says how many there are


def board_row(incident: Incident, acked: tuple[float, Mapping[str, Any]] | None = None
              ) -> dict[str, Any]:
    """An incident as the board's list shows it: ``incident_json`` (the shape ``incidents
    --json`` and the events feed use) plus the grade's level and who acknowledged it when.

    ``acked``: (when, payload) of its last ``acknowledged`` event, if any."""
    row = incident_json(incident, ROW_DEVICES)
    row["level"] = incident.grade.level
    row["acked_by"] = None
    row["acked_at"] = None
    if acked is not None and incident.status.value == "acknowledged":
        row["acked_by"] = acked[1].get("by")
        row["acked_at"] = acked[0]
    return row


def _rank(row: Mapping[str, Any]) -> tuple[int, str, str]:
    return (-int(Grade.parse(str(row["grade"]))), str(row["opened_at"]), str(row["id"]))


def sort_rows(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Red first, down to blue; within a grade the oldest first (ISO times sort as text).

    >>> rows = [{"id": "INC-1", "grade": "blue", "opened_at": "2026-01-01T00:00:00Z"},
    ...         {"id": "INC-2", "grade": "red", "opened_at": "2026-01-02T00:00:00Z"},
    ...         {"id": "INC-3", "grade": "red", "opened_at": "2026-01-01T00:00:00Z"}]
    >>> [r["id"] for r in sort_rows(rows)]
    ['INC-3', 'INC-2', 'INC-1']
    """
    return sorted(rows, key=_rank)


def worst_by_zone(rows: Iterable[Mapping[str, Any]], topology: Topology) -> dict[str, str]:
    """Zone -> the grade of its worst active incident; an incident counts for each of its
    zones and the zones above them (a district shows the worst of its mains).

    >>> from hub.core.topology import Zone
    >>> t = Topology.build([Zone("north"), Zone("m1", parent="north")], {})
    >>> worst_by_zone([{"zones": ["m1"], "zone": "m1", "grade": "orange", "status": "open"},
    ...                {"zones": ["north"], "zone": "north", "grade": "blue", "status": "open"}], t)
    {'m1': 'orange', 'north': 'orange'}
    """
    worst: dict[str, Grade] = {}
    for row in rows:
        if row.get("status") not in ("open", "acknowledged"):
            continue
        grade = Grade.parse(str(row["grade"]))
        for zone in row.get("zones") or [row["zone"]]:
            for up in topology.ancestors(str(zone)):
                if grade > worst.get(up, Grade.BLUE) or up not in worst:
                    worst[up] = grade
    return {zone: grade.label for zone, grade in worst.items()}


def sse_frame(name: str, event_id: int, data: Any) -> bytes:
    """One Server-Sent Event: its name, its id (every event has one, so a reconnecting
    browser says where it was in ``Last-Event-ID``) and its JSON data on one line.

    >>> sse_frame("change", 7, {"kind": "opened"})
    b'event: change\\nid: 7\\ndata: {"kind":"opened"}\\n\\n'
    """
    text = json.dumps(data, separators=(",", ":"))  # JSON escapes newlines: one data line
    return f"event: {name}\nid: {event_id}\ndata: {text}\n\n".encode()


def sse_comment(text: str) -> bytes:
    """A comment line: ignored by the browser, keeps proxies and idle timers from closing
    the stream.

    >>> sse_comment("ping")
    b': ping\\n\\n'
    """
    return f": {text.replace(chr(10), ' ').replace(chr(13), ' ')}\n\n".encode()


def parse_event_id(*candidates: str | None) -> int | None:
    """The first of ``candidates`` that is an event id (the ``Last-Event-ID`` header, then
    the page's ``?last=`` on its first connection); None when none is.

    >>> parse_event_id(None, "42"), parse_event_id("x", None), parse_event_id(" 7 ", "9")
    (42, None, 7)
    """
    for text in candidates:
        if text is not None and text.strip().isdigit() and len(text.strip()) < 19:
            return int(text.strip())
    return None
