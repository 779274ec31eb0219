"""A running board for tests: Mosquitto, ``lifeline-hub run`` and ``lifeline-hub board``
as real subprocesses on one store, a paho client playing the edge, and a browser.

The browser is Debian's chromium driven by Playwright's Python package through
``executable_path``: Playwright never downloads a browser here (make test installs
the ``chromium`` package as it installs mosquitto).
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lifeline import wire
from lifeline.grades import Grade
from lifeline.localbroker import Broker
from tests.integration.test_hub import BOUND_S, Client, edge_client, wait_subscribed
from tests.support.processes import running, script, wait_for

REPO = Path(__file__).resolve().parents[2]
PASSWORD = "correct-horse-battery"
TOPOLOGY = """
[rules.water]
reach = "neighbours"

[zones.north]
[zones.main-1]
parent = "north"
neighbours = ["main-2"]
downstream = ["dma-9"]
[zones.main-2]
parent = "north"
[zones.dma-9]
parent = "north"
[zones.east]
[zones.gas-east-1]
parent = "east"
"""


def chromium_path() -> str | None:
    """Debian's chromium binary, if installed (``make test`` installs it)."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    return found


def output_dir(name: str) -> Path:
    """Where a test leaves what a person should look at (screenshots): build/test-output/."""
    path = Path(os.environ.get("LIFELINE_TEST_OUTPUT", REPO / "build" / "test-output")) / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def water(device: str, zone: str, grade: Grade, ts: float, message: str = "",
          context: tuple[float, ...] = (300.0, 290.0, 270.0, 240.0, 200.0, 150.0)
          ) -> wire.Alert:
    return wire.Alert(id=uuid.uuid4().hex, device=device, zone=zone, sensor="main-pressure",
                      channel="pressure_kpa", kind="water.pressure", ts=ts, value=context[-1],
                      score=1.0, grade=grade, reason=wire.Reason.LIMIT, seq=1, unit="kPa",
                      context=context, message=message or f"{context[-1]:g} kPa below low limit")


def gas(device: str, zone: str, grade: Grade, ts: float) -> wire.Alert:
    return wire.Alert(id=uuid.uuid4().hex, device=device, zone=zone, sensor="manhole-methane",
                      channel="methane_lel", kind="gas.methane", ts=ts, value=42.0, score=1.0,
                      grade=grade, reason=wire.Reason.LIMIT, seq=1, unit="%LEL",
                      context=(2.0, 3.0, 8.0, 19.0, 31.0, 42.0),
                      message="42 %LEL above high limit 20")


@dataclass
class Rig:
    config: Path
    url: str
    edge: Client
    hub_log: Path
    board_log: Path

    @property
    def port(self) -> int:
        return int(self.url.rstrip("/").rsplit(":", 1)[1])

    def publish(self, alert: wire.Alert) -> None:
        self.edge.publish(wire.alert_topic(alert.device), wire.encode(alert))

    def request(self, method: str, path: str, body: Any = None,
                headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        """One plain HTTP request to the board (not a browser): status, headers, body."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            data = None if body is None else json.dumps(body).encode()
            sent = {"Host": f"127.0.0.1:{self.port}", **(headers or {})}
            if data is not None:
                sent.setdefault("Content-Type", "application/json")
            conn.request(method, path, body=data, headers=sent)
            response = conn.getresponse()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, \
                response.read()
        finally:
            conn.close()

    def login(self, user: str = "alice") -> tuple[str, str]:
        """(cookie header value, CSRF token) of a new session."""
        status, headers, body = self.request("POST", "/api/login",
                                             {"user": user, "password": PASSWORD})
        assert status == 200, body
        cookie = headers["set-cookie"].split(";")[0]
        return cookie, json.loads(body)["csrf"]

    def hub(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([script("lifeline-hub"), *args, "--config", str(self.config)],
                              capture_output=True, text=True, timeout=30,
                              env={**os.environ, "NO_COLOR": "1"})


def write_config(tmp_path: Path, broker: Broker, *, users: bool = True,
                 keepalive_s: float = 2.0) -> Path:
    config = tmp_path / "hub.toml"
    board = f'[board]\nkeepalive_s = {keepalive_s}\n' + ('users = "board-users"\n' if users else "")
    config.write_text(f'[mqtt]\nhost = "127.0.0.1"\nport = {broker.port}\n'
                      f'client_id = "hub-{uuid.uuid4().hex[:8]}"\n\n[store]\npath = "hub.db"\n\n'
                      f"{board}{TOPOLOGY}")
    if users:
        secret = tmp_path / "password"
        secret.write_text(PASSWORD + "\n")
        for name in ("alice", "bob"):
            done = subprocess.run([script("lifeline-hub"), "board-user", "add", name,
                                   "--password-file", str(secret), "--config", str(config)],
                                  capture_output=True, text=True, timeout=30)
            assert done.returncode == 0, done.stderr
    return config


@contextmanager
def board_rig(tmp_path: Path, broker: Broker, *, users: bool = True,
              keepalive_s: float = 2.0) -> Iterator[Rig]:
    """The hub and the board running on one store, and an edge client, until the block ends."""
    config = write_config(tmp_path, broker, users=users, keepalive_s=keepalive_s)
    hub_log, board_log = tmp_path / "hub.log", tmp_path / "board.log"
    with ExitStack() as stack:
        stack.enter_context(running("lifeline-hub", ["run", "--config", str(config)], hub_log))
        stack.enter_context(running("lifeline-hub", ["board", "--config", str(config),
                                                     "--listen", "127.0.0.1:0"], board_log))
        edge = stack.enter_context(edge_client(broker))
        wait_subscribed(hub_log)
        found = wait_for(lambda: board_log.exists() and re.search(
            r"board: (http://\S+)", board_log.read_text()), BOUND_S, "the board's address")
        yield Rig(config=config, url=found.group(1), edge=edge, hub_log=hub_log,
                  board_log=board_log)


def incident_json(rig: Rig, label: str) -> dict[str, Any]:
    done = rig.hub("incidents", "show", label, "--json")
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result
