"""How incidents and events look to people: the ``incidents`` table and ``tail`` lines.

Colour follows the grade (blue, yellow, orange, red) and is only used when the
caller says so (a terminal, and NO_COLOR unset). Times are UTC.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TextIO

from hub.core.incident import ACTIVE
from lifeline.grades import Grade
from lifeline.wire import format_incident_id, parse_ts

if TYPE_CHECKING:
    from hub.store import IncidentRow

__all__ = ["Folder", "alerts_in", "countdown", "event_line", "incident_table", "shown", "sparkline",
           "use_colour"]

_COLOURS = {"blue": "\033[34m", "yellow": "\033[33m", "orange": "\033[38;5;208m",
            "red": "\033[1;31m"}
_DIM = "\033[2m"
# Event kinds as tail shows them: one word of at most 8 letters keeps the columns straight.
_VERBS = {"grade_changed": "regraded", "acknowledged": "acked", "confirmed": "verified",
          "commented": "noted", "escalated": "overdue", "citizen_report": "reported"}
_RESET = "\033[0m"


# What a terminal would act on rather than show: C0 and C1 controls and DEL (escape sequences
# that retitle the window, clear the screen, move the cursor up over other lines; a carriage
# return that overwrites its own line), and Unicode's bidirectional and line-separator
# controls (that reorder or break what follows).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e"
                      "\u2066-\u2069]")


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def shown(text: str) -> str:
    r"""``text`` with every control character made visible, for a person's screen.

    Everything a device (or anyone) wrote -- an alert's message, unit, sensor and channel,
    ids, zone names, comments -- goes through here before any human output of the hub
    (``tail``, ``incidents``, ``incidents show``, ``status``, ``silence list``), so it is
    shown, never obeyed by the terminal. ``--json`` keeps the exact text.

    >>> shown("ok\r\x1b[1A\x1b[2K")
    'ok\\x0d\\x1b[1A\\x1b[2K'
    >>> shown("201.5 kPa below low limit 250")
    '201.5 kPa below low limit 250'
    """
    return _CONTROL.sub(_visible, text) if _CONTROL.search(text) else text


def use_colour(stream: TextIO) -> bool:
    """Colour only for a terminal, and never when NO_COLOR is set (https://no-color.org)."""
    return stream.isatty() and not os.environ.get("NO_COLOR")


def _clock(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%H:%M:%S")


def _alert_detail(alert: dict[str, Any]) -> str:
    where = f"{alert['device']}/{alert['sensor']}"
    if alert.get("value") is None:
        cleared = "cleared" if alert.get("cleared") else alert["reason"]
        return f"{where} {alert['channel']} {cleared}: {alert.get('message', '')}".rstrip()
    unit = f" {alert['unit']}" if alert.get("unit") else ""
    cleared = " (cleared)" if alert.get("cleared") else ""
    return f"{where} {alert['channel']}={alert['value']:g}{unit} {alert['reason']}{cleared}"


def _detail(payload: dict[str, Any]) -> str:
    kind = payload["kind"]
    alert = payload.get("alert")
    if isinstance(alert, dict) and kind == "reopened":
        return f"by a late reading of {alert['device']}/{alert['sensor']} at {alert['ts'][11:19]}"
    if isinstance(alert, dict):
        why = f" [{payload['why']}]" if payload.get("why") else ""
        count = payload.get("count", 1)  # a batch's joined alerts, folded: the highest-graded
        more = f" (+{count - 1} more alerts)" if isinstance(count, int) and count > 1 else ""
        return _alert_detail(alert) + why + more
    if kind == "opened" and payload.get("device"):
        maintenance = payload.get("incident", {}).get("hazard") == "maintenance"
        return f"{payload['device']} offline" + (", in maintenance" if maintenance else "")
    if kind == "opened" and not payload.get("why"):  # not by an alert: a citizen's report
        return "; ".join(payload.get("incident", {}).get("reasons") or ())
    by = f"by {payload['by']}: " if payload.get("by") else ""
    if kind == "grade_changed":
        why = f" ({payload['why']})" if payload.get("why") else ""
        return f"grade {payload['previous_grade']} -> {payload['incident']['grade']}{why}"
    if kind == "merged":
        why = f" ({payload['why']})" if payload.get("why") else ""
        return f"absorbed {payload.get('absorbed', '?')}{why}"
    if kind == "assigned":
        to = (f"to department {payload['owner']}"
              + (f", {payload['assignee']}" if payload.get("assignee") else "")
              if payload.get("owner") else f"to {payload.get('assignee', '?')}")
        return f"{by}{to}" + (f" ({payload['why']})" if payload.get("why") else "")
    if kind in ("commented", "citizen_report"):
        return f"{by}{payload.get('text', '')}"
    return f"{by}{payload.get('why', '')}".rstrip(": ")


def countdown(seconds: float) -> str:
    """``4m05s``, ``2h10m``, ``45s``: how long until (or since) a deadline.

    >>> countdown(245.2), countdown(7830), countdown(44.9996)
    ('4m05s', '2h10m', '45s')
    """
    whole = round(abs(seconds))  # deadlines are kept to the millisecond: 899.9996 s is 15m00s
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def _owed(at: float, incident: Mapping[str, Any]) -> str:
    """`` [gas-utility: ack in 4m05s]``: who owns an active incident and how long is left
    to acknowledge (or resolve) it, as of the line's time ``at`` (after an escalation,
    `` [gas-utility, escalated 1: ack in 4m59s]``: until the next step); '' for none."""
    owner = incident.get("owner")
    if not owner or incident.get("status") not in _ACTIVE:
        return ""
    level = incident.get("escalation_level") or 0
    if level:  # the time left is the next step's
        owner = f"{owner}, escalated {level}"
    for key, what in (("acknowledge_by", "ack"), ("resolve_by", "resolve")):
        due = incident.get(key)
        if due:
            left = parse_ts(due) - at
            when = f"in {countdown(left)}" if left >= 0 else f"overdue {countdown(left)}"
            return f" [{owner}: {what} {when}]"
    return f" [{owner}]"


def event_line(at: float, payload: dict[str, Any], colour: bool) -> str:
    """One readable line per event, e.g.
    ``19:20:01 ORANGE  water  north  INC-3 opened  edge-north-1/main-pressure pressure_kpa=201.3 kPa limit``
    (the grade is the alert's for alert lines, the incident's otherwise), ending in
    ``[silenced #2]`` when the payload carries the ids of the silences covering it."""
    from hub.service import security_events  # here: the incidents table needs neither it nor the registry

    if payload.get("kind") == security_events.KIND:  # a refused message, not an incident
        return security_events.security_line(at, payload, colour)
    incident, kind = payload["incident"], payload["kind"]
    alert = payload.get("alert")
    grade = alert["grade"] if isinstance(alert, dict) else incident["grade"]
    line = shown(f"{_clock(at)} {str(grade).upper():<7} {incident['hazard']:<11} "
                 f"{incident['zone']:<12} {incident['id']} {_VERBS.get(kind, kind):<8} "
                 f"{_detail(payload)}").rstrip() + shown(_owed(at, incident))
    if payload.get("silences"):  # tail marks what a silence held back from notification
        line += f" [silenced {' '.join(f'#{n}' for n in payload['silences'])}]"
    if not colour:
        return line
    start = _DIM if kind == "resolved" else _COLOURS.get(grade, "")
    return f"{start}{line}{_RESET}"


def incident_table(rows: Sequence[IncidentRow], colour: bool) -> str:
    """A fixed-width table of ``Store.incident_rows``, newest first, for people; ``--json``
    is the one for programs. Built for thousands of rows: one format string for them all."""
    if not rows:
        return "no incidents"
    header = ("ID", "STATUS", "GRADE", "HAZARD", "ZONE", "OWNER", "ALERTS", "DEVICES",
              "OPENED (UTC)", "UPDATED (UTC)")
    labels = {int(g): g.label for g in Grade}
    cells = [(format_incident_id(r[0]), r[1], labels[r[2]], shown(r[3]), shown(r[4]),
              shown(r[9] or "-"), str(r[5]), shown(",".join(json.loads(r[6]))), _when(r[7]),
              _when(r[8])) for r in rows]
    widths = [max(len(header[c]), *(len(row[c]) for row in cells)) for c in range(len(header))]
    line = "  ".join(f"{{:{'>' if c == 6 else '<'}{w}}}" for c, w in enumerate(widths)).format
    lines = [line(*header).rstrip()]
    if not colour:
        lines.extend(line(*row).rstrip() for row in cells)
        return "\n".join(lines)
    for r, row in zip(rows, cells, strict=True):
        start = _COLOURS[labels[r[2]]] if r[1] in _ACTIVE else _DIM
        lines.append(f"{start}{line(*row).rstrip()}{_RESET}")
    return "\n".join(lines)


_ACTIVE = frozenset(s.value for s in ACTIVE)
_DAYS: dict[int, str] = {}


def _when(ts: float) -> str:
    """``2026-11-21 20:52:57``: what ``datetime.fromtimestamp(ts, UTC)`` shows to the second
    (microseconds rounded half to even, as it does), a few times faster: the date is
    worked out once per day, the time of day by arithmetic."""
    fraction, whole = math.modf(ts)
    micro = round(fraction * 1e6)
    second = int(whole) + (micro >= 1_000_000) - (micro < 0)
    day, rest = divmod(second, 86400)
    date = _DAYS.get(day)
    if date is None:
        date = _DAYS[day] = datetime.fromtimestamp(day * 86400, UTC).strftime("%Y-%m-%d")
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{date} {hours:02d}:{minutes:02d}:{seconds:02d}"


_BARS = "▁▂▃▄▅▆▇█"


def sparkline(values: Sequence[float]) -> str:
    """``[1, 5, 9]`` -> ``"▁▄█"``: a sensor's context values at a glance."""
    if not values:
        return ""
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    return "".join(_BARS[min(7, int((v - low) / span * 7.999))] for v in values)


class Folder:
    """Keeps ``tail`` readable in an alert storm: per incident, the first ``show`` joined alerts
    within ``every_s`` are printed, the rest folded into one line with the rate.

    Pure: feed it events (with their wall time) and call ``flush(now)``; it returns lines."""

    def __init__(self, colour: bool, show: int = 3, every_s: float = 10.0) -> None:
        self.colour, self.show, self.every_s = colour, show, every_s
        # incident id -> [window start, joined seen in window, folded count, last payload]
        self._windows: dict[str, list[Any]] = {}

    def feed(self, at: float, payload: dict[str, Any]) -> list[str]:
        incident = payload["incident"]["id"]
        out = []
        window = self._windows.get(incident)
        if window is not None and (at - window[0] >= self.every_s or payload["kind"] != "joined"):
            out.extend(self._close(incident, at))
            window = None
        if payload["kind"] != "joined":
            return [*out, event_line(at, payload, self.colour)]
        if window is None:
            window = self._windows[incident] = [at, 0, 0, payload]
        window[1] += 1
        window[3] = payload
        if window[1] <= self.show:
            return [*out, event_line(at, payload, self.colour)]
        window[2] += alerts_in(payload)
        return out

    def flush(self, now: float) -> list[str]:
        """Summary lines for windows that have run their time."""
        out = []
        for incident, window in list(self._windows.items()):
            if now - window[0] >= self.every_s:
                out.extend(self._close(incident, now))
        return out

    def close(self, now: float) -> list[str]:
        """Summary lines for every window still open (the end of the output)."""
        return [line for incident in list(self._windows) for line in self._close(incident, now)]

    def _close(self, incident: str, now: float) -> list[str]:
        start, _, folded, payload = self._windows.pop(incident)
        if not folded:
            return []
        rate = folded / max(1.0, now - start)
        summary = dict(payload, kind="folded", alert=None, why="", by=None, silences=None)
        line = event_line(now, summary, False).rstrip()
        text = f"{line} +{folded} more alerts ({rate:.1f}/s), {payload['incident']['alert_count']} in all"
        if self.colour:
            text = f"{_DIM}{text}{_RESET}"
        return [text]


def alerts_in(payload: dict[str, Any]) -> int:
    """How many alerts a ``joined`` event stands for (``count``: a batch's, folded)."""
    count = payload.get("count", 1)
    return count if isinstance(count, int) and count > 0 else 1


def latest_per_channel(alerts: Sequence[Mapping[str, Any]]
                       ) -> tuple[dict[str, Mapping[str, Any]], dict[str, int]]:
    """Per sensor channel (``device/sensor channel``) of an incident's alerts, oldest
    first: its latest alert, and how many it sent (``incidents show`` and the board)."""
    latest: dict[str, Mapping[str, Any]] = {}
    counts: dict[str, int] = {}
    for alert in alerts:
        key = f"{alert['device']}/{alert['sensor']} {alert['channel']}"
        latest[key] = alert
        counts[key] = counts.get(key, 0) + 1
    return latest, counts
