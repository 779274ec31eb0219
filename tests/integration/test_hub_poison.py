"""A poison status against the real hub (issue 13, item 1): it stays up, and alarms still arrive.

A device publishing its own status with a time the hub cannot print again (year 0 after its
UTC offset) used to stop ``lifeline-hub run`` with exit 1; the message stayed unacknowledged
in the hub's persistent session, so every restart died again.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from lifeline import wire
from lifeline.grades import Grade
from lifeline.localbroker import Broker
from tests.integration.test_hub import BOUND_S, DEVICE, ZONE, alert, edge_client, hub_config, incidents
from tests.support.processes import running, wait_for

pytestmark = pytest.mark.integration


def poison_status() -> bytes:
    good = wire.Status(device=DEVICE, zone=ZONE, state="online", ts=time.time())
    return json.dumps({**good.to_dict(), "ts": "0001-01-01T00:00:00+01:00"}).encode()


def test_a_poison_status_is_refused_and_the_hub_stays_up(tmp_path: Path, broker: Broker) -> None:
    config = hub_config(tmp_path, broker)
    log = tmp_path / "hub.log"
    with edge_client(broker) as edge:
        # Given a device's retained status with a time in year 0 (the broker keeps it and
        # hands it to every new subscriber: the hub on every start)
        edge.publish(wire.status_topic(DEVICE), poison_status(), retain=True)
        for attempt in range(2):  # a first start, and a restart with the poison retained
            with running("lifeline-hub", ["run", "--config", str(config)], log) as hub:
                refusals = attempt + 1
                wait_for(lambda: log.read_text().count("reason=bad_timestamp") >= refusals,  # noqa: B023
                         BOUND_S, "the hub to refuse the poison status")
                # When a real red alert follows
                red = alert(1, Grade.RED, time.time())
                edge.publish(wire.alert_topic(DEVICE), wire.encode(red))
                # Then it becomes an incident, and the hub is still running
                wait_for(lambda: [i for i in incidents(config)
                                  if i["alert_count"] == refusals], BOUND_S,  # noqa: B023
                         "the red alert to become an incident")
                assert hub.poll() is None, log.read_text()
        text = log.read_text()
        assert "Traceback" not in text and "out of range" not in text
        assert text.count("invalid message topic=lifeline/v1/edge-test-1/status "
                          "reason=bad_timestamp") == 2
