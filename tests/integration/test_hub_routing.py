"""Routing against real endpoints: a local HTTP server that fails first, and the MQTT republish."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from lifeline import wire
from lifeline.grades import Grade
from lifeline.localbroker import Broker
from tests.integration.test_hub import BOUND_S, edge_client, hub_config, wait_subscribed
from tests.integration.test_operator_desk import hub_cli, water
from tests.support.processes import running, wait_for

pytestmark = pytest.mark.integration


class Hook:
    """A webhook receiver that answers 503 to the first ``fail`` requests."""

    def __init__(self, fail: int) -> None:
        self.fail = fail
        self.attempts: list[float] = []
        self.received: list[dict[str, Any]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hook.attempts.append(time.monotonic())
                if len(hook.attempts) <= hook.fail:
                    self.send_response(503)
                    self.end_headers()
                    return
                hook.received.append(json.loads(body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/lifeline"


@contextmanager
def serving(hook: Hook) -> Iterator[Hook]:
    thread = threading.Thread(target=hook.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hook
    finally:
        hook.server.shutdown()
        hook.server.server_close()
        thread.join(timeout=5)


@contextmanager
def republished(broker: Broker) -> Iterator[list[dict[str, Any]]]:
    got: list[dict[str, Any]] = []
    ready = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"t-{uuid.uuid4().hex}",
                         protocol=mqtt.MQTTv5)
    # every republished message is a valid wire.IncidentChange (decoding raises otherwise)
    client.on_message = lambda c, u, m: got.append(
        wire.decode_incident_change(bytes(m.payload)).to_dict())
    client.on_subscribe = lambda c, u, mid, codes, props: ready.set()
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    client.subscribe(wire.INCIDENT_TOPIC, qos=1)
    assert ready.wait(BOUND_S)
    try:
        yield got
    finally:
        client.disconnect()
        client.loop_stop()


def test_webhook_retries_with_backoff_and_mqtt_republishes_state_changes(
        tmp_path: Path, broker: Broker) -> None:
    with serving(Hook(fail=2)) as hook, republished(broker) as changes:
        config = hub_config(tmp_path, broker)
        config.write_text(config.read_text() + f'\n[[routes]]\nname = "water-utility"\n'
                          f'url = "{hook.url}"\nhazards = ["water"]\n\n'
                          '[[routes]]\nname = "gas-company"\nurl = "http://127.0.0.1:9/x"\n'
                          'hazards = ["gas"]\n')
        log = tmp_path / "hub.log"
        with running("lifeline-hub", ["run", "--config", str(config)], log), \
                edge_client(broker) as edge:
            wait_subscribed(log)
            now = time.time()
            # Given a hook that fails twice, when a water incident opens and then escalates
            # (five alerts, one grade change). The red ones go once the incident is open: in
            # one inbox batch the hub fuses a higher grade first (hub/core/priority.py), and the
            # incident would open red at once, with no grade change to route.
            for n, grade in enumerate([Grade.YELLOW] * 3 + [Grade.RED] * 2):
                if n == 3:
                    wait_for(lambda: changes, BOUND_S, "the incident to open")
                edge.publish(wire.alert_topic("edge-a"),
                             wire.encode(water("edge-a", "zone-1", grade, now - 10 + n)))
            # Then the hook gets exactly the two state changes, after retries
            wait_for(lambda: len(hook.received) >= 2, BOUND_S, "two webhook deliveries")
            assert [r["kind"] for r in hook.received] == ["opened", "grade_changed"]
            assert hook.received[1]["incident"]["grade"] == "red"
            assert len(hook.attempts) == 4
            gaps = [b - a for a, b in zip(hook.attempts, hook.attempts[1:], strict=False)]
            assert gaps[0] >= 0.4 and gaps[1] >= 0.9  # 1 s then 2 s, jittered down to half
            # And the MQTT republish carried the same changes
            wait_for(lambda: len(changes) >= 2, BOUND_S, "republished changes")
            assert [c["kind"] for c in changes] == ["opened", "grade_changed"]
            # When the zone is silenced and the operator resolves the incident
            assert hub_cli(config, "silence", "add", "--zone", "zone-1", "--for", "1h",
                           "--comment", "works").returncode == 0
            assert hub_cli(config, "incidents", "resolve", "INC-1", "--why", "fixed"
                           ).returncode == 0
            # Then the republish says it is silenced, and the hook hears nothing more
            wait_for(lambda: len(changes) >= 3, BOUND_S, "the resolve republished")
            assert (changes[2]["kind"], changes[2]["silenced"], changes[2]["by"]) == (
                "resolved", True, "alice")
            time.sleep(1.0)
            assert len(hook.received) == 2
    # And the gas route (its endpoint dead) never got a row: state changes route by hazard
    import sqlite3

    with sqlite3.connect(tmp_path / "hub.db") as db:
        rows = db.execute("SELECT route, count(*), sum(delivered_at IS NOT NULL) FROM outbox "
                          "GROUP BY route ORDER BY route").fetchall()
    assert rows == [("mqtt", 3, 3), ("water-utility", 2, 2)]
