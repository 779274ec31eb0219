"""``lifeline-hub maintenance``: put a device in maintenance, end it, list the marks.

While a device is in maintenance its going offline and its sensor faults are
maintenance work, not a ``device`` incident (hub.core.maintenance, docs/operators.md).
The mark is written to the store; the running hub picks it up within a second (the desk
revision, as for ``incidents ack``) and ends it by itself at ``--for``.
"""

from __future__ import annotations

import argparse
import time

from hub.config import HubConfig
from hub.core.maintenance import Mark
from hub.core.silences import parse_duration
from hub.desk.commands import DeskError, list_command, operator
from hub.desk.render import shown
from hub.store import Store
from lifeline.wire import format_ts

__all__ = ["add_maintenance_arguments", "maintenance_command", "mark_json"]

MAX_S = 7 * 86400.0  # an operator's mark: a week at most (a forgotten one ends by itself)


def add_maintenance_arguments(sub: argparse._SubParsersAction[argparse.ArgumentParser]
                              ) -> list[argparse.ArgumentParser]:
    start = sub.add_parser("start", help="put DEVICE in maintenance for a while")
    start.add_argument("device", metavar="DEVICE")
    start.add_argument("--for", dest="duration", required=True, help="how long: 30m, 2h, 1d")
    start.add_argument("--comment", required=True, help="why (required)")
    start.add_argument("--by", help="who (default: $LIFELINE_OPERATOR or the login name)")
    start.add_argument("--force", action="store_true",
                       help="accept a DEVICE the hub has not heard of yet")
    end = sub.add_parser("end", help="end DEVICE's maintenance now")
    end.add_argument("device", metavar="DEVICE")
    end.add_argument("--by", help="who (default: $LIFELINE_OPERATOR or the login name)")
    listing = sub.add_parser("list", help="devices in maintenance (--all: ended marks too)")
    listing.add_argument("--all", action="store_true")
    listing.add_argument("--json", action="store_true")
    return [start, end, listing]


def duration_problem(text: str) -> str | None:
    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        return f"--for: {exc}"
    if seconds > MAX_S:
        return f"--for: {text} is longer than a week; start it again when that is over"
    return None


def maintenance_command(config: HubConfig, args: argparse.Namespace) -> int:
    now = time.time()
    if args.maintenance_action == "list":
        return list_command(config, args, lambda store: store.maintenance.marks(), mark_json,
                            _table)
    store = Store.writer(config.store)
    try:
        with store.transaction():
            if args.maintenance_action == "start":
                mark = Mark(args.device, since=now, until=now + parse_duration(args.duration),
                            comment=args.comment, by=f"desk:{operator(args)}")
                store.maintenance.start(mark)
                store.bump_desk_revision()
                print(f"{args.device} in maintenance until {format_ts(mark.until)}: its going "
                      "offline and its sensor faults are maintenance work until then")
            else:
                ended = store.maintenance.end(args.device, now, f"desk:{operator(args)}")
                if ended is None:
                    raise DeskError(f"{args.device} is not in maintenance.")
                store.bump_desk_revision()
                print(f"{args.device}: maintenance ended; if it is offline, its device "
                      "incident opens now")
    finally:
        store.close()
    return 0


def mark_json(mark: Mark, now: float) -> dict[str, object]:
    return {"device": mark.device, "active": mark.active(now), "since": format_ts(mark.since),
            "until": format_ts(mark.until), "by": mark.by, "comment": mark.comment,
            "ended_at": None if mark.ended_at is None else format_ts(mark.ended_at),
            "ended_by": mark.ended_by}


def _table(marks: list[Mark], now: float) -> str:
    if not marks:
        return "no device in maintenance"
    rows = [("DEVICE", "STATE", "SINCE (UTC)", "UNTIL (UTC)", "BY", "COMMENT")]
    for m in marks:
        state = "active" if m.active(now) else ("ended" if m.ended_at is not None else "expired")
        rows.append((shown(m.device), state, format_ts(m.since)[:19].replace("T", " "),
                     format_ts(m.end)[:19].replace("T", " "), shown(m.by), shown(m.comment)))
    widths = [max(len(r[c]) for r in rows) for c in range(5)]
    return "\n".join("  ".join(r[c].ljust(widths[c]) for c in range(5)) + "  " + r[5]
                     for r in rows)
