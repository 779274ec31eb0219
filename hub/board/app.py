"""The board's requests, apart from HTTP: snapshot, incident detail, sessions, actions.

Reads go through the Store's public methods only, each request on its own
read-only connection (WAL: the hub writes meanwhile). Actions go through the
desk's ``apply_action``, the code path of ``lifeline-hub incidents ack``: the
same lifecycle checks, the same timeline event under the operator's name, the
same desk revision the hub reloads on.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from hub.board.svg import sparkline_svg, zone_map_svg
from hub.board.users import UsersError, load_users, verify_password
from hub.board.view import board_row, sort_rows, worst_by_zone
from hub.config import HubConfig
from hub.desk.render import latest_per_channel
from hub.store import Store, change_json
from lifeline.errors import HubError
from lifeline.wire import parse_incident_id

__all__ = ["ACTIONS", "ActionRefused", "BoardApp", "Session"]

log = logging.getLogger(__name__)

ACTIONS = ("ack", "assign", "comment", "resolve")
TIMELINE_MAX = 500  # the newest events of an incident's timeline the detail panel shows
LOGIN_FAILURES = 5  # per operator name within LOGIN_WINDOW_S: then refused for that long
LOGIN_WINDOW_S = 60.0
# the commit watcher (watch_commits): as tail's (hub/desk/tailing.py)
POLL_S = 0.005
HOT_S = 0.25
IDLE_S = 0.1


class ActionRefused(HubError):
    """An action the board does not carry out; ``status`` is the HTTP status to answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class Session:
    user: str
    csrf: str
    expires: float


class BoardApp:
    """State shared by the board's request threads: sessions and the commit notifier."""

    def __init__(self, config: HubConfig) -> None:
        self.config = config
        self.board = config.board
        self._sessions: dict[str, Session] = {}
        self._failures: dict[str, list[float]] = {}
        self._lock = threading.Lock()
        # the feed watcher bumps ``generation`` after every commit another process made
        self.changed = threading.Condition()
        self.generation = 0
        self.stopping = threading.Event()
        self._streams = threading.BoundedSemaphore(self.board.max_streams)

    # -- reading ------------------------------------------------------------------------
    @contextmanager
    def reader(self) -> Iterator[Store | None]:
        store = Store.reader(self.config.store)
        try:
            yield store
        finally:
            if store is not None:
                store.close()

    def snapshot(self) -> dict[str, Any]:
        """Active incidents in board order, the recently resolved, the zone map, and the
        event id the page's stream resumes after."""
        rows: list[dict[str, Any]] = []
        resolved: list[dict[str, Any]] = []
        last = 0
        with self.reader() as store:
            if store is not None:
                last = store.last_event_id()  # first: a change meanwhile is replayed, not lost
                active = [*store.incidents("open", rule_state=False),
                          *store.incidents("acknowledged", rule_state=False)]
                acks = store.last_events_of("acknowledged", [i.id for i in active])
                rows = sort_rows(board_row(i, acks.get(i.id)) for i in active)
                resolved = [board_row(i) for i in store.recently_resolved(
                    self.board.resolved_shown)]
        topology = self.config.fusion.topology
        return {"incidents": rows, "resolved": resolved, "last_event": last,
                "parents": {name: zone.parent for name, zone in topology.zones.items()},
                "map": self.zone_map(rows), "keepalive_s": self.board.keepalive_s,
                "now": time.time()}

    def zone_map(self, rows: list[dict[str, Any]]) -> str:
        topology = self.config.fusion.topology
        extra = [z for r in rows for z in (r.get("zones") or [r["zone"]])]
        return zone_map_svg(topology, worst_by_zone(rows, topology), extra)

    def detail(self, text_id: str) -> dict[str, Any] | None:
        """One incident as ``incidents show`` reads it: the row, its timeline (the newest
        TIMELINE_MAX events) and per sensor channel the latest alert's context as a
        sparkline."""
        number = parse_incident_id(text_id)
        if number is None:
            return None
        with self.reader() as store:
            if store is None or (incident := store.incident(number)) is None:
                return None
            timeline = store.timeline(number)
            alerts = store.incident_alerts(number)
            acks = store.last_events_of("acknowledged", [number])
        latest, counts = latest_per_channel(alerts)
        sensors = []
        for key, alert in latest.items():
            values = [float(v) for v in alert.get("context") or []]
            unit = str(alert.get("unit") or "")
            span = f"{min(values):g} .. {max(values):g} {unit}".rstrip() if values else ""
            sensors.append({"key": key, "svg": sparkline_svg(values, f"{key} {span}"),
                            "span": span, "count": counts[key],
                            "message": str(alert.get("message", "")),
                            "grade": alert.get("grade"), "value": alert.get("value"),
                            "unit": unit})
        return {"incident": board_row(incident, acks.get(number)),
                "timeline": [e.to_json() for e in timeline[-TIMELINE_MAX:]],
                "timeline_total": len(timeline), "sensors": sensors}

    # -- streams ------------------------------------------------------------------------
    def stream_slot(self) -> bool:
        """Take one of ``max_streams`` stream slots (False: the board is full)."""
        return self._streams.acquire(blocking=False)

    def release_stream(self) -> None:
        self._streams.release()

    def notify_commit(self) -> None:
        with self.changed:
            self.generation += 1
            self.changed.notify_all()

    def wait_commit(self, seen: int, timeout: float) -> int:
        """The generation after ``seen``, or ``seen`` when ``timeout`` passes first."""
        with self.changed:
            self.changed.wait_for(lambda: self.generation != seen or self.stopping.is_set(),
                                  timeout)
            return self.generation

    def watch_commits(self) -> None:
        """Until stopped: notify the streams whenever another process commits to the store.

        As ``tail`` does (hub/desk/tailing.py): ``PRAGMA data_version`` (microseconds) every
        POLL_S for HOT_S after a file beside the store was written (inotify), otherwise
        asleep until such a write or IDLE_S; every POLL_S without inotify. On PostgreSQL
        it LISTENs instead, asleep until a commit adds to the events feed."""
        from hub.desk.commitwatch import CommitWatch

        store: Store | None = None
        version: int | None = None
        listening = self.config.store.url is not None
        watch = CommitWatch(self.config.store.path.parent, POLL_S)
        hot_until = 0.0
        try:
            while not self.stopping.is_set():
                try:
                    if store is None:
                        store = Store.reader(self.config.store)
                        if store is not None and listening:
                            store.listen()
                    if store is not None and listening:
                        if store.wait_for_events(IDLE_S):
                            self.notify_commit()
                        continue
                    now_version = None if store is None else store.data_version()
                except HubError as exc:  # a store being replaced, a database restarting
                    log.warning("board: cannot watch the store: %s", exc)
                    now_version = None
                    if listening:
                        if store is not None:
                            store.close()
                        store = None
                        self.stopping.wait(IDLE_S)
                        continue
                if now_version is not None and now_version != version:
                    version = now_version
                    self.notify_commit()
                if store is None or not watch.watching or time.monotonic() < hot_until:
                    self.stopping.wait(POLL_S if store is not None else IDLE_S)
                elif watch.wait(IDLE_S):
                    hot_until = time.monotonic() + HOT_S
        finally:
            watch.close()
            if store is not None:
                store.close()

    # -- sessions -----------------------------------------------------------------------
    def login(self, user: str, password: str, now: float) -> tuple[str, Session]:
        """A new session (its cookie token and CSRF token) for a right name and password."""
        if self.board.users is None:
            raise ActionRefused(403, "The board is read-only: hub.toml's [board] names no "
                                "users file.")
        with self._lock:
            recent = [t for t in self._failures.get(user, []) if now - t < LOGIN_WINDOW_S]
            self._failures[user] = recent
            if len(recent) >= LOGIN_FAILURES:
                raise ActionRefused(429, "Too many failed logins for this name; wait a minute.")
        try:
            users = load_users(self.board.users)
        except UsersError as exc:
            log.error("board: %s", exc)
            raise ActionRefused(500, "The operators file cannot be read; see the log.") from exc
        stored = users.get(user)
        # a name that does not exist costs a hash too: no hint which names exist
        if not verify_password(password, stored or _DUMMY_HASH) or stored is None:
            with self._lock:
                self._failures.setdefault(user, []).append(now)
            log.warning("board: failed login for %r", user)
            raise ActionRefused(403, "Wrong name or password.")
        session = Session(user=user, csrf=secrets.token_urlsafe(32),
                          expires=now + self.board.session_hours * 3600.0)
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._sessions = {k: s for k, s in self._sessions.items() if s.expires > now}
            self._sessions[token] = session
        log.info("board: %s logged in", user)
        return token, session

    def session(self, token: str | None, now: float) -> Session | None:
        if not token:
            return None
        with self._lock:
            found = self._sessions.get(token)
            if found is not None and found.expires <= now:
                del self._sessions[token]
                return None
            return found

    def logout(self, token: str | None) -> None:
        with self._lock:
            self._sessions.pop(token or "", None)

    # -- actions ------------------------------------------------------------------------
    def act(self, session: Session, text_id: str, action: str, body: dict[str, Any]
            ) -> dict[str, Any]:
        """Carry out an operator's action as ``incidents <action>`` does, under their name."""
        from hub.desk.commands import DeskError, apply_action, make_action

        if action not in ACTIONS:
            raise ActionRefused(404, f"{action!r} is not an action.")
        fields = {k: str(body.get(k) or "") for k in ("why", "who", "text", "outcome")}
        if any(len(v) > 2000 for v in fields.values()):
            raise ActionRefused(400, "A note is limited to 2000 characters.")
        try:
            change, now = apply_action(self.config, text_id,
                                       make_action(action, session.user, **fields))
        except DeskError as exc:
            raise ActionRefused(409, str(exc)) from exc
        log.info("board: %s %s by %s", action, change.incident.label, session.user)
        return {"ok": True, "change": change_json(change), "at": now}


    def citizen_report(self, session: Session, body: dict[str, Any]) -> dict[str, Any]:
        """A resident's report taken in by a logged-in user (a hotline system, an operator),
        as ``lifeline-hub report-citizen`` does. The answer names the incident, never the
        contact (hub/desk/citizen.py)."""
        from hub.desk.citizen import file_citizen_report
        from hub.desk.commands import DeskError

        fields = {k: str(body.get(k) or "") for k in ("zone", "hazard", "text", "contact")}
        if any(len(v) > 2000 for v in fields.values()):
            raise ActionRefused(400, "A report is limited to 2000 characters.")
        try:
            changes, now = file_citizen_report(self.config, fields["zone"], fields["hazard"],
                                               fields["text"], fields["contact"],
                                               session.user)
        except DeskError as exc:
            raise ActionRefused(409, str(exc)) from exc
        log.info("board: citizen report on %s by %s", changes[0].incident.label, session.user)
        return {"ok": True, "incident": changes[0].incident.label,
                "changes": [change_json(c) for c in changes], "at": now}


_DUMMY_HASH = ("scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$"
               "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
