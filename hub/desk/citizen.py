"""``lifeline-hub report-citizen``: a resident's report, taken in by an operator or a hotline
system (also ``POST /api/citizen-reports`` on the board, for a logged-in user).

One write transaction, as the desk's other actions (hub/desk/commands.py): the report
joins the open incident of its zone and hazard or opens a blue one (hub/core/citizen.py),
the reporter's contact goes into ``citizen_contacts`` (never an event, never routed), and
the desk revision is bumped so the running hub takes the incident into fusion, where
sensor alerts join and confirm it.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from hub.core.accountability import Accountable
from hub.core.citizen import citizen_report
from hub.desk.commands import DeskError
from hub.store import Store
from lifeline.tomlconfig import suggestion

if TYPE_CHECKING:
    from hub.config import HubConfig
    from hub.core.incident import Change

__all__ = ["CONTACT_MAX", "file_citizen_report"]

CONTACT_MAX = 200


def _check(config: HubConfig, zone: str, hazard: str, contact: str) -> None:
    from hub.config import HAZARDS

    citizen_hazards = [h for h in HAZARDS if h not in ("device", "maintenance")]
    if hazard not in citizen_hazards:
        raise DeskError(f"{hazard!r} is not a hazard a citizen can report (one of "
                        f"{', '.join(citizen_hazards)}){suggestion(hazard, citizen_hazards)}")
    zones = sorted(config.fusion.topology.zones)
    if zones and zone not in zones:
        raise DeskError(f"{zone!r} is not a zone of [zones] in hub.toml{suggestion(zone, zones)}")
    if not zone.strip():
        raise DeskError("Name the zone the report is about (--zone).")
    if len(contact) > CONTACT_MAX:
        raise DeskError(f"A contact is limited to {CONTACT_MAX} characters.")


def file_citizen_report(config: HubConfig, zone: str, hazard: str, text: str,
                        contact: str, by: str) -> tuple[list[Change], float]:
    """Record the report in one transaction; the changes it made and when."""
    _check(config, zone, hazard, contact)
    if config.store.url is None and not config.store.path.exists():
        raise DeskError(f"There is no store at {config.store.path} yet; has the hub run?")
    stamp = Accountable(config.owners, config.deadlines, config.fusion.topology).stamp
    store = Store.writer(config.store)
    now = time.time()
    try:
        with store.transaction():
            active = [i for i in store.active_incidents(hazard) if zone in i.all_zones]
            try:
                ids = store.incident_ids()  # several hubs on one store: its sequence
                changes = citizen_report(active, zone, hazard, text, by, now,
                                         store.next_incident_id if ids is None else ids, stamp)
            except ValueError as exc:
                raise DeskError(str(exc)) from exc
            store.apply(changes, now)
            if contact.strip():
                store.add_citizen_contact(changes[0].incident.id, now, contact.strip())
            store.bump_desk_revision()
    finally:
        store.close()
    return changes, now


def run_report_citizen(config: HubConfig, zone: str, hazard: str, text: str, contact: str,
                       by: str) -> int:
    """The CLI: file the report, print the timeline lines it made."""
    import sys

    from hub.desk.render import event_line, use_colour
    from hub.store import change_json

    changes, now = file_citizen_report(config, zone, hazard, text, contact, by)
    for change in changes:
        print(event_line(now, change_json(change), use_colour(sys.stdout)))
    return 0
