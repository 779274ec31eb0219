"""The hub's store: SQLite schema and migrations, row codecs and every query the hub runs.

The rest of the hub asks the store for named operations (save a batch, the incidents
fusion still needs, due outbox rows, the silences in force, a retention step ...);
no other module holds a cursor or writes SQL. ``from hub.store import Store`` is the
interface: ``schema`` (tables, migrations), ``codec`` (rows and JSON to and from
dataclasses), ``queries`` (``Store``), ``outbox``, ``silences`` and ``maintenance`` (their
tables' operations, ``Store.outbox``, ``Store.silences`` and ``Store.maintenance``),
``retention`` (``Pruner``).
"""

from hub.store.codec import EVENT_DEVICES_MAX, Event, IncidentRow, OutboxRow, change_json, incident_json
from hub.store.errors import DatabaseError, StoreError, store_failure
from hub.store.queries import Store

__all__ = ["DatabaseError", "EVENT_DEVICES_MAX", "Event", "IncidentRow", "OutboxRow", "Store",
           "StoreError", "change_json", "incident_json", "store_failure"]
