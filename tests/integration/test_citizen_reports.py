"""Issue 19: a resident's report through the board's authenticated endpoint opens a blue
incident that a sensor alert then joins and confirms, on a real hub, board and Mosquitto;
the reporter's contact is shown to the operator's desk and never routed."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from lifeline.grades import Grade
from lifeline.localbroker import Broker
from tests.integration.test_hub import BOUND_S
from tests.integration.test_hub_routing import republished
from tests.support.board import board_rig, gas
from tests.support.processes import wait_for

pytestmark = pytest.mark.integration

CONTACT = "+41 79 555 01 23 (Ms Example)"


def test_a_citizen_report_opens_an_incident_that_sensors_confirm(tmp_path: Path,
                                                                  broker: Broker) -> None:
    with republished(broker) as routed, board_rig(tmp_path, broker) as rig:
        report = {"zone": "main-1", "hazard": "gas", "text": "smell of gas at the school",
                  "contact": CONTACT}
        # Given a hotline system that is not logged in, Then it is refused
        status, _, _ = rig.request("POST", "/api/citizen-reports", report)
        assert status == 403
        # When it logs in and reports a smell of gas in main-1 (no sensor has seen it)
        cookie, csrf = rig.login()
        status, _, body = rig.request("POST", "/api/citizen-reports", report,
                                      {"Cookie": cookie, "X-CSRF-Token": csrf})
        assert status == 200, body
        answer = json.loads(body)
        assert answer["incident"] == "INC-1" and CONTACT not in body.decode()
        # Then a blue, unconfirmed incident is open, owned (the default owner)
        opened = json.loads(rig.hub("incidents", "show", "INC-1", "--json").stdout)
        assert (opened["incident"]["grade"], opened["incident"]["confirmed"],
                opened["incident"]["owner"], opened["incident"]["citizen_reports"]) == (
            "blue", False, "control-room", 1)
        assert [e["kind"] for e in opened["timeline"]] == ["opened", "citizen_report"]
        assert opened["citizen_contacts"][0]["contact"] == CONTACT  # the desk shows it
        # When a gas sensor in that zone alerts
        rig.publish(gas("edge-school", "main-1", Grade.ORANGE, time.time()))
        # Then the alert joins the citizen's incident and confirms it
        joined = wait_for(lambda: (got := json.loads(rig.hub(
            "incidents", "show", "INC-1", "--json").stdout))["incident"]["alert_count"] and got,
            BOUND_S, "the sensor alert to join INC-1")
        assert joined["incident"]["grade"] == "orange" and joined["incident"]["confirmed"]
        assert any("citizen" in r for r in joined["incident"]["reasons"])
        assert json.loads(rig.hub("incidents", "--json").stdout)[0]["id"] == "INC-1"
        wait_for(lambda: any(c["kind"] == "grade_changed" for c in routed), BOUND_S,
                 "the grade change republished")
    # And the contact was never routed (MQTT republish), nor is it in the events feed
    assert routed and all(CONTACT not in json.dumps(c) for c in routed)
    import sqlite3

    with sqlite3.connect(tmp_path / "hub.db") as db:
        feed = " ".join(r[0] for r in db.execute("SELECT payload FROM events"))
        outbox = " ".join(r[0] for r in db.execute("SELECT body FROM outbox"))
    assert CONTACT not in feed and CONTACT not in outbox
