"""The board's HTTP server: pages, JSON, the Server-Sent Events stream, actions.

A stdlib ``ThreadingHTTPServer``: the hub's processes are threaded, not asyncio,
and the board's load is a control room's few screens (streams are capped by
``[board] max_streams``), so a thread per connection is enough and adds no
dependency to install on a hub. Every response carries a strict
Content-Security-Policy; every request must name an allowed Host (DNS
rebinding); every POST must come from the board's own origin with JSON, and
every action from a logged-in operator with the session's CSRF token.
"""

from __future__ import annotations

import functools
import hmac
import json
import logging
import socket
import time
from http import HTTPStatus
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, urlsplit

from hub.board.app import ActionRefused, BoardApp, Session
from hub.board.view import parse_event_id, sse_comment, sse_frame
from hub.store import Store

__all__ = ["BoardServer", "CSP", "COOKIE"]

log = logging.getLogger(__name__)

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
       "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
COOKIE = "lifeline_board"
STATIC = {"/": ("index.html", "text/html; charset=utf-8"),
          "/static/board.css": ("board.css", "text/css; charset=utf-8"),
          "/static/board.js": ("board.js", "text/javascript; charset=utf-8"),
          "/static/favicon.svg": ("favicon.svg", "image/svg+xml")}
BODY_MAX = 64 * 1024
REPLAY_MAX = 5000  # a stream further behind than this many events reloads the snapshot
CHUNK = 500


@functools.cache
def _static_file(name: str) -> bytes:
    """A file of the page, from the installed package (read once)."""
    return resources.files("hub.board").joinpath("static").joinpath(name).read_bytes()


class BoardServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # a fresh process binds at once; a restarted board gets its port back while the old
    # connections sit in TIME_WAIT

    def __init__(self, app: BoardApp, listen: tuple[str, int]) -> None:
        self.app = app
        if ":" in listen[0]:
            self.address_family = socket.AF_INET6
        super().__init__(listen, _Handler)
        self.hosts = app.board.hosts(listen)

    @property
    def url(self) -> str:
        host, port = str(self.server_address[0]), int(self.server_address[1])
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}/"


class _Handler(BaseHTTPRequestHandler):
    server: BoardServer
    protocol_version = "HTTP/1.0"
    # a socket read or write that waits this long fails: a stalled page frees its stream
    timeout = 60
    server_version = "lifeline-board"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (stdlib's name)
        log.debug("board: %s " + format, self.client_address[0], *args)

    # -- helpers ------------------------------------------------------------------------
    def _headers(self, status: int, content_type: str, length: int | None = None,
                 extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        if length is not None:
            self.send_header("Content-Length", str(length))
        self.send_header("Content-Security-Policy", CSP)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("X-Frame-Options", "DENY")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Cross-Origin-Opener-Policy", "same-origin")
        self.send_header("Cache-Control", "no-store")
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()

    def _json(self, status: int, data: Any, extra: dict[str, str] | None = None) -> None:
        body = json.dumps(data, separators=(",", ":")).encode()
        self._headers(status, "application/json", len(body), extra)
        self.wfile.write(body)

    def _error(self, status: int, message: str) -> None:
        self._json(status, {"error": message})

    def _host_allowed(self) -> bool:
        host = (self.headers.get("Host") or "").strip().lower()
        if host.startswith("["):
            host = host[1:host.find("]")] if "]" in host else host
        else:
            host = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
        if host in self.server.hosts:
            return True
        log.warning("board: refused a request for Host %r from %s (not in allowed_hosts)",
                    self.headers.get("Host"), self.client_address[0])
        self._error(HTTPStatus.MISDIRECTED_REQUEST, "This host name is not served here.")
        return False

    def _token(self) -> str | None:
        cookie = SimpleCookie()
        try:
            cookie.load(self.headers.get("Cookie") or "")
        except Exception:  # a malformed cookie header is no session
            return None
        morsel = cookie.get(COOKIE)
        return None if morsel is None else morsel.value

    def _session(self) -> Session | None:
        return self.server.app.session(self._token(), time.time())

    # -- GET ----------------------------------------------------------------------------
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        if not self._host_allowed():
            return
        try:
            self._get()
        except (BrokenPipeError, ConnectionResetError):
            pass
        except Exception:  # a bug or a broken store: logged, answered, the board goes on
            log.exception("board: GET %s failed", self.path)
            self._error(500, "The board could not answer; see its log.")

    def _get(self) -> None:
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        if url.path in STATIC:
            self._static(*STATIC[url.path])
        elif url.path == "/api/board":
            self._json(200, self.server.app.snapshot())
        elif url.path == "/api/map":
            self._json(200, {"map": self.server.app.zone_map(
                self.server.app.snapshot()["incidents"])})
        elif url.path.startswith("/api/incidents/"):
            found = self.server.app.detail(url.path.rsplit("/", 1)[1])
            if found is None:
                self._error(404, "There is no such incident.")
            else:
                self._json(200, found)
        elif url.path == "/api/session":
            session = self._session()
            self._json(200, {"user": session.user if session else None,
                             "csrf": session.csrf if session else None,
                             "login": self.server.app.board.users is not None})
        elif url.path == "/events":
            self._stream(query.get("last", [None])[0])
        else:
            self._error(404, "Not found.")

    def _static(self, name: str, content_type: str) -> None:
        body = _static_file(name)
        self._headers(200, content_type, len(body))
        self.wfile.write(body)

    def _stream(self, last_text: str | None) -> None:
        """The events feed as Server-Sent Events, from ``Last-Event-ID`` (or ``?last=``)
        on: ``hello`` first, a ``change`` per stored event, ``reset`` when the page is too
        far behind (or the store is new), a ``: ping`` comment and a ``heartbeat`` every
        ``keepalive_s``. Not compressed, not buffered by a proxy."""
        app = self.server.app
        if not app.stream_slot():
            self._error(503, "The board serves its maximum of live streams; try again later.")
            return
        store: Store | None = None
        try:
            last = parse_event_id(self.headers.get("Last-Event-ID"), last_text)
            self._headers(200, "text/event-stream; charset=utf-8",
                          extra={"X-Accel-Buffering": "no", "Connection": "close"})
            self.wfile.write(b"retry: 2000\n\n")
            seen = app.generation
            hello = False
            while not app.stopping.is_set():
                if store is None:
                    store = Store.reader(app.config.store)
                top = store.last_event_id() if store is not None else 0
                if last is None:
                    last = top
                if not hello:
                    self.wfile.write(sse_frame("hello", last, {"now": time.time(),
                                                               "keepalive_s": app.board.keepalive_s}))
                    hello = True
                if last > top or top - last > REPLAY_MAX:
                    last = top  # a new store, or too far behind: start over from a snapshot
                    self.wfile.write(sse_frame("reset", last, {"now": time.time()}))
                events = store.events_after(last, CHUNK) if store is not None else []
                for event in events:
                    self.wfile.write(sse_frame("change", event.id, event.to_json()))
                    last = event.id
                self.wfile.flush()
                if len(events) == CHUNK:
                    continue
                now_gen = app.wait_commit(seen, app.board.keepalive_s)
                if now_gen == seen:
                    self.wfile.write(sse_comment(f"ping {time.time():.0f}"))
                    self.wfile.write(sse_frame("heartbeat", last, {"now": time.time()}))
                    self.wfile.flush()
                seen = now_gen
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            pass
        finally:
            if store is not None:
                store.close()
            app.release_stream()

    # -- POST ---------------------------------------------------------------------------
    def do_POST(self) -> None:  # noqa: N802
        if not self._host_allowed():
            return
        try:
            self._post()
        except ActionRefused as exc:
            self._error(exc.status, str(exc))
        except (BrokenPipeError, ConnectionResetError):
            pass
        except Exception:  # a bug or a broken store: logged, answered, the board goes on
            log.exception("board: POST %s failed", self.path)
            self._error(500, "The board could not carry that out; see its log.")

    def _same_origin(self) -> bool:
        """A browser names the page's origin on every POST; it must be this board."""
        origin = self.headers.get("Origin")
        if origin is None:
            return True  # not a browser (curl, the tests' raw client): CSRF token still needed
        host = urlsplit(origin).hostname or ""
        return origin != "null" and host.lower() in self.server.hosts

    def _body(self) -> dict[str, Any]:
        if (self.headers.get("Content-Type") or "").split(";")[0].strip() != "application/json":
            raise ActionRefused(415, "Send JSON (Content-Type: application/json).")
        try:
            length = int(self.headers.get("Content-Length") or "0")
        except ValueError as exc:
            raise ActionRefused(400, "A bad Content-Length.") from exc
        if length > BODY_MAX:
            raise ActionRefused(413, "The request is too large.")
        try:
            data = json.loads(self.rfile.read(length) or b"{}")
        except ValueError as exc:
            raise ActionRefused(400, "The body is not JSON.") from exc
        if not isinstance(data, dict):
            raise ActionRefused(400, "The body must be a JSON object.")
        return data

    def _post(self) -> None:
        if not self._same_origin():
            log.warning("board: refused a POST from origin %r", self.headers.get("Origin"))
            raise ActionRefused(403, "Cross-origin requests are refused.")
        app = self.server.app
        path = urlsplit(self.path).path
        body = self._body()
        if path == "/api/login":
            token, session = app.login(str(body.get("user", "")), str(body.get("password", "")),
                                       time.time())
            max_age = int(app.board.session_hours * 3600)
            self._json(200, {"user": session.user, "csrf": session.csrf}, {
                "Set-Cookie": f"{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; "
                              f"Max-Age={max_age}"})
            return
        found = self._session()
        if found is None:
            raise ActionRefused(403, "Read-only: log in as an operator to act on incidents.")
        session = found
        if not hmac.compare_digest(self.headers.get("X-CSRF-Token") or "", session.csrf):
            log.warning("board: refused %s by %s: missing or wrong CSRF token", path,
                        session.user)
            raise ActionRefused(403, "The request has no valid CSRF token; reload the page.")
        if path == "/api/logout":
            app.logout(self._token())
            self._json(200, {"ok": True}, {
                "Set-Cookie": f"{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"})
            return
        if path == "/api/citizen-reports":  # a hotline system, logged in as a board user
            self._json(200, app.citizen_report(session, body))
            return
        parts = path.strip("/").split("/")
        if len(parts) != 4 or parts[:2] != ["api", "incidents"]:
            raise ActionRefused(404, "Not found.")
        self._json(200, app.act(session, parts[2], parts[3], body))
