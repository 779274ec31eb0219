"""One hub on PostgreSQL (``[store] url``): a real ``lifeline-hub run`` on a real Mosquitto and
a real PostgreSQL cluster of the test's own, the desk commands as subprocesses.

The lifecycle, silences and tail-replay desk tests run on PostgreSQL too
(tests/integration/test_operator_desk.py); these are what PostgreSQL adds or changes:
``migrate``, a live ``tail --json`` woken by LISTEN/NOTIFY, ``status`` naming the database,
and the database restarted under load (the hub waits and resumes, nothing lost).
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from hub.store.schema import SCHEMA_VERSION
from lifeline import wire
from lifeline.grades import Grade
from lifeline.localbroker import Broker, stop_process
from tests.integration.test_hub import BOUND_S, edge_client, hub_config, incidents, wait_subscribed
from tests.support.postgres import Postgres
from tests.support.processes import cli_json, running, script, wait_for

pytestmark = pytest.mark.integration


def water(device: str, zone: str, n: int, ts: float, grade: Grade = Grade.YELLOW) -> wire.Alert:
    return wire.Alert(id=uuid.uuid4().hex, device=device, zone=zone, sensor="main-pressure",
                      channel="pressure_kpa", kind="water.pressure", ts=ts, value=150.0 - n,
                      score=1.0, grade=grade, reason=wire.Reason.LIMIT, seq=n, unit="kPa",
                      context=(300.0, 150.0 - n))


def hub_cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([script("lifeline-hub"), *args, "--config", str(config)],
                          capture_output=True, text=True, timeout=BOUND_S,
                          env={**os.environ, "NO_COLOR": "1", "LIFELINE_OPERATOR": "alice"})


@contextmanager
def following(config: Path) -> Iterator[queue.Queue[dict[str, Any]]]:
    """``lifeline-hub tail --json --from-start`` following (not --no-follow): its lines as
    they come (from the start: a tail slow to start must not skip what came before it)."""
    lines: queue.Queue[dict[str, Any]] = queue.Queue()
    proc = subprocess.Popen([script("lifeline-hub"), "tail", "--json", "--from-start",
                             "--config", str(config)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            start_new_session=True)

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(json.loads(line))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        yield lines
    finally:
        stop_process(proc)  # type: ignore[arg-type]
        reader.join(timeout=BOUND_S)
        assert proc.stdout is not None
        proc.stdout.close()


REPO = Path(__file__).resolve().parents[2]


def stored_alerts(config: Path) -> int:
    return int(cli_json("lifeline-hub", ["status", "--config", str(config)])["alerts"])


def test_a_hub_on_postgresql_serves_the_desk_and_tail_follows_live(
        tmp_path: Path, broker: Broker, postgres_url: str) -> None:
    config = hub_config(tmp_path, broker, postgres_url)
    # Given a database the store was created in by hand (the hub would do it at start too)
    made = hub_cli(config, "migrate")
    assert (made.returncode, made.stdout.strip()) == (
        0, f"store {postgres_url}: schema {SCHEMA_VERSION} (created)"), made.stderr
    assert hub_cli(config, "migrate").stdout.strip().endswith(f"schema {SCHEMA_VERSION} (already up to date)")
    checked = hub_cli(config, "check-config")
    assert checked.returncode == 0 and f"ok: store {postgres_url}," in checked.stdout
    log = tmp_path / "hub.log"
    with running("lifeline-hub", ["run", "--config", str(config)], log), \
            edge_client(broker) as edge, following(config) as tail:
        wait_subscribed(log)
        edge.listen_for_acks("edge-a")
        # When alerts arrive while tail follows
        now = time.time()
        sent = [water("edge-a", "main-1", n, now - 10 + n) for n in range(1, 4)]
        for a in sent:
            edge.publish(wire.alert_topic("edge-a"), wire.encode(a))
        # Then the hub stores them, acknowledges them to the edge, and fuses them
        wait_for(lambda: sorted(edge.acked) == sorted(a.id for a in sent), BOUND_S,
                 "the acks of the three alerts")
        [incident] = wait_for(lambda: [i for i in incidents(config) if i["alert_count"] == 3],
                              BOUND_S, "one incident of three alerts")
        assert (incident["id"], incident["zone"], incident["status"]) == ("INC-1", "main-1",
                                                                          "open")
        # And tail printed each change as it was committed (the alerts a batch joined to
        # an incident in one line: alert_ids)
        got: list[tuple[str, str, str]] = []
        while len(got) < 3:
            e = tail.get(timeout=BOUND_S)
            got.extend((e["kind"], e["incident"]["id"], i)
                       for i in e.get("alert_ids", [e["alert"]["id"]]))
        assert got == [("opened", "INC-1", sent[0].id), ("joined", "INC-1", sent[1].id),
                       ("joined", "INC-1", sent[2].id)]
        # And an operator's action reaches the hub and the tail that follows (woken by NOTIFY)
        assert hub_cli(config, "incidents", "ack", "INC-1", "--why", "crew out").returncode == 0
        acked = tail.get(timeout=BOUND_S)
        assert (acked["kind"], acked["by"], acked["incident"]["status"]) == (
            "acknowledged", "alice", "acknowledged")
        # And a device put in maintenance is listed so, from the database
        started = hub_cli(config, "maintenance", "start", "edge-a", "--for", "1h", "--comment",
                          "pump swap")
        assert started.returncode == 0, started.stderr
        marks = cli_json("lifeline-hub", ["maintenance", "list", "--config", str(config)])
        assert [(m["device"], m["comment"]) for m in marks] == [("edge-a", "pump swap")]
        # And status names the database and measures it
        status = cli_json("lifeline-hub", ["status", "--config", str(config)])
        assert (status["store"], status["alerts"], status["active_incidents"]) == (
            postgres_url, 3, 1)
        assert status["store_bytes"] > 0
        # And a resent alert is stored once (acknowledged again)
        edge.publish(wire.alert_topic("edge-a"), wire.encode(sent[0]))
        wait_for(lambda: edge.acked.count(sent[0].id) == 2, BOUND_S, "the duplicate's ack")
        assert stored_alerts(config) == 3
    assert "hub stopped" in log.read_text()


@pytest.mark.slow
def test_postgresql_restarted_under_load_loses_nothing(tmp_path: Path, broker: Broker,
                                                       postgres: Postgres) -> None:
    config = hub_config(tmp_path, broker, postgres.url)
    log = tmp_path / "hub.log"
    total = 240
    with running("lifeline-hub", ["run", "--config", str(config)], log) as hub, \
            edge_client(broker) as edge:
        wait_subscribed(log)
        edge.listen_for_acks("edge-load")
        now = time.time()
        sent = [water("edge-load", f"zone-{n % 8}", n, now - 300 + n) for n in range(1, total + 1)]
        restarted = threading.Event()

        def restart_database() -> None:
            # When PostgreSQL goes down in the middle of the stream, and comes back
            wait_for(lambda: stored_alerts(config) >= total // 4, BOUND_S, "a quarter stored",
                     every=0.05)
            postgres.stop(mode="fast")
            time.sleep(1.5)  # the outage itself: what the hub must ride out
            postgres.start()
            restarted.set()

        restarter = threading.Thread(target=restart_database)
        restarter.start()
        for a in sent:  # Given an edge publishing steadily
            edge.publish(wire.alert_topic("edge-load"), wire.encode(a))
            time.sleep(0.01)
        restarter.join(timeout=60)
        assert restarted.is_set(), "the database was not restarted"
        # Then the hub waited for the database and resumed, in the same process
        wait_for(lambda: "is back; resuming" in log.read_text(), 60, "the hub to resume")
        assert hub.poll() is None
        text = log.read_text()
        assert "waiting for the database" in text
        # And every alert is stored exactly once and acknowledged to the edge
        wait_for(lambda: stored_alerts(config) == total, 60, f"all {total} alerts stored")
        wait_for(lambda: set(edge.acked) == {a.id for a in sent}, 60, "every alert acked")
        assert sum(i["alert_count"] for i in incidents(config)) == total


def test_the_example_postgresql_config_is_valid_and_runs(tmp_path: Path, broker: Broker,
                                                         postgres_url: str) -> None:
    example = REPO / "configs" / "hub-postgres.toml"
    # Given configs/hub-postgres.toml as shipped: valid, and naming its database
    checked = hub_cli(example, "check-config")
    assert checked.returncode == 0, checked.stderr
    assert ("ok: store postgresql://lifeline@/lifeline?host=/run/postgresql, 0 zone(s)"
            in checked.stdout)
    # When it is used with this test's broker and database in its place
    text = example.read_text()
    assert text.count("port = 1883") == 1 and text.count('client_id = "lifeline-hub"') == 1
    config = tmp_path / "hub.toml"
    config.write_text(text.replace("port = 1883", f"port = {broker.port}")
                      .replace('client_id = "lifeline-hub"', f'client_id = "hub-{uuid.uuid4().hex[:8]}"')
                      .replace("postgresql://lifeline@/lifeline?host=/run/postgresql", postgres_url))
    log = tmp_path / "hub.log"
    with running("lifeline-hub", ["run", "--config", str(config)], log), \
            edge_client(broker) as edge:
        wait_subscribed(log)
        edge.publish(wire.alert_topic("edge-a"), wire.encode(water("edge-a", "main-1", 1,
                                                                   time.time())))
        # Then the hub runs on it: the alert's incident is in the database
        [incident] = wait_for(lambda: incidents(config), BOUND_S, "the incident")
        assert (incident["zone"], incident["alert_count"]) == ("main-1", 1)
    assert f"store={postgres_url}" in log.read_text()


def test_the_board_serves_a_hub_on_postgresql_and_streams_live(
        tmp_path: Path, broker: Broker, postgres_url: str) -> None:
    import socket

    from tests.integration.test_board_http import frames
    from tests.support.board import board_rig

    with board_rig(tmp_path, broker, keepalive_s=1.0, store_url=postgres_url) as rig:
        # Given an incident the hub stored in PostgreSQL
        now = time.time()
        rig.publish(water("edge-a", "main-1", 1, now - 5))
        wait_for(lambda: rig.hub("incidents", "show", "INC-1").returncode == 0, BOUND_S,
                 "the first incident")
        # When a page follows the stream from now on (its hello received) ...
        with socket.create_connection(("127.0.0.1", rig.port), timeout=BOUND_S) as page:
            page.sendall(f"GET /events HTTP/1.1\r\nHost: 127.0.0.1:{rig.port}\r\n\r\n".encode())
            text = ""
            while "event: hello" not in text:
                text += page.recv(65536).decode()
            # ... and another incident opens meanwhile
            rig.publish(water("edge-g", "south-1", 2, now - 4))
            deadline = time.monotonic() + BOUND_S
            while '"INC-2"' not in text and time.monotonic() < deadline:
                text += page.recv(65536).decode()
        # Then the board reads it from PostgreSQL and sends the new change
        changes = [f["data"]["incident"]["id"] for f in frames(text) if f.get("event") == "change"]
        assert changes == ["INC-2"]
