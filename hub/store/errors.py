"""The store's errors, and which errors of the database underneath are the store failing."""

from __future__ import annotations

import sqlite3

from lifeline.errors import HubError

__all__ = ["DatabaseError", "StoreError", "store_failure"]

# The base class of what the database module raises (the hub's top level catches it with
# StoreError)
DatabaseError: type[Exception] = sqlite3.Error


class StoreError(HubError):
    """The store cannot be opened or used (wrong file, newer schema, disk trouble)."""


# sqlite3 errors about the values one message bound; every other sqlite3 error is the
# database's (see store_failure).
_VALUE_ERRORS = (sqlite3.IntegrityError, sqlite3.DataError, sqlite3.InterfaceError)


def store_failure(exc: BaseException) -> bool:
    """True if ``exc`` is the store failing (disk full, I/O error, database gone or corrupt),
    not one message: then the batch is not committed, nothing is acknowledged, the hub
    stops (hub/service/run.py) and the broker redelivers after a restart.

    >>> store_failure(sqlite3.OperationalError("database or disk is full"))
    True
    >>> store_failure(sqlite3.IntegrityError("NOT NULL constraint failed"))
    False
    >>> store_failure(ValueError("year 0 is out of range"))
    False
    """
    if isinstance(exc, sqlite3.Error):
        return not isinstance(exc, _VALUE_ERRORS)
    return isinstance(exc, OSError | MemoryError)
