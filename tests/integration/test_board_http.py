"""The board over plain HTTP (no browser): the Server-Sent Events stream's format and
replay, the security headers, the Host allow-list, and who may act (403 otherwise).

Real processes: Mosquitto, ``lifeline-hub run`` and ``lifeline-hub board`` on one store.
"""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from typing import Any

import pytest

from lifeline.grades import Grade
from lifeline.localbroker import Broker, free_port
from tests.integration.test_hub import BOUND_S, edge_client, wait_subscribed
from tests.support.board import Rig, board_rig, incident_json, water, write_config
from tests.support.processes import running, wait_for

pytestmark = pytest.mark.integration


def read_stream(rig: Rig, headers: dict[str, str], until: str, timeout: float = BOUND_S
                ) -> str:
    """The raw SSE text of ``/events`` until ``until`` appears in it (or the time is up)."""
    sock = socket.create_connection(("127.0.0.1", rig.port), timeout=timeout)
    extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    sock.sendall(f"GET /events HTTP/1.1\r\nHost: 127.0.0.1:{rig.port}\r\n{extra}\r\n".encode())
    text = ""
    deadline = time.monotonic() + timeout
    try:
        while until not in text and time.monotonic() < deadline:
            chunk = sock.recv(65536)
            if not chunk:
                break
            text += chunk.decode()
    finally:
        sock.close()
    return text


def frames(text: str) -> list[dict[str, Any]]:
    """The stream's events (name, id, data) and comments, in order."""
    found = []
    for block in text.split("\r\n\r\n", 1)[-1].split("\n\n"):
        if not block.strip():
            continue
        frame: dict[str, Any] = {}
        for line in block.split("\n"):
            key, _, value = line.partition(": ")
            frame[key or "comment"] = json.loads(value) if key == "data" else value
        found.append(frame)
    return found


def test_stream_has_ids_replays_from_last_event_id_and_keeps_alive(tmp_path: Path,
                                                                   broker: Broker) -> None:
    with board_rig(tmp_path, broker, keepalive_s=1.0) as rig:
        # Given two incidents stored by the running hub
        now = time.time()
        rig.publish(water("edge-a", "main-1", Grade.YELLOW, now - 5))
        rig.publish(water("edge-g", "gas-east-1", Grade.ORANGE, now - 4))
        wait_for(lambda: rig.hub("incidents", "show", "INC-2").returncode == 0, BOUND_S,
                 "two incidents")
        # When a page connects from the start of the feed
        text = read_stream(rig, {"Last-Event-ID": "0"}, ": ping")
        got = frames(text)
        # Then the response is an uncompressed, unbuffered event stream
        head = text.split("\r\n\r\n", 1)[0].lower()
        assert "content-type: text/event-stream" in head and "x-accel-buffering: no" in head
        assert "content-encoding" not in head
        # And every event has an id; the changes replay in order with the incidents' ids
        events = [f for f in got if "event" in f]
        assert all(f["id"].isdigit() for f in events)
        changes = [f for f in events if f["event"] == "change"]
        assert [c["data"]["incident"]["id"] for c in changes][:2] == ["INC-1", "INC-2"]
        assert [int(c["id"]) for c in changes] == sorted(int(c["id"]) for c in changes)
        # And a keep-alive comment comes when nothing happens
        assert any(f.get("comment", "").startswith("ping") for f in got)
        # When a page reconnects saying it saw the first change
        first = changes[0]["id"]
        again = [f for f in frames(read_stream(rig, {"Last-Event-ID": first}, ": ping"))
                 if f.get("event") == "change"]
        # Then it gets only what came after
        assert again and all(int(f["id"]) > int(first) for f in again)
        assert again[0]["data"]["incident"]["id"] == "INC-2"


def test_headers_hosts_and_refusals(tmp_path: Path, broker: Broker) -> None:
    with board_rig(tmp_path, broker) as rig:
        rig.publish(water("edge-a", "main-1", Grade.YELLOW, time.time() - 5))
        wait_for(lambda: rig.hub("incidents", "show", "INC-1").returncode == 0, BOUND_S,
                 "an incident")
        # Every response carries a strict Content-Security-Policy
        status, headers, page = rig.request("GET", "/")
        assert status == 200 and b"/static/board.js" in page
        csp = headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src 'self'" in csp
        assert "unsafe-inline" not in csp and headers["x-frame-options"] == "DENY"
        # A Host that is not ours is refused (DNS rebinding)
        status, _, _ = rig.request("GET", "/api/board", headers={"Host": "evil.example:8080"})
        assert status == 421
        # Read-only without a session: 403, nothing written
        path = "/api/incidents/INC-1/ack"
        status, _, body = rig.request("POST", path, {"why": "x"})
        assert status == 403 and b"Read-only" in body
        # A session without the CSRF token: 403
        cookie, csrf = rig.login()
        status, _, body = rig.request("POST", path, {}, {"Cookie": cookie})
        assert status == 403 and b"CSRF" in body
        # With a wrong one, and from another origin: 403
        status, _, _ = rig.request("POST", path, {}, {"Cookie": cookie, "X-CSRF-Token": "x"})
        assert status == 403
        status, _, _ = rig.request("POST", path, {}, {"Cookie": cookie, "X-CSRF-Token": csrf,
                                                      "Origin": "http://evil.example"})
        assert status == 403
        assert incident_json(rig, "INC-1")["incident"]["status"] == "open"
        # A wrong password: 403
        status, _, _ = rig.request("POST", "/api/login", {"user": "alice", "password": "nope"})
        assert status == 403
        # With both: the action is written under the operator's name, as `incidents ack` does
        status, _, body = rig.request("POST", path, {"why": "crew on the way"},
                                      {"Cookie": cookie, "X-CSRF-Token": csrf,
                                       "Origin": rig.url.rstrip("/")})
        assert status == 200, body
        shown = incident_json(rig, "INC-1")
        assert shown["incident"]["status"] == "acknowledged"
        [ack] = [e for e in shown["timeline"] if e["kind"] == "acknowledged"]
        assert ack["by"] == "alice" and ack["why"] == "crew on the way"
        # And a second acknowledgement is refused with the desk's reason
        status, _, body = rig.request("POST", path, {}, {"Cookie": cookie, "X-CSRF-Token": csrf})
        assert status == 409 and b"already acknowledged" in body


def test_board_without_users_is_read_only(tmp_path: Path, broker: Broker) -> None:
    with board_rig(tmp_path, broker, users=False) as rig:
        status, _, body = rig.request("POST", "/api/login", {"user": "alice", "password": "x"})
        assert status == 403 and b"read-only" in body
        status, _, body = rig.request("GET", "/api/session")
        assert json.loads(body) == {"user": None, "csrf": None, "login": False}


def test_run_serves_the_board_too_with_board_with_hub(tmp_path: Path, broker: Broker) -> None:
    # Given hub.toml asking lifeline-hub run to serve the board itself
    config = write_config(tmp_path, broker)
    port = free_port()
    config.write_text(config.read_text().replace(
        "[board]\n", f'[board]\nwith_hub = true\nlisten = "127.0.0.1:{port}"\n'))
    log = tmp_path / "hub.log"
    with running("lifeline-hub", ["run", "--config", str(config)], log), \
            edge_client(broker) as edge:
        wait_subscribed(log)
        rig = Rig(config=config, url=f"http://127.0.0.1:{port}/", edge=edge, hub_log=log,
                  board_log=log)
        # When an alert arrives
        rig.publish(water("edge-a", "main-1", Grade.ORANGE, time.time() - 5))
        # Then the hub's own process serves it on the board, snapshot and stream
        board = wait_for(lambda: (got := rig.request("GET", "/api/board"))[0] == 200 and
                         json.loads(got[2])["incidents"] and json.loads(got[2]), BOUND_S,
                         "the incident on the hub's board")
        assert board["incidents"][0]["id"] == "INC-1"
        text = read_stream(rig, {"Last-Event-ID": "0"}, "event: change")
        assert '"kind":"opened"' in text
        # And an operator's action works there as in the sibling process
        cookie, csrf = rig.login()
        status, _, body = rig.request("POST", "/api/incidents/INC-1/ack", {},
                                      {"Cookie": cookie, "X-CSRF-Token": csrf})
        assert status == 200, body
        assert incident_json(rig, "INC-1")["incident"]["status"] == "acknowledged"
    assert "board: serving" in log.read_text()
