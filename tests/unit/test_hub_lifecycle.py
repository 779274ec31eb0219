"""Operator actions on incidents (pure) and silences' matching."""

from __future__ import annotations

import dataclasses

import pytest

from hub.core.incident import Acknowledged, Assigned, Commented, Incident, IncidentStatus, Resolved
from hub.core.lifecycle import LifecycleError, acknowledge, assign, comment, resolve
from hub.core.silences import Silence
from lifeline.grades import Grade

T0 = 1_800_000_000.0
OPEN = Incident(id=7, zone="north", hazard="water", grade=Grade.RED, status=IncidentStatus.OPEN,
                opened_at=T0, updated_at=T0, first_ts=T0, last_ts=T0, last_arrival=T0,
                devices=("d1",), latched=True, evidence={"d1/s1/c@north": ((T0, 4, False),)})


def test_ack_assign_comment_resolve_record_who_and_why() -> None:
    acked = acknowledge(OPEN, "alice", "on it", T0 + 1)
    assert isinstance(acked, Acknowledged) and acked.incident.status is IncidentStatus.ACKNOWLEDGED
    assigned = assign(acked.incident, "alice", "crew-3", "", T0 + 2)
    assert isinstance(assigned, Assigned) and assigned.incident.assignee == "crew-3"
    noted = comment(assigned.incident, "bob", " valve closed ", T0 + 3)
    assert isinstance(noted, Commented) and noted.text == "valve closed"
    done = resolve(noted.incident, "bob", "repaired", T0 + 4)
    assert isinstance(done, Resolved) and (done.by, done.why) == ("bob", "repaired")
    # a latched red incident only resolves by a person, and then it is no longer latched
    assert done.incident.status is IncidentStatus.RESOLVED and not done.incident.latched


@pytest.mark.parametrize(("action", "message"), [
    (lambda i: acknowledge(dataclasses.replace(i, status=IncidentStatus.RESOLVED), "a", "", T0),
     "only an open incident can be acknowledged"),
    (lambda i: acknowledge(dataclasses.replace(i, status=IncidentStatus.ACKNOWLEDGED), "a", "",
                           T0), "already acknowledged"),
    (lambda i: resolve(i, "a", " ", T0), "Say why"),
    (lambda i: resolve(dataclasses.replace(i, status=IncidentStatus.MERGED, merged_into=3), "a",
                       "x", T0), "merged into INC-3"),
    (lambda i: comment(i, "a", "", T0), "needs some text"),
    (lambda i: assign(i, "a", " ", "", T0), "Name someone"),
])
def test_actions_that_do_not_apply_say_why(action: object, message: str) -> None:
    with pytest.raises(LifecycleError, match=message):
        action(OPEN)  # type: ignore[operator]


@pytest.mark.parametrize(("fields", "expected"), [
    ({"zone": "north"}, True), ({"zone": "south"}, False),
    ({"hazard": "water"}, True), ({"hazard": "gas"}, False),
    ({"device": "d1"}, True), ({"device": "d2"}, False),
    ({"sensor": "s1"}, True), ({"sensor": "s9"}, False),
    ({"zone": "north", "hazard": "gas"}, False),
    ({"incident_id": 7}, True), ({"incident_id": 8}, False),
])
def test_silence_matches_every_field_given(fields: dict[str, object], expected: bool) -> None:
    silence = Silence(id=1, created_at=T0, created_by="ops", comment="works",
                      expires_at=T0 + 60, **fields)  # type: ignore[arg-type]
    assert silence.matches(OPEN) is expected
    assert silence.active(T0 + 59) and not silence.active(T0 + 60)
