"""The store's PostgreSQL connection (psycopg 3): imported only when hub.toml's ``[store] url``
names a PostgreSQL database, so a hub on SQLite never loads psycopg.

``PgConnection`` gives the store the interface of a sqlite3 connection (``execute`` with
``?`` placeholders, ``in_transaction``, cursors with ``rowcount``), in autocommit mode so
``Store.transaction`` opens and ends transactions itself, as it does on SQLite. psycopg's
errors never leave here: they become ``BackendError`` (a ``StoreError``), with
``value_error`` set for the errors about one statement's values (see ``store_failure``).

PostgreSQL text cannot hold the NUL character, which an alert's text fields may (the wire
accepts it and SQLite keeps it): such a value is stored with U+FFFD in its place in the
alert's columns; the alert's ``body`` (its JSON, where NUL is written ``\\u0000``) keeps it
exactly, and that is what the desk shows.

``listen`` and ``wait`` are ``tail``'s wake-up: the events table's trigger
(hub/store/postgres_schema.py) notifies ``lifeline_events`` on every commit that adds to
the feed.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import pq

from hub.store.errors import BackendError, StoreError

__all__ = ["EVENTS_CHANNEL", "PgConnection", "connect", "redacted"]

EVENTS_CHANNEL = "lifeline_events"
CONNECTION_CHECK_MS = 1000
_IN_TRANSACTION = (pq.TransactionStatus.INTRANS, pq.TransactionStatus.INERROR,
                   pq.TransactionStatus.ACTIVE)
# errors about the values a statement bound (as sqlite3's IntegrityError and DataError)
_VALUE_ERRORS = (psycopg.IntegrityError, psycopg.DataError)


def redacted(url: str) -> str:
    """``url`` without a password, for logs and messages (hub.toml refuses one anyway)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


@functools.lru_cache(maxsize=512)
def _placeholders(sql: str) -> str:
    """The store's ``?`` placeholders as psycopg's ``%s`` (a literal ``%`` doubled)."""
    return sql.replace("%", "%%").replace("?", "%s")


def _value(value: Any) -> Any:
    if isinstance(value, str) and "\x00" in value:
        return value.replace("\x00", "\ufffd")
    return value


def _converted(exc: psycopg.Error) -> BackendError:
    return BackendError(f"PostgreSQL: {str(exc).strip() or type(exc).__name__}",
                        value_error=isinstance(exc, _VALUE_ERRORS))


class PgConnection:
    """One psycopg connection with the store's sqlite3-shaped interface."""

    def __init__(self, connection: psycopg.Connection[Any]) -> None:
        self._conn = connection
        self.notified = 0  # notifications received on the events channel (after ``listen``)
        self.listening = False

    @property
    def in_transaction(self) -> bool:
        return self._conn.info.transaction_status in _IN_TRANSACTION

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> psycopg.Cursor[Any]:
        try:
            return self._conn.execute(_placeholders(sql), [_value(p) for p in parameters])
        except psycopg.Error as exc:
            raise _converted(exc) from exc

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> None:
        """``sql`` once per row of ``parameters`` (one batch of alerts: one round trip)."""
        try:
            with self._conn.cursor() as cursor:
                cursor.executemany(_placeholders(sql),
                                   [[_value(p) for p in row] for row in parameters])
        except psycopg.Error as exc:
            raise _converted(exc) from exc

    def execute_raw(self, sql: str) -> None:
        """Run ``sql`` as written (DDL with several statements, no placeholders)."""
        try:
            self._conn.execute(sql.encode())
        except psycopg.Error as exc:
            raise _converted(exc) from exc

    @contextmanager
    def pipeline(self) -> Iterator[None]:
        """Statements run in the block are sent without waiting for each one's answer
        (psycopg's pipeline mode); their errors are raised by the end of the block. For
        writes whose results are not read (``Store.apply``): one round trip instead of one
        per statement."""
        try:
            with self._conn.pipeline():
                yield
        except psycopg.Error as exc:
            raise _converted(exc) from exc

    def listen(self) -> None:
        """From now on, commits that add to the events feed wake ``wait``."""
        self.execute_raw(f"LISTEN {EVENTS_CHANNEL}")
        self.listening = True

    def wait(self, timeout_s: float) -> bool:
        """True if the events feed grew since the last wait (or during this one)."""
        got = False
        try:
            for _ in self._conn.notifies(timeout=timeout_s, stop_after=1):
                got = True
        except psycopg.Error as exc:
            raise _converted(exc) from exc
        if got:
            self.notified += 1
        return got

    def close(self) -> None:
        self._conn.close()


def connect(url: str) -> PgConnection:
    """A connection to the database at ``url``; StoreError if it cannot be had."""
    try:
        connection = psycopg.connect(url, autocommit=True, connect_timeout=10,
                                     application_name="lifeline-hub")
    except psycopg.Error as exc:
        raise StoreError(f"cannot connect to the store {redacted(url)}: "
                         f"{str(exc).strip()}") from exc
    try:
        # the server notices a client gone (a hub killed) within this while it runs or
        # waits for one of its statements -- a lock it holds is then freed at once, not
        # only when the statement ends (PostgreSQL 14+; older servers do without)
        connection.execute(f"SET client_connection_check_interval = {CONNECTION_CHECK_MS}")
    except psycopg.Error:
        pass
    return PgConnection(connection)
