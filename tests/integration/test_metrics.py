"""Prometheus metrics of ``lifeline-hub run`` and ``lifeline-edge run`` (issue 18).

Real processes on a real Mosquitto; each endpoint is scraped over HTTP (or the
textfile read) and parsed with prometheus_client's own parser; the counters must
move with the traffic the test makes.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from lifeline import wire
from lifeline.grades import Grade
from lifeline.localbroker import Broker, free_port
from tests.integration.test_end_to_end import configs
from tests.integration.test_hub import BOUND_S, edge_client, hub_config, wait_subscribed
from tests.support.board import water
from tests.support.processes import running, wait_for
from tests.support.pty import PtySensor

pytestmark = pytest.mark.integration

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(text: str) -> Samples:
    """Every sample by (name, sorted labels); prometheus_client's parser rejects bad text."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def scrape(port: int) -> Samples:
    """The endpoint's samples; empty while it is not listening yet (the process starts)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            return parse(response.read().decode())
    except urllib.error.URLError:
        return {}


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_hub_metrics_count_alerts_duplicates_invalid_and_incidents(tmp_path: Path,
                                                                   broker: Broker) -> None:
    config = hub_config(tmp_path, broker)
    port = free_port()
    textfile = tmp_path / "textfile" / "lifeline-hub.prom"
    config.write_text(config.read_text() + f'\n[metrics]\nlisten = "127.0.0.1:{port}"\n'
                      f'textfile = "{textfile}"\ninterval_s = 1\n')
    log = tmp_path / "hub.log"
    with running("lifeline-hub", ["run", "--config", str(config)], log), \
            edge_client(broker) as edge:
        wait_subscribed(log)
        # Given a running hub's metrics before any traffic
        before = wait_for(lambda: scrape(port), BOUND_S, "the hub's metrics endpoint")
        assert value(before, "lifeline_hub_alerts_stored_total") == 0
        assert value(before, "lifeline_hub_broker_connected") == 1
        # When an edge sends two alerts, one of them twice, and a message that is not JSON
        first = water("edge-a", "main-1", Grade.RED, time.time() - 5)
        edge.publish(wire.alert_topic("edge-a"), wire.encode(first))
        edge.publish(wire.alert_topic("edge-a"), wire.encode(first))
        edge.publish(wire.alert_topic("edge-b"),
                     wire.encode(water("edge-b", "dma-2", Grade.YELLOW, time.time() - 4)))
        edge.publish(wire.alert_topic("edge-c"), b"{not json")
        # Then the counters move with it
        after = wait_for(lambda: (s := scrape(port)) and value(
            s, "lifeline_hub_messages_received_total") >= 4 and value(
            s, "lifeline_hub_incidents", status="open", grade="yellow") == 1 and s,
            BOUND_S, "the counters to move")
        assert value(after, "lifeline_hub_alerts_stored_total") == 2
        assert value(after, "lifeline_hub_alerts_duplicate_total") == 1
        invalid = {k: v for k, v in after.items() if k[0] == "lifeline_hub_messages_invalid_total"}
        assert sum(invalid.values()) == 1, invalid
        assert value(after, "lifeline_hub_incidents", status="open", grade="red") == 1
        assert value(after, "lifeline_hub_incidents_latched", grade="red") == 1
        assert value(after, "lifeline_hub_batch_commit_seconds_count") >= 1
        assert value(after, "lifeline_hub_batch_commit_seconds_bucket", le="+Inf") == value(
            after, "lifeline_hub_batch_commit_seconds_count")
        assert value(after, "lifeline_hub_last_commit_timestamp_seconds") > 0
        # And the node_exporter textfile says the same, in the same format
        on_file = wait_for(lambda: textfile.exists() and (s := parse(textfile.read_text()))
                           and value(s, "lifeline_hub_alerts_stored_total") == 2 and s,
                           BOUND_S, "the textfile to be written")
        assert value(on_file, "lifeline_hub_alerts_duplicate_total") == 1


def test_edge_metrics_count_readings_bad_reads_alerts_and_delivery(tmp_path: Path,
                                                                   broker: Broker) -> None:
    rng = random.Random(2)
    port = free_port()
    with PtySensor() as sensor:
        hub, edge = configs(tmp_path, broker, sensor.path)
        edge.write_text(edge.read_text() + f'\n[metrics]\nlisten = "127.0.0.1:{port}"\n')
        with running("lifeline-hub", ["run", "--config", str(hub)], tmp_path / "hub.log"), \
                running("lifeline-edge", ["run", "--config", str(edge)], tmp_path / "edge.log"):
            before = wait_for(lambda: scrape(port), BOUND_S, "the edge's metrics endpoint")
            assert value(before, "lifeline_edge_readings_total", sensor="main-pressure") == 0
            # When readings flow, a few garbled lines among them, then the pressure drops
            sensor.stream(lambda n: b"garbage\n" if n in (10, 20, 30) else (
                f"{301.0 + rng.gauss(0, 0.8):.2f}\n".encode() if n < 150
                else f"{140.0 + rng.gauss(0, 0.8):.2f}\n".encode()), 50)
            # Then readings, bad reads, alerts and the hub's acknowledgement are counted
            after = wait_for(lambda: (s := scrape(port)) and value(
                s, "lifeline_edge_alerts_acknowledged_total") >= 1 and s, 30,
                "an alert acknowledged by the hub")
    assert value(after, "lifeline_edge_readings_total", sensor="main-pressure") >= 150
    bad = {k: v for k, v in after.items() if k[0] == "lifeline_edge_bad_reads_total"}
    assert sum(bad.values()) == 3 and all(("sensor", "main-pressure") in k[1] for k in bad)
    alerts = {k: v for k, v in after.items() if k[0] == "lifeline_edge_alerts_total"}
    assert sum(alerts.values()) >= 1
    assert value(after, "lifeline_edge_detector_seconds_total", sensor="main-pressure") > 0
    assert value(after, "lifeline_edge_broker_connected") == 1
    assert value(after, "lifeline_edge_last_delivery_timestamp_seconds") > 0
    assert value(after, "lifeline_edge_alerts_sent_total") >= 1


def test_without_metrics_prometheus_client_is_never_imported() -> None:
    # An edge or hub without [metrics] does not load prometheus_client (512 MB boards)
    probe = ("import json, sys; from edge.config import load_edge_config; "
             "from hub.config import load_hub_config; from hub.service import run; "
             "from edge import agent; print(json.dumps(sorted(sys.modules)))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=60, check=True)
    modules = json.loads(done.stdout)
    assert not [m for m in modules if m.startswith("prometheus_client")]
    assert "lifeline.metrics" not in modules


def test_example_alert_rules_name_only_metrics_we_export() -> None:
    # hardware/prometheus/lifeline.rules.yml must not rot: every lifeline_* name it uses is one
    # the hub or the edge exports (a counter's family name plus _total, as the text format has)
    import re

    repo = Path(__file__).resolve().parents[2]
    rules = (repo / "hardware" / "prometheus" / "lifeline.rules.yml").read_text()
    used = set(re.findall(r"\blifeline_[a-z_]+", rules))
    exported: set[str] = set()
    for source in ("hub/service/metrics.py", "edge/metrics.py"):
        text = (repo / source).read_text()
        for kind, name in re.findall(r'(counter|gauge)\("(lifeline_[a-z_]+)"', text):
            exported.add(name + "_total" if kind == "counter" else name)
        exported |= set(re.findall(r'family\("(lifeline_[a-z_]+)"', text))
    assert used and used <= exported, sorted(used - exported)
    for group in ("LifelineHubDown", "LifelineRoutingOutboxGrowing", "LifelineDeviceSilent"):
        assert f"alert: {group}" in rules
