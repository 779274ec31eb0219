"""The operator's desk: ``incidents list|show|ack|assign|comment|resolve``, ``silence``, ``status``.

Reading commands open the store read-only. Actions write it directly, in one
transaction each (SQLite serialises them with the running hub), record who,
when and why in the incident's timeline (the ``events`` feed), and bump the
store's desk revision: the hub sees the bump at the start of its next
transaction and reloads the incidents from the store, so what a person did is
never overwritten. Routing picks the change up from the feed like any other.
"""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from hub.core.incident import ACTIVE
from hub.desk.render import (
    alerts_in,
    event_line,
    incident_table,
    latest_per_channel,
    shown,
    sparkline,
    use_colour,
)
from hub.store import Store, incident_json
from lifeline import wire
from lifeline.errors import HubError
from lifeline.wire import format_ts

if TYPE_CHECKING:  # the rest is imported by the commands that need it: listing starts fast
    import argparse
    from collections.abc import Callable

    from hub.config import HubConfig
    from hub.core.incident import Change, Incident
    from hub.core.silences import Silence

__all__ = ["TABLE_LIMIT", "DeskError", "apply_action", "incident_action", "incidents_list",
           "incidents_show", "make_action", "operator", "silence_command", "status"]

# The incidents table shows this many, newest first, unless --limit or --all says otherwise:
# every incident of a store of a few months, and an answer in well under 100 ms at 10,000
# (the whole table of those takes about as long again as the command's start-up).
TABLE_LIMIT = 1000


class DeskError(HubError):
    """An operator's request that cannot be carried out; the message says why."""


def operator(args: argparse.Namespace) -> str:
    """Who is acting: ``--by``, else $LIFELINE_OPERATOR, else the login name."""
    import getpass

    return str(getattr(args, "by", None) or os.environ.get("LIFELINE_OPERATOR")
               or getpass.getuser())


def parse_incident_id(text: str) -> int:
    number = wire.parse_incident_id(text)
    if number is None:
        raise DeskError(f"{text!r} is not an incident id like INC-12 or 12.")
    return number


def _when(ts: float | None) -> str:
    return "-" if ts is None else datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _reader(config: HubConfig) -> Store:
    store = Store.reader(config.store)
    if store is None:
        raise DeskError(f"There is no store at {config.store.location} yet; has the hub run?")
    return store


# -- incidents ----------------------------------------------------------------------
def incidents_list(config: HubConfig, as_json: bool, status: str | None, *,
                   limit: int | None = None, show_all: bool = False) -> int:
    """The incidents, newest first: the ``limit`` newest, else every one with ``--json``
    and ``TABLE_LIMIT`` in the table (``show_all``: every one); a cut table says so on
    stderr. The table shows no grade reasons, so it does not read them."""
    if limit is None and not show_all and not as_json:
        limit = TABLE_LIMIT
    if show_all:
        limit = None
    store = Store.reader(config.store)
    if store is None:
        print("[]" if as_json else incident_table([], False))
        return 0
    total = hidden_active = 0
    try:
        if as_json:
            found = store.incidents(status, rule_state=False, limit=limit)
        else:
            rows = store.incident_rows(status, limit)
            if limit is not None and len(rows) == limit:
                total = store.count_incidents(status)
            if total > len(rows) and status is None:  # an old open incident must not vanish
                hidden_active = store.count_active_incidents() - sum(
                    1 for r in rows if r[1] in ACTIVE)
    finally:
        store.close()
    if as_json:
        print(json.dumps([incident_json(i) for i in found], indent=2))
        return 0
    print(incident_table(rows, use_colour(sys.stdout)))
    if total > len(rows):
        sys.stdout.flush()  # the table first, then the note, also when both go to a terminal
        print(f"showing newest {len(rows):,} of {total:,}; --all for every incident",
              file=sys.stderr)
    if hidden_active > 0:
        print(f"{hidden_active:,} open or acknowledged incident(s) older than these not shown: "
              "--status open, --status acknowledged", file=sys.stderr)
    return 0


def incidents_show(config: HubConfig, text_id: str, as_json: bool) -> int:
    store = _reader(config)
    try:
        incident = store.incident(parse_incident_id(text_id))
        if incident is None:
            raise DeskError(f"There is no incident {text_id}.")
        timeline = store.timeline(incident.id)
        alerts = store.incident_alerts(incident.id)
        contacts = store.citizen_contacts(incident.id)  # an operator's eyes only
    finally:
        store.close()
    if as_json:
        print(json.dumps({"incident": incident_json(incident),
                          "timeline": [e.to_json() for e in timeline], "alerts": alerts,
                          "citizen_contacts": [{"at": format_ts(at), "contact": contact}
                                               for at, contact in contacts]},
                         indent=2))
        return 0
    text = _show_text(incident, [(e.at, e.payload) for e in timeline], alerts,
                      use_colour(sys.stdout))
    if contacts:
        text += "\n\ncitizens' contacts (personal data: for operators only):\n" + "\n".join(
            shown(f"  {_when(at)}  {contact}") for at, contact in contacts)
    print(text)
    return 0


def _show_text(incident: Incident, timeline: list[tuple[float, dict[str, object]]],
               alerts: list[dict[str, object]], colour: bool) -> str:
    flags = [f for f, on in (("latched", incident.latched), ("flapping", incident.flapping),
                             ("confirmed", incident.confirmed)) if on]
    lines = [shown(line) for line in (
        f"{incident.label}  {incident.hazard}  {incident.grade.label.upper()}  "
        f"{incident.status.value}{'  (' + ', '.join(flags) + ')' if flags else ''}",
        f"zones:     {', '.join(incident.all_zones)}",
        f"devices:   {', '.join(incident.devices) or '-'}",
        f"owner:     {incident.owner or '-'}{' (chosen by an operator)' if incident.owner_fixed else ''}",
        f"assignee:  {incident.assignee or '-'}",
        f"deadlines: {_deadlines(incident)}",
        f"alerts:    {incident.alert_count}"
        + (f" ({incident.suppressed} absorbed as effects)" if incident.suppressed else ""),
        f"readings:  {_when(incident.first_ts)} .. {_when(incident.last_ts)} UTC",
        f"opened:    {_when(incident.opened_at)}   updated: {_when(incident.updated_at)}"
        f"   resolved: {_when(incident.resolved_at)}",
        f"grade:     {'; '.join(incident.reasons) or '-'}",
        "",
        "timeline (UTC):",
    )]
    joined_run = hidden = 0  # joined events in a row; alerts in those not shown
    for at, payload in timeline:
        if payload.get("kind") == "joined":
            joined_run += 1
            if joined_run > 5:
                hidden += alerts_in(payload)
                continue
        elif hidden:
            lines.append(f"  ... {hidden} more alerts joined")
            joined_run = hidden = 0
        else:
            joined_run = 0
        lines.append("  " + event_line(at, payload, colour))
    if hidden:
        lines.append(f"  ... {hidden} more alerts joined")
    lines.extend(["", "sensors (context values of the latest alert):"])
    latest, counts = latest_per_channel(alerts)
    width = max((len(k) for k in latest), default=0)
    for key, alert in latest.items():
        values = [float(v) for v in alert.get("context") or []]
        span = f"{min(values):g} .. {max(values):g} {alert.get('unit') or ''}".rstrip() \
            if values else str(alert.get("message", ""))
        lines.append(shown(f"  {key:<{width}}  {sparkline(values):<16}  {span}  "
                           f"({counts[key]} alert{'s' if counts[key] != 1 else ''})"))
    if not latest:
        lines.append("  (none)")
    return "\n".join(lines)


def _deadlines(incident: Incident) -> str:
    """``acknowledge by 12:05:00, resolve by 16:00:00 UTC; escalated 1 step``"""
    clock = incident.clock
    if clock is None:
        return "-"
    parts = []
    if clock.ack_due is not None and incident.status.value == "open":
        parts.append(f"acknowledge by {_when(clock.ack_due)}")
    if clock.resolve_due is not None and incident.active:
        parts.append(f"resolve by {_when(clock.resolve_due)}")
    text = (", ".join(parts) + " UTC") if parts else "none running"
    level = max(clock.ack_level, clock.resolve_level)
    return text + (f"; escalated {level} step{'s' if level != 1 else ''}" if level else "")


def incident_action(config: HubConfig, text_id: str, by: str,
                    act: Callable[[Incident, float], Change]) -> int:
    """Apply one operator action in one transaction and print the timeline line it made."""
    from hub.store import change_json

    change, now = apply_action(config, text_id, act)
    print(event_line(now, change_json(change), use_colour(sys.stdout)))
    return 0


def apply_action(config: HubConfig, text_id: str, act: Callable[[Incident, float], Change]
                 ) -> tuple[Change, float]:
    """Apply one operator action in one transaction (the timeline event, the desk revision
    the hub reloads on); the change and when. ``incidents ack`` and the board both act here."""
    from hub.core.lifecycle import LifecycleError

    if config.store.url is None and not config.store.path.exists():
        raise DeskError(f"There is no store at {config.store.path} yet; has the hub run?")
    store = Store.writer(config.store)
    now = time.time()
    try:
        with store.transaction():
            incident = store.incident(parse_incident_id(text_id))
            if incident is None:
                raise DeskError(f"There is no incident {text_id}.")
            try:
                change = act(incident, now)
            except LifecycleError as exc:
                raise DeskError(str(exc)) from exc
            store.apply([change], now)
            store.bump_desk_revision()
    finally:
        store.close()
    return change, now


def action_for(args: argparse.Namespace, config: HubConfig | None = None
               ) -> Callable[[Incident, float], Change]:
    owner = getattr(args, "owner", "") or ""
    if owner and config is not None:
        check_department(config, owner)
    return make_action(args.action, operator(args), why=getattr(args, "why", "") or "",
                       who=getattr(args, "who", "") or "", text=getattr(args, "text", "") or "",
                       owner=owner, outcome=getattr(args, "outcome", None))


def check_department(config: HubConfig, name: str) -> None:
    """DeskError unless ``[[owners]]`` names department ``name`` (owner or escalation step)."""
    from hub.core.accountability import departments
    from lifeline.tomlconfig import suggestion

    known = departments(config.owners)
    if name not in known:
        raise DeskError(f"{name!r} is not a department of [[owners]] in hub.toml (known: "
                        f"{', '.join(known)}){suggestion(name, known)}")


def make_action(action: str, by: str, *, why: str = "", who: str = "", text: str = "",
                owner: str = "", outcome: str | None = None
                ) -> Callable[[Incident, float], Change]:
    """The lifecycle step of ``action`` (ack, assign, comment, resolve) done by ``by``;
    ``owner``: assign hands the incident to that department (and to ``who`` there, if
    given)."""
    from hub.core.lifecycle import acknowledge, assign, assign_owner, comment, resolve

    if action == "ack":
        return lambda i, now: acknowledge(i, by, why, now)
    if action == "assign" and owner:
        return lambda i, now: assign_owner(i, by, owner, why, now, who)
    if action == "assign":
        return lambda i, now: assign(i, by, who, why, now)
    if action == "comment":
        return lambda i, now: comment(i, by, text, now)
    if action == "resolve":
        return lambda i, now: resolve(i, by, why, now, outcome or None)
    raise DeskError(f"{action!r} is not an action; expected ack, assign, comment or resolve.")


class _Expiring(Protocol):
    def active(self, now: float) -> bool: ...


_Item = TypeVar("_Item", bound=_Expiring)


def list_command(config: HubConfig, args: argparse.Namespace,
                 read: Callable[[Store], list[_Item]],
                 to_json: Callable[[_Item, float], dict[str, Any]],
                 table: Callable[[list[_Item], float], str]) -> int:
    """``silence list`` and ``maintenance list``: what ``read`` gets from the store (nothing
    when there is no store yet), the active ones only unless ``--all``, as a table or
    ``--json``."""
    now = time.time()
    store = Store.reader(config.store)
    try:
        items = [] if store is None else read(store)
    finally:
        if store is not None:
            store.close()
    kept = [item for item in items if args.all or item.active(now)]
    if args.json:
        print(json.dumps([to_json(item, now) for item in kept], indent=2))
    else:
        print(table(kept, now))
    return 0


# -- silences -------------------------------------------------------------------------
def silence_command(config: HubConfig, args: argparse.Namespace) -> int:
    from hub.core.silences import SilenceError, expired_by_hand, new_silence, parse_duration

    now = time.time()
    if args.silence_action == "list":
        return list_command(config, args, lambda store: store.silences.all(), _silence_json,
                            _silence_table)
    store = Store.writer(config.store)
    try:
        with store.transaction():
            if args.silence_action == "add":
                try:
                    duration = parse_duration(args.duration)
                except ValueError as exc:
                    raise DeskError(str(exc)) from exc
                incident = parse_incident_id(args.incident) if args.incident else None
                new_id = store.silences.add(new_silence(
                    by=operator(args), comment=args.comment or "", expires_at=now + duration,
                    now=now, zone=args.zone, device=args.device, sensor=args.sensor,
                    hazard=args.hazard, incident_id=incident))
                print(f"silence {new_id} added, until {_when(now + duration)} UTC")
            else:
                store.silences.end(expired_by_hand(store.silences.get(args.id), args.id,
                                                   operator(args), now))
                print(f"silence {args.id} expired")
    except SilenceError as exc:
        raise DeskError(str(exc)) from exc
    finally:
        store.close()
    return 0


def _silence_json(s: Silence, now: float) -> dict[str, object]:
    return {"id": s.id, "active": s.active(now), "zone": s.zone, "device": s.device,
            "sensor": s.sensor, "hazard": s.hazard,
            "incident": None if s.incident_id is None else wire.format_incident_id(s.incident_id),
            "created_by": s.created_by, "created_at": format_ts(s.created_at),
            "expires_at": format_ts(s.expires_at), "ended_at": format_ts(s.ended_at)
            if s.ended_at else None, "end_reason": s.end_reason, "comment": s.comment}


def _silence_table(silences: list[Silence], now: float) -> str:
    if not silences:
        return "no silences"
    rows = [("ID", "STATE", "MATCHES", "BY", "UNTIL (UTC)", "COMMENT")]
    for s in silences:
        what = " ".join(f"{k}={v}" for k, v in (("zone", s.zone), ("device", s.device),
                                                ("sensor", s.sensor), ("hazard", s.hazard),
                                                ("incident", s.incident_id and
                                                 wire.format_incident_id(s.incident_id))) if v)
        state = "active" if s.active(now) else (s.end_reason or "expired")
        rows.append((str(s.id), state, shown(what), shown(s.created_by), _when(s.expires_at),
                     shown(s.comment)))
    widths = [max(len(r[c]) for r in rows) for c in range(6)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
                     for r in rows)


# -- status ----------------------------------------------------------------------------
def _registry_zones(config: HubConfig) -> dict[str, str]:
    """device -> zone from the registry, if there is one (a broken one: a warning, no zones)."""
    if config.security.registry is None:
        return {}
    from hub.registry import load_registry
    from lifeline.tomlconfig import ConfigError

    try:
        registry = load_registry(config.security.registry)
    except ConfigError as exc:
        print(f"lifeline-hub status: the device registry is not usable, zones come from "
              f"statuses and alerts only:\n{exc}", file=sys.stderr)
        return {}
    return {name: entry.zone for name, entry in registry.devices.items()}


def status(config: HubConfig, as_json: bool) -> int:
    from hub.core.device_status import device_rows

    store = _reader(config)
    now = time.time()
    try:
        devices = store.devices()
        marks = {m.device: m for m in store.maintenance.marks() if m.active(now)}
        rates = store.alert_rates(now - 3600)
        alerts = store.count_alerts()
        active = store.count_active_incidents()
        outbox = store.outbox.pending()
        size = store.size_bytes()
        where = store.location
    finally:
        store.close()
    stamp = format_ts if as_json else _when  # JSON: ISO 8601 UTC, as incidents --json
    rows = [{"device": d.device, "zone": d.zone, "state": d.state,
             "last_seen": None if d.last_seen is None else stamp(d.last_seen),
             "alerts_last_hour": d.alerts_last_hour,
             "last_alert": None if d.last_alert is None else stamp(d.last_alert),
             "zone_source": d.zone_source,
             "maintenance_until": stamp(marks[d.device].end) if d.device in marks else None}
            for d in device_rows(devices, rates, _registry_zones(config))]
    summary = {"store": where, "store_bytes": size, "alerts": alerts,
               "active_incidents": active, "outbox_pending": outbox, "devices": rows}
    if as_json:
        print(json.dumps(summary, indent=2))
        return 0
    print(f"store {shown(where)}: {size / 1e6:.1f} MB, {alerts} alerts, "
          f"{active} active incidents, {outbox} routed changes waiting")
    header = ("DEVICE", "ZONE", "STATE", "LAST SEEN (UTC)", "ALERTS/H", "LAST ALERT (UTC)")
    table = [header] + [(shown(str(r["device"])), shown(str(r["zone"])),
                         shown(str(r["state"])) + (f" (maintenance until {r['maintenance_until']})"
                                                   if r["maintenance_until"] else ""),
                         r["last_seen"] or "-", str(r["alerts_last_hour"]), r["last_alert"] or "-")
                        for r in rows]
    widths = [max(len(str(r[c])) for r in table) for c in range(6)]
    for row in table:
        print("  ".join(str(c).rjust(w) if i == 4 else str(c).ljust(w)
                        for i, (c, w) in enumerate(zip(row, widths, strict=True))).rstrip())
    return 0
