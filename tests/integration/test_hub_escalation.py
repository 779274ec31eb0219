"""Issue 19 end to end: a red gas incident nobody acknowledges is escalated twice by a real
hub (a subprocess on a real Mosquitto), and a real HTTP webhook receiver and the MQTT
republish see both escalations, with its owner, who missed what and whom it goes to."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from lifeline import wire
from lifeline.grades import Grade
from lifeline.localbroker import Broker
from tests.integration.test_hub import BOUND_S, edge_client, hub_config, wait_subscribed
from tests.integration.test_hub_routing import Hook, republished, serving
from tests.support.board import gas
from tests.support.processes import running, wait_for

pytestmark = pytest.mark.integration

OWNERS = """
[[owners]]
department = "control-room"

[[owners]]
department = "gas-utility"
hazards = ["gas"]
escalation = ["district-duty", "city-command"]

[deadlines.acknowledge]
red = "2s"
"""


def test_a_red_incident_nobody_acknowledges_is_escalated_twice(tmp_path: Path,
                                                               broker: Broker) -> None:
    with serving(Hook(fail=0)) as hook, republished(broker) as changes:
        config = hub_config(tmp_path, broker)
        config.write_text(config.read_text() + OWNERS + f'\n[[routes]]\nname = "gas-desk"\n'
                          f'url = "{hook.url}"\nhazards = ["gas"]\n')
        log = tmp_path / "hub.log"
        with running("lifeline-hub", ["run", "--config", str(config)], log), \
                edge_client(broker) as edge:
            wait_subscribed(log)
            # Given a red gas incident (2 s to acknowledge) that nobody acknowledges
            opened_at = time.monotonic()
            edge.publish(wire.alert_topic("edge-gas"),
                         wire.encode(gas("edge-gas", "old-town", Grade.RED, time.time())))
            # When its deadline and the next step's pass, Then the hook gets both escalations
            wait_for(lambda: sum(r["kind"] == "escalated" for r in hook.received) >= 2,
                     BOUND_S, "two escalations at the webhook")
            took = time.monotonic() - opened_at
            kinds = [r["kind"] for r in hook.received[:3]]  # (a third, with nobody further,
            assert kinds == ["opened", "escalated", "escalated"], kinds  # follows at 6 s)
            opened, first, second = hook.received[:3]
            assert opened["incident"]["owner"] == "gas-utility"
            assert opened["incident"]["acknowledge_by"] is not None
            assert [(e["escalation"]["level"], e["escalation"]["missed_by"],
                     e["escalation"]["escalated_to"], e["escalation"]["what"])
                    for e in (first, second)] == [
                (1, "gas-utility", "district-duty", "acknowledge"),
                (2, "district-duty", "city-command", "acknowledge")]
            assert second["incident"]["escalation_level"] == 2
            assert took >= 4.0  # two steps of 2 s each, on the hub's clock
            # And the MQTT republish carried them too (valid wire.IncidentChange messages)
            wait_for(lambda: sum(c["kind"] == "escalated" for c in changes) >= 2, BOUND_S,
                     "two escalations republished")
            assert [c.get("escalation", {}).get("level") for c in changes
                    if c["kind"] == "escalated"] == [1, 2]
