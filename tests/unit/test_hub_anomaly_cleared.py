"""Issue 12 item 2 at the hub: an incident whose every channel's anomaly alarm cleared is graded
down, and resolved after the quiet period (hub/core/grading.py, hub/core/fusion.py, unchanged)."""

from __future__ import annotations

import itertools

from hub.core.fusion import Fusion, GradeChanged, Resolved
from lifeline.grades import Grade
from lifeline.wire import Alert, Reason
from tests.unit.test_fusion_rules import CONFIG, T0

_ids = itertools.count(1)


def anomaly(ts: float, device: str, kind: str, grade: Grade, cleared: bool = False) -> Alert:
    return Alert(id=f"a{next(_ids)}", device=device, zone="main-1", sensor="s1", channel="c",
                 kind=kind, ts=T0 + ts, value=250.0, score=0.95, grade=grade,
                 reason=Reason.ANOMALY, seq=0, cleared=cleared,
                 message="back to normal" if cleared else "anomaly score 0.950 for 0 s")


def test_an_incident_whose_every_anomaly_cleared_is_graded_down_then_resolved() -> None:
    # Given a pressure anomaly seen by two devices, repeating while up (orange: corroborated;
    # not red, which a person must resolve)
    fusion = Fusion(CONFIG)
    for t in range(0, 120, 15):
        fusion.alert(anomaly(t, "w1", "water.pressure", Grade.YELLOW), T0 + t)
        fusion.alert(anomaly(t + 1, "w2", "water.pressure", Grade.YELLOW), T0 + t + 1)
    [incident] = fusion.incidents
    raised = incident.grade
    assert raised is Grade.ORANGE
    # When one channel clears, the incident stays up; when both have, it is graded down
    fusion.alert(anomaly(130, "w1", "water.pressure", Grade.YELLOW, cleared=True), T0 + 130)
    [incident] = fusion.incidents
    assert incident.active and incident.grade == raised
    changes = fusion.alert(anomaly(131, "w2", "water.pressure", Grade.YELLOW, cleared=True), T0 + 131)
    [incident] = fusion.incidents
    assert any(isinstance(c, GradeChanged) for c in changes) and incident.grade < raised
    assert "every sensor back to normal" in incident.reasons
    # Then, quiet for quiet_s, it is resolved
    assert fusion.tick(T0 + 131 + CONFIG.quiet_s - 1) == []
    [resolved] = fusion.tick(T0 + 131 + CONFIG.quiet_s)
    assert isinstance(resolved, Resolved) and not fusion.incidents[0].active
