"""The hub's store: SQLite schema and migrations, row codecs and every query the hub runs.

The rest of the hub asks the store for named operations; ``from hub.store import Store``
is the interface.
"""

from hub.store.queries import (
    EVENT_DEVICES_MAX,
    Event,
    IncidentRow,
    Store,
    StoreError,
    change_json,
    incident_json,
)

__all__ = ["EVENT_DEVICES_MAX", "Event", "IncidentRow", "Store", "StoreError", "change_json", "incident_json"]
