"""`tail` marks the incident changes a silence covers: which silences, when, and how it reads."""

from __future__ import annotations

from typing import Any

import pytest

from hub.core.silences import Silence, covering_change
from hub.core.topology import Topology, Zone
from hub.desk.render import Folder, event_line

T0 = 1_800_000_000.0
TOPOLOGY = Topology.build([Zone("east-mh-2", parent="east"), Zone("north-main-1",
                                                                  parent="north")], {})


def silence(n: int = 1, *, created: float = T0, until: float = T0 + 3600,
            ended: float | None = None, **fields: Any) -> Silence:
    return Silence(id=n, created_at=created, created_by="alice", comment="works",
                   expires_at=until, ended_at=ended, **fields)


def change(kind: str = "grade_changed", incident_id: str = "INC-4", zone: str = "east-mh-2",
           hazard: str = "gas", alert: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"kind": kind, "alert": alert, "previous_grade": "yellow", "why": "corroborated",
            "incident": {"id": incident_id, "zone": zone, "zones": [zone], "hazard": hazard,
                         "grade": "orange", "devices": ["g-east-2"], "alert_count": 5}}


@pytest.mark.parametrize(("silences", "payload", "at", "expected"), [
    pytest.param([silence(zone="east", hazard="gas")], change(), T0 + 10, [1],
                 id="a zone covers the zones under it"),
    pytest.param([silence(zone="north")], change(), T0 + 10, [], id="another zone"),
    pytest.param([silence(incident_id=4), silence(2, device="g-east-2")], change(), T0 + 10,
                 [1, 2], id="every covering silence"),
    pytest.param([silence(incident_id=5)], change(), T0 + 10, [], id="another incident"),
    pytest.param([silence(zone="east")], change(), T0 - 1, [], id="before it was added"),
    pytest.param([silence(zone="east")], change(), T0 + 3600, [], id="after it expired"),
    pytest.param([silence(zone="east", ended=T0 + 60)], change(), T0 + 30, [1],
                 id="while in force, though expired by hand later"),
    pytest.param([silence(zone="east", ended=T0 + 60)], change(), T0 + 61, [],
                 id="after it was expired by hand"),
    pytest.param([silence(incident_id=4, ended=T0 + 60)], change("resolved"), T0 + 60, [1],
                 id="the resolve that ended it, at the same instant"),
    pytest.param([silence(sensor="manhole")], change(alert={"device": "g-east-2",
                                                             "sensor": "manhole"}),
                 T0 + 10, [1], id="a sensor, by the alert"),
    pytest.param([silence(zone="east")], {"kind": "security", "incident": {
        "id": "-", "hazard": "security", "zone": "east-mh-2"}}, T0 + 10, [],
                 id="a refused message is no incident change"),
])
def test_which_silences_cover_a_change(silences: list[Silence], payload: dict[str, Any],
                                       at: float, expected: list[int]) -> None:
    assert covering_change(silences, payload, at, topology=TOPOLOGY) == expected


def test_a_sensor_silence_uses_the_incidents_sensors() -> None:
    payload = change()
    assert covering_change([silence(sensor="manhole")], payload, T0 + 1) == []
    assert covering_change([silence(sensor="manhole")], payload, T0 + 1, {"manhole"}) == [1]


def test_a_silenced_line_ends_with_the_silences_and_others_do_not() -> None:
    marked = event_line(T0, {**change(), "silenced": True, "silences": [1, 3]}, colour=False)
    assert marked.endswith("INC-4 regraded grade yellow -> orange (corroborated) "
                           "[silenced #1 #3]")
    plain = event_line(T0, {**change(), "silenced": False, "silences": []}, colour=False)
    assert plain.endswith("(corroborated)")


def test_the_storm_folder_keeps_the_mark_on_lines_not_on_its_summary() -> None:
    folder = Folder(colour=False, show=1, every_s=10.0)
    alert = {"device": "g-east-2", "sensor": "manhole", "channel": "methane_lel", "value": 20.0,
             "unit": "%LEL", "reason": "limit", "grade": "yellow", "ts": "x"}
    joined = {**change("joined", alert=alert), "silenced": True, "silences": [2]}
    lines = [line for n in range(3) for line in folder.feed(T0 + n, joined)]
    lines += folder.flush(T0 + 20)
    assert [line.endswith("[silenced #2]") for line in lines] == [True, False]
    assert "+2 more alerts" in lines[1]
