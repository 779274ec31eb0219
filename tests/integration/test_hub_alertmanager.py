"""A route with `format = "alertmanager"` against a real HTTP receiver: `lifeline-hub run` over a
real Mosquitto posts Alertmanager webhook bodies (issue 14), while a generic route beside it
still gets today's body."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from lifeline import wire
from lifeline.grades import Grade
from lifeline.localbroker import Broker
from tests.integration.test_hub import BOUND_S, edge_client, hub_config, wait_subscribed
from tests.integration.test_hub_routing import Hook, serving
from tests.integration.test_operator_desk import hub_cli, water
from tests.support.processes import running, wait_for
from tests.unit.test_alertmanager import check_schema

pytestmark = pytest.mark.integration


def test_an_alertmanager_route_posts_firing_then_resolved(tmp_path: Path, broker: Broker) -> None:
    with serving(Hook(fail=0)) as manager, serving(Hook(fail=0)) as plain:
        config = hub_config(tmp_path, broker)
        config.write_text(config.read_text() + f'\n[[routes]]\nname = "alertmanager"\n'
                          f'url = "{manager.url}"\nformat = "alertmanager"\n\n'
                          f'[[routes]]\nname = "plain"\nurl = "{plain.url}"\n')
        log = tmp_path / "hub.log"
        with running("lifeline-hub", ["run", "--config", str(config)], log), \
                edge_client(broker) as edge:
            wait_subscribed(log)
            # Given a water incident opened by an alert
            edge.publish(wire.alert_topic("edge-a"),
                         wire.encode(water("edge-a", "zone-1", Grade.ORANGE, time.time() - 5)))
            wait_for(lambda: manager.received and plain.received, BOUND_S, "both routes")
            # When the operator resolves it
            assert hub_cli(config, "incidents", "resolve", "INC-1", "--why", "valve shut"
                           ).returncode == 0
            wait_for(lambda: len(manager.received) >= 2, BOUND_S, "the resolve, Alertmanager's")
    # Then the Alertmanager route got Alertmanager's payloads: firing, then resolved
    for body in manager.received:
        check_schema(body)
    assert [(b["status"], b["alerts"][0]["annotations"]["change"]) for b in manager.received] == [
        ("firing", "opened"), ("resolved", "resolved")]
    firing, resolved = manager.received
    assert firing["receiver"] == "alertmanager"
    assert firing["alerts"][0]["labels"]["incident"] == "INC-1"
    assert firing["alerts"][0]["labels"]["severity"] == "major"
    assert firing["alerts"][0]["endsAt"] == "0001-01-01T00:00:00Z"
    assert resolved["alerts"][0]["endsAt"] != "0001-01-01T00:00:00Z"
    assert "valve shut" in resolved["alerts"][0]["annotations"]["description"]
    # And the generic route beside it still got today's body
    assert plain.received[0]["kind"] == "opened" and plain.received[0]["incident"]["id"] == "INC-1"
    assert wire.decode_incident_change(json.dumps(plain.received[0]).encode()).kind == "opened"
