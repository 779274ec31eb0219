"""The operator's desk against a running hub: lifecycle actions, silences, tail filters, status.

The hub runs as a subprocess on a real Mosquitto; a paho client plays the edge
devices; every operator command is our console script as a subprocess.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from lifeline import wire
from lifeline.grades import Grade
from lifeline.localbroker import Broker
from tests.integration.test_hub import BOUND_S, edge_client, hub_config, incidents, wait_subscribed
from tests.support.processes import cli_json, running, script, wait_for

pytestmark = pytest.mark.integration

TOPOLOGY = """
[rules.water]
reach = "neighbours"

[zones.main-1]
parent = "north"
neighbours = ["main-2"]

[zones.main-2]
parent = "north"
"""


def water(device: str, zone: str, grade: Grade, ts: float) -> wire.Alert:
    return wire.Alert(id=uuid.uuid4().hex, device=device, zone=zone, sensor="main-pressure",
                      channel="pressure_kpa", kind="water.pressure", ts=ts, value=150.0,
                      score=1.0, grade=grade, reason=wire.Reason.LIMIT, seq=1, unit="kPa",
                      context=(300.0, 280.0, 200.0, 150.0))


def hub_cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([script("lifeline-hub"), *args, "--config", str(config)],
                          capture_output=True, text=True, timeout=30,
                          env={**os.environ, "NO_COLOR": "1", "LIFELINE_OPERATOR": "alice"})


def test_operator_actions_are_recorded_and_survive_the_running_hub(tmp_path: Path,
                                                                  broker: Broker) -> None:
    config = hub_config(tmp_path, broker)
    config.write_text(config.read_text() + TOPOLOGY)
    log = tmp_path / "hub.log"
    with running("lifeline-hub", ["run", "--config", str(config)], log), \
            edge_client(broker) as edge:
        wait_subscribed(log)
        now = time.time()
        # Given alerts on two neighbouring segments: one incident, corroborated
        edge.publish(wire.alert_topic("edge-a"), wire.encode(water("edge-a", "main-1",
                                                                   Grade.YELLOW, now - 5)))
        edge.publish(wire.alert_topic("edge-b"), wire.encode(water("edge-b", "main-2",
                                                                   Grade.YELLOW, now - 4)))
        [incident] = wait_for(lambda: [i for i in incidents(config) if i["alert_count"] == 2],
                              BOUND_S, "one incident of two alerts")
        assert incident["zones"] == ["main-1", "main-2"] and incident["grade"] == "orange"
        # When an operator acknowledges, assigns and comments while the hub runs
        assert hub_cli(config, "incidents", "ack", "INC-1", "--why", "crew on the way"
                       ).returncode == 0
        assert hub_cli(config, "incidents", "assign", "1", "water-crew-3").returncode == 0
        assert hub_cli(config, "incidents", "comment", "INC-1", "valve 12 closed"
                       ).returncode == 0
        # And another alert joins
        edge.publish(wire.alert_topic("edge-a"), wire.encode(water("edge-a", "main-1",
                                                                   Grade.ORANGE, now - 1)))
        wait_for(lambda: incidents(config)[0]["alert_count"] == 3, BOUND_S, "the third alert")
        # Then the hub kept what the operator did
        [incident] = incidents(config)
        assert (incident["status"], incident["assignee"]) == ("acknowledged", "water-crew-3")
        # And show prints the timeline with who did what
        shown = hub_cli(config, "incidents", "show", "INC-1").stdout
        assert "acked    by alice: crew on the way" in shown
        assert "assigned by alice: to water-crew-3" in shown
        assert "noted    by alice: valve 12 closed" in shown
        assert "corroborated by 2 independent devices" in shown
        # And resolving needs a reason; with one it resolves
        assert hub_cli(config, "incidents", "resolve", "INC-1").returncode == 2
        done = hub_cli(config, "incidents", "resolve", "INC-1", "--why", "main repaired")
        assert done.returncode == 0, done.stderr
        again = hub_cli(config, "incidents", "resolve", "INC-1", "--why", "twice")
        assert (again.returncode, again.stderr.strip()) == (
            1, "lifeline-hub incidents: INC-1 is already resolved.")
        assert hub_cli(config, "incidents", "ack", "INC-9").returncode == 1
        # And a silence is added, listed and expired
        added = hub_cli(config, "silence", "add", "--zone", "north", "--for", "2h",
                        "--comment", "valve works")
        assert added.returncode == 0 and added.stdout.startswith("silence 1 added")
        listed = cli_json("lifeline-hub", ["silence", "list", "--config", str(config)])
        assert [(s["id"], s["zone"], s["created_by"]) for s in listed] == [(1, "north", "alice")]
        assert hub_cli(config, "silence", "add", "--zone", "x", "--for", "1h").returncode == 2
        assert hub_cli(config, "silence", "expire", "1").returncode == 0
        assert cli_json("lifeline-hub", ["silence", "list", "--config", str(config)]) == []
        # And tail --since replays with filters
        tail = hub_cli_tail(config, "--since", "10m", "--zone", "north",
                            "--min-grade", "orange")
        assert "INC-1 regraded grade yellow -> orange" in tail
        assert "INC-1 resolved by alice: main repaired" in tail
        assert " YELLOW " not in tail
        # (a device the hub has not heard of is refused unless forced: issue 14 item 3)
        assert hub_cli_tail(config, "--since", "10m", "--device", "nobody",
                            "--force") == ""
        # And status lists the devices with their alert rates, and, though they never sent
        # a status, their zones (from their alerts) and what the hub knows of their state
        status = cli_json("lifeline-hub", ["status", "--config", str(config)])
        assert {d["device"]: (d["alerts_last_hour"], d["zone"], d["zone_source"], d["state"])
                for d in status["devices"]} == {
            "edge-a": (2, "main-1", "alert", "alerting (no status yet)"),
            "edge-b": (1, "main-2", "alert", "alerting (no status yet)")}
        table = hub_cli(config, "status").stdout
        assert "edge-a  main-1  alerting (no status yet)" in table
    # And the timeline is in the store for good
    assert [i["status"] for i in incidents(config)] == ["resolved"]


def test_status_takes_zones_from_the_registry_and_says_what_it_knows(tmp_path: Path,
                                                                      broker: Broker) -> None:
    config = hub_config(tmp_path, broker)
    (tmp_path / "devices.toml").write_text(
        '[devices.edge-a]\nzone = "main-1"\n[devices.edge-b]\nzone = "main-2"\n'
        '[devices.edge-c]\nzone = "main-2"\n')
    config.write_text(config.read_text() + '\n[security]\nregistry = "devices.toml"\n')
    log = tmp_path / "hub.log"
    with running("lifeline-hub", ["run", "--config", str(config)], log), \
            edge_client(broker) as edge:
        wait_subscribed(log)
        # Given edge-a that alerts but never sent a status, edge-b that came online,
        # and edge-c that is registered but silent
        edge.publish(wire.alert_topic("edge-a"), wire.encode(water("edge-a", "main-1",
                                                                   Grade.YELLOW, time.time())))
        edge.publish(wire.status_topic("edge-b"), wire.encode(
            wire.Status(device="edge-b", zone="main-2", state="online", ts=time.time())))
        wait_for(lambda: len(incidents(config)) == 1, BOUND_S, "edge-a's incident")

        def edge_b_online() -> dict[str, Any] | None:
            found: dict[str, Any] = cli_json("lifeline-hub", ["status", "--config", str(config)])
            online = any(d["device"] == "edge-b" and d["state"] == "online"
                         for d in found["devices"])
            return found if online else None

        # When an operator asks for the status (once the hub has stored edge-b's)
        status = wait_for(edge_b_online, BOUND_S, "edge-b's status")
    # Then each device has its zone and an honest state
    assert [(d["device"], d["zone"], d["zone_source"], d["state"], d["alerts_last_hour"])
            for d in status["devices"]] == [
        ("edge-a", "main-1", "registry", "alerting (no status yet)", 1),
        ("edge-b", "main-2", "status", "online", 0),
        ("edge-c", "main-2", "registry", "never seen", 0)]
    assert status["devices"][2]["last_seen"] is None


def test_tail_marks_the_changes_a_silence_covers(tmp_path: Path, broker: Broker) -> None:
    config = hub_config(tmp_path, broker)
    config.write_text(config.read_text() + TOPOLOGY)
    log = tmp_path / "hub.log"
    with running("lifeline-hub", ["run", "--config", str(config)], log), \
            edge_client(broker) as edge:
        wait_subscribed(log)
        # Given a silence on the north zone (main-1 is under it) while works go on
        added = hub_cli(config, "silence", "add", "--zone", "north", "--for", "1h",
                        "--comment", "valve works")
        assert added.returncode == 0, added.stderr
        # When alerts come from main-1 and from a zone the silence does not cover
        now = time.time()
        edge.publish(wire.alert_topic("edge-a"), wire.encode(water("edge-a", "main-1",
                                                                   Grade.YELLOW, now)))
        edge.publish(wire.alert_topic("edge-s"), wire.encode(water("edge-s", "south-1",
                                                                   Grade.ORANGE, now)))
        wait_for(lambda: len(incidents(config)) == 2, BOUND_S, "two incidents")
        # Then tail marks the silenced changes, in --json and in text, and only those
        lines = [json.loads(line) for line in hub_cli_tail(
            config, "--since", "10m", "--json").splitlines()]
        assert sorted((e["incident"]["zone"], e["kind"], e["silenced"], e["silences"])
                      for e in lines) == [
            ("main-1", "opened", True, [1]), ("south-1", "opened", False, [])]
        text = hub_cli_tail(config, "--since", "10m")
        [north] = [line for line in text.splitlines() if "main-1" in line]
        [south] = [line for line in text.splitlines() if "south-1" in line]
        assert north.endswith("[silenced #1]") and "silenced" not in south
        # And once the silence is expired, new changes are no longer marked
        assert hub_cli(config, "silence", "expire", "1").returncode == 0
        edge.publish(wire.alert_topic("edge-a"), wire.encode(water("edge-a", "main-1",
                                                                   Grade.ORANGE, now + 1)))
        wait_for(lambda: any(i["alert_count"] == 2 for i in incidents(config)), BOUND_S,
                 "the second alert")
        lines = [json.loads(line) for line in hub_cli_tail(
            config, "--since", "10m", "--json").splitlines()]
        north_events = [(e["kind"], e["silenced"]) for e in lines
                        if e["incident"]["zone"] == "main-1"]
        assert north_events[0] == ("opened", True) and ("joined", False) in north_events
        assert not any(silenced for _, silenced in north_events[1:])


def hub_cli_tail(config: Path, *args: str) -> str:
    """What ``tail ARGS --no-follow`` prints: the stored events it is asked for, then it exits."""
    done = subprocess.run([script("lifeline-hub"), "tail", "--no-follow", "--config", str(config),
                           *args], capture_output=True, text=True, timeout=BOUND_S,
                          env={**os.environ, "NO_COLOR": "1"})
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_hub_tells_systemd_ready_and_alive_and_reloads_on_sighup(tmp_path: Path,
                                                                broker: Broker) -> None:
    config = hub_config(tmp_path, broker)
    log = tmp_path / "hub.log"
    address = str(tmp_path / "notify.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as notify, open(log, "wb") as sink:
        notify.bind(address)
        notify.settimeout(BOUND_S)
        # Given a hub started the way systemd starts a Type=notify service
        hub = subprocess.Popen([script("lifeline-hub"), "run", "--config", str(config)],
                               stderr=sink, start_new_session=True,
                               env={**os.environ, "NOTIFY_SOCKET": address,
                                    "WATCHDOG_USEC": "30000000"})
        try:
            # Then READY=1 comes only once it has subscribed, then watchdog pings
            first = notify.recv(4096).decode()
            assert first.startswith("READY=1")
            assert "subscribed to" in log.read_text()
            assert notify.recv(4096).decode() == "WATCHDOG=1"
            # When hub.toml gains a rule and a route and SIGHUP arrives
            config.write_text(config.read_text() + TOPOLOGY + '\n[[routes]]\nname = "w"\n'
                              'url = "http://127.0.0.1:9/hook"\n')
            hub.send_signal(signal.SIGHUP)
            # Then it reloads them without restarting
            wait_for(lambda: "1 rules, 2 zones, 1 routes" in log.read_text(), BOUND_S,
                     "the reload line")
            # And a broken file is refused, the hub keeps going
            config.write_text(config.read_text() + "\n[rules.watr]\n")
            hub.send_signal(signal.SIGHUP)
            wait_for(lambda: "reload refused" in log.read_text(), BOUND_S, "the refusal")
            assert hub.poll() is None
            hub.send_signal(signal.SIGTERM)
            assert hub.wait(timeout=BOUND_S) == 0
            seen = []
            notify.settimeout(1)
            while True:
                try:
                    seen.append(notify.recv(4096).decode())
                except TimeoutError:
                    break
            assert "STOPPING=1" in seen
        finally:
            if hub.poll() is None:
                os.killpg(hub.pid, signal.SIGKILL)
                hub.wait()
