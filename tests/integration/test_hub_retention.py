"""Retention through the real ``lifeline-hub run`` (``[store] retain_days``), with a real Mosquitto.

The store is filled ten days in the past the way the hub fills it (``Ingest``), then the
real hub runs on it with a 7-day retention while a paho client plays an edge device.
"""

from __future__ import annotations

import dataclasses
import signal
import time
import uuid
from pathlib import Path

import pytest

from hub.config import load_hub_config
from hub.service.ingest import Ingest
from hub.store import Store
from lifeline import wire
from lifeline.grades import Grade
from lifeline.localbroker import Broker
from tests.integration.test_hub import BOUND_S, alert, edge_client, incidents, wait_subscribed
from tests.support.processes import running, wait_for

pytestmark = pytest.mark.integration


def test_the_hub_prunes_what_is_over_and_keeps_what_is_open(tmp_path: Path,
                                                            broker: Broker) -> None:
    # Given a store where, ten days ago, one incident resolved by itself (south-dma-7) and a
    # red one latched (south), and a hub.toml keeping 7 days
    config = tmp_path / "hub.toml"
    config.write_text(f'[mqtt]\nhost = "127.0.0.1"\nport = {broker.port}\n'
                      f'client_id = "hub-{uuid.uuid4().hex[:8]}"\n\n'
                      '[store]\npath = "hub.db"\nretain_days = 7\n')
    then = time.time() - 10 * 86400
    store = Store.open_writer(tmp_path / "hub.db")
    ingest = Ingest(store, load_hub_config(config), then)
    old = [alert(1, Grade.ORANGE, then), alert(2, Grade.ORANGE, then + 5)]
    red = dataclasses.replace(alert(3, Grade.RED, then), zone="south", device="edge-test-2")
    ingest.batch([(wire.alert_topic(a.device), wire.encode(a)) for a in [*old, red]], then + 5)
    ingest.tick(then + 300)
    assert {i.zone: i.status.value for i in store.incidents()} == {
        "south-dma-7": "resolved", "south": "open"}
    store.close()
    log = tmp_path / "hub.log"
    with running("lifeline-hub", ["run", "--config", str(config)], log) as hub, \
            edge_client(broker) as edge:
        # When the hub runs
        wait_subscribed(log)
        # Then the resolved incident is pruned and the latched one stays
        found = wait_for(lambda: (lambda now: now if len(now) == 1 else None)(incidents(config)),
                         BOUND_S, "the resolved incident pruned")
        assert (found[0]["zone"], found[0]["status"], found[0]["latched"]) == (
            "south", "open", True)
        # When an edge that never got its ack resends a pruned alert
        edge.listen_for_acks(old[0].device)
        edge.publish(wire.alert_topic(old[0].device), wire.encode(old[0]))
        # Then it is acknowledged as a duplicate, not stored again nor fused into an incident
        wait_for(lambda: old[0].id in edge.acked, BOUND_S, "the resent alert acked")
        hub.send_signal(signal.SIGTERM)
        assert hub.wait(timeout=BOUND_S) == 0
    text = log.read_text()
    assert "retention: alerts, resolved incidents and their events are deleted 7 days" in text
    stopped = [line for line in text.splitlines() if "hub stopped; stats" in line]
    assert len(stopped) == 1 and "duplicates=1" in stopped[0]
    assert "pruned: alerts=2 incidents=1" in stopped[0]
    assert [i["zone"] for i in incidents(config)] == ["south"]
