"""Escalation by rate of change through the real hub: hub.toml rule, broker, store, desk CLI."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

from lifeline import wire
from lifeline.grades import Grade
from lifeline.localbroker import Broker
from tests.integration.test_hub import BOUND_S, edge_client, hub_config, incidents, wait_subscribed
from tests.integration.test_operator_desk import hub_cli
from tests.support.processes import running, wait_for

pytestmark = pytest.mark.integration


def methane(ts: float, value: float) -> wire.Alert:
    return wire.Alert(id=uuid.uuid4().hex, device="gas-a", zone="mh-1", sensor="manhole",
                      channel="methane_lel", kind="gas.methane", ts=ts, value=value, score=1.0,
                      grade=Grade.YELLOW, reason=wire.Reason.LIMIT, seq=1, unit="%LEL")


def test_a_fast_rise_regrades_the_incident_with_its_reason(tmp_path: Path,
                                                            broker: Broker) -> None:
    config = hub_config(tmp_path, broker)
    config.write_text(config.read_text() + '\n[rules.gas]\nlatch_red = false\n'
                      'escalate_rate = { "gas.methane" = 5 }\n')
    log = tmp_path / "hub.log"
    with running("lifeline-hub", ["run", "--config", str(config)], log), \
            edge_client(broker) as edge:
        wait_subscribed(log)
        # Given methane at 22 %LEL, and 34 %LEL two minutes later by its reading time
        now = time.time()
        edge.publish(wire.alert_topic("gas-a"), wire.encode(methane(now - 120, 22.0)))
        wait_for(lambda: incidents(config), BOUND_S, "the incident")
        edge.publish(wire.alert_topic("gas-a"), wire.encode(methane(now, 34.0)))
        # Then the incident is one grade above its readings
        [incident] = wait_for(lambda: [i for i in incidents(config) if i["alert_count"] == 2],
                              BOUND_S, "the second alert")
        assert incident["grade"] == "orange"
        assert "gas.methane rising 6/min at gas-a (escalate_rate 5/min)" in incident["reasons"]
        # And the timeline says why the grade changed
        shown = hub_cli(config, "incidents", "show", "INC-1").stdout
        assert ("regraded grade yellow -> orange (highest alarming reading yellow; "
                "gas.methane rising 6/min at gas-a (escalate_rate 5/min))") in shown
