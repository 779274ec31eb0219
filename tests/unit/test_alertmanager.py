"""Issue 14: a route may post Alertmanager's webhook body. The pure formatter, checked against
Alertmanager's webhook payload (version 4: prometheus.io/docs/alerting/latest/configuration/
#webhook_config), field by field, for every routed change kind."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from hub.config import RouteConfig, RoutingConfig, load_hub_config
from hub.core.alertmanager import ZERO_TIME, webhook_body
from hub.core.routes import ROUTED_KINDS, route_body
from lifeline import wire
from lifeline.tomlconfig import ConfigError

# Alertmanager's webhook payload, version 4: every key, and the type of its value
PAYLOAD = {"version": str, "groupKey": str, "truncatedAlerts": int, "status": str,
           "receiver": str, "groupLabels": dict, "commonLabels": dict,
           "commonAnnotations": dict, "externalURL": str, "alerts": list}
ALERT = {"status": str, "labels": dict, "annotations": dict, "startsAt": str, "endsAt": str,
         "generatorURL": str, "fingerprint": str}
LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")  # Prometheus label names


def incident(status: str = "open", grade: str = "orange") -> dict[str, Any]:
    return {"id": "INC-12", "zone": "north", "hazard": "water", "grade": grade, "status": status,
            "opened_at": "2026-12-03T10:00:00.000Z", "updated_at": "2026-12-03T10:05:00.000Z",
            "resolved_at": "2026-12-03T10:05:00.000Z" if status == "resolved" else None,
            "devices": ["edge-a", "edge-b"], "reasons": ["orange limit alert", "2 devices"],
            "dedup_key": "lifeline/water/INC-12"}


def change(kind: str, status: str = "open", **extra: Any) -> wire.IncidentChange:
    return wire.IncidentChange(event=41, kind=kind, at="2026-12-03T10:05:00.000Z",
                               incident=incident(status), **extra)


def rfc3339(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def check_schema(body: dict[str, Any]) -> None:
    """``body`` is an Alertmanager version 4 webhook payload."""
    assert set(body) == set(PAYLOAD)
    for key, kind in PAYLOAD.items():
        assert isinstance(body[key], kind), key
    assert body["version"] == "4" and body["status"] in ("firing", "resolved")
    assert body["truncatedAlerts"] >= 0 and body["alerts"]
    for table in ("groupLabels", "commonLabels", "commonAnnotations"):
        assert all(isinstance(k, str) and isinstance(v, str)
                   for k, v in body[table].items()), table
    for alert in body["alerts"]:
        assert set(alert) == set(ALERT)
        for key, kind in ALERT.items():
            assert isinstance(alert[key], kind), key
        assert alert["status"] in ("firing", "resolved")
        assert all(LABEL_NAME.match(k) and isinstance(v, str) for k, v in alert["labels"].items())
        assert all(isinstance(v, str) for v in alert["annotations"].values())
        assert "alertname" in alert["labels"]
        rfc3339(alert["startsAt"])
        rfc3339(alert["endsAt"])
        assert re.fullmatch(r"[0-9a-f]{16}", alert["fingerprint"])
        assert set(body["commonLabels"].items()) <= set(alert["labels"].items())
    # it survives JSON as it is (what the route posts)
    assert json.loads(json.dumps(body)) == body


@pytest.mark.parametrize("kind", ROUTED_KINDS)
def test_every_routed_change_is_a_valid_alertmanager_payload(kind: str) -> None:
    status = "resolved" if kind == "resolved" else "acknowledged" if kind == "acknowledged" \
        else "open"
    body = webhook_body(change(kind, status, why="fixed" if kind == "resolved" else None),
                        "pager")
    check_schema(body)
    [alert] = body["alerts"]
    assert body["receiver"] == "pager" and alert["annotations"]["change"] == kind
    assert alert["labels"] == {"alertname": "LifelineIncident", "incident": "INC-12",
                               "hazard": "water", "zone": "north", "severity": "major",
                               "grade": "orange"}
    if kind == "resolved":
        assert (body["status"], alert["status"]) == ("resolved", "resolved")
        assert alert["endsAt"] == "2026-12-03T10:05:00.000Z"
        assert alert["annotations"]["description"].startswith("fixed; ")
    else:
        assert (body["status"], alert["endsAt"]) == ("firing", ZERO_TIME)
    assert alert["startsAt"] == "2026-12-03T10:00:00.000Z"


def test_one_incident_is_one_alert_through_its_changes() -> None:
    opened = webhook_body(change("opened"), "pager")
    resolved = webhook_body(change("resolved", "resolved"), "pager")
    # same group and fingerprint: a receiver sees one alert fire, then resolve
    assert opened["groupKey"] == resolved["groupKey"] == '{}:{incident="INC-12"}'
    assert opened["alerts"][0]["fingerprint"] == resolved["alerts"][0]["fingerprint"]
    other = webhook_body(wire.IncidentChange(event=1, kind="opened", at="2026-12-03T10:00:00Z",
                                             incident={**incident(), "id": "INC-13"}), "pager")
    assert other["alerts"][0]["fingerprint"] != opened["alerts"][0]["fingerprint"]


@pytest.mark.parametrize(("grade", "severity"), [
    ("red", "critical"), ("orange", "major"), ("yellow", "warning"), ("blue", "info")])
def test_severity_follows_the_grade(grade: str, severity: str) -> None:
    body = webhook_body(wire.IncidentChange(event=1, kind="grade_changed", at=incident()["opened_at"],
                                            incident=incident(grade=grade), previous_grade="blue"),
                        "pager")
    assert body["alerts"][0]["labels"]["severity"] == severity
    assert body["alerts"][0]["annotations"]["previous_grade"] == "blue"


def test_an_incident_merged_into_another_is_resolved_for_alertmanager() -> None:
    body = webhook_body(change("resolved", "merged"), "pager")
    assert body["status"] == "resolved" and body["alerts"][0]["endsAt"] != ZERO_TIME


def test_the_generic_body_stays_the_default() -> None:
    the_change = change("opened")
    generic = wire.encode(the_change).decode()
    routing = RoutingConfig(routes=(RouteConfig(name="a", url="http://x/"),
                                    RouteConfig(name="b", url="http://y/", format="alertmanager")))
    assert route_body(routing, "a", the_change, generic) is generic
    assert route_body(routing, "mqtt", the_change, generic) is generic  # the republish
    check_schema(json.loads(route_body(routing, "b", the_change, generic)))


def test_a_route_chooses_its_format_in_hub_toml(tmp_path: Path) -> None:
    path = tmp_path / "hub.toml"
    routes = ('[[routes]]\nname = "pager"\nurl = "http://127.0.0.1:9/am"\nformat = "alertmanager"'
              '\n\n[[routes]]\nname = "plain"\nurl = "http://127.0.0.1:9/x"\n')
    path.write_text(routes)
    config = load_hub_config(path)
    assert [(r.name, r.format) for r in config.routing.routes] == [
        ("pager", "alertmanager"), ("plain", "generic")]
    path.write_text(routes.replace('"alertmanager"', '"alertmanger"'))
    with pytest.raises(ConfigError, match=r"hub.toml: routes\[0\]\.format: 'alertmanger' is not "
                                          r"one of generic, alertmanager; did you mean "
                                          r"'alertmanager'\?"):
        load_hub_config(path)


def test_the_owner_and_an_escalation_are_annotations() -> None:
    escalated = wire.IncidentChange(
        event=42, kind="escalated", at="2026-12-03T10:06:00.000Z",
        incident={**incident(), "owner": "water-utility"},
        escalation={"what": "acknowledge", "level": 1, "missed_by": "water-utility",
                    "escalated_to": "city-command", "due_at": "2026-12-03T10:05:00.000Z"})
    body = webhook_body(escalated, "pager")
    check_schema(body)
    annotations = body["alerts"][0]["annotations"]
    assert (annotations["owner"], annotations["escalated_to"], annotations["change"]) == (
        "water-utility", "city-command", "escalated")
    assert "owner" not in body["alerts"][0]["labels"]  # the alert's identity stays the same
    assert "escalated" in ROUTED_KINDS
