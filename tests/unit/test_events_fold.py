"""The events feed folds the alerts a batch joins to one incident into one ``joined`` event
(issue 16): ``tail`` shows one line with the count, ``tail --json`` keeps every field of a
``joined`` event (for the highest-graded alert of the fold) and adds ``count`` and
``alert_ids``. Memberships stay one per alert."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hub.config import StoreConfig
from hub.desk.render import Folder, event_line
from hub.service.ingest import Ingest
from lifeline import wire
from lifeline.grades import Grade
from tests.support.ingest import ingesting

NOW = 1_790_000_000.0


def alert(n: int, grade: Grade, **changes: Any) -> wire.Alert:
    fields: dict[str, Any] = dict(
        id=f"{n:032x}", device=f"edge-north-{n}", zone="north", sensor="main-pressure",
        channel="pressure_kpa", kind="water.pressure", ts=NOW - 30 + n, value=150.0 + n,
        score=1.0, grade=grade, reason=wire.Reason.LIMIT, seq=n, unit="kPa",
        context=(300.0, 150.0))
    fields.update(changes)
    return wire.Alert(**fields)


@pytest.fixture
def ingest(tmp_path: Path, store_config: StoreConfig) -> Iterator[Ingest]:
    with ingesting(tmp_path, NOW, store_config) as hub:
        yield hub


def test_a_batchs_joined_alerts_are_one_event_per_incident(ingest: Ingest) -> None:
    # Given five alerts of one zone in one batch, the third the highest graded
    grades = [Grade.YELLOW, Grade.YELLOW, Grade.RED, Grade.ORANGE, Grade.YELLOW]
    sent = [alert(n, g) for n, g in enumerate(grades, 1)]
    # When the hub takes the batch
    ingest.batch([(wire.alert_topic(a.device), wire.encode(a)) for a in sent], NOW)
    # Then the feed has the incident opened by the first and one joined event for the other
    # four: the red alert's fields, their count and ids in the order they joined
    events = ingest.store.events_after(0)
    joined = [e.payload for e in events if e.kind == "joined"]
    assert [e.kind for e in events][0] == "opened" and len(joined) == 1
    [fold] = joined
    assert fold["count"] == 4 and fold["alert_ids"] == [a.id for a in sent[1:]]
    assert fold["alert"] == wire.Alert.to_dict(sent[2])
    assert fold["incident"]["alert_count"] == 5
    # And every alert is a member of the incident
    assert sorted(ingest.store.alert_ids(1)) == sorted(a.id for a in sent)
    # And tail shows it as one line with the count
    assert ("INC-1 joined   edge-north-3/main-pressure pressure_kpa=153 kPa limit "
            "(+3 more alerts)") in event_line(NOW, fold, False)


def test_tail_folds_by_alerts_not_events() -> None:
    """tail's own storm folding (Folder) counts the alerts a folded event stands for."""
    folder = Folder(colour=False, show=1, every_s=10.0)
    payload = {"kind": "joined", "incident": {"id": "INC-1", "grade": "red", "hazard": "water",
                                              "zone": "north", "alert_count": 12},
               "alert": wire.Alert.to_dict(alert(1, Grade.RED)), "count": 5,
               "alert_ids": [f"{n:032x}" for n in range(5)]}
    lines = [*folder.feed(NOW, payload), *folder.feed(NOW + 1, payload),
             *folder.feed(NOW + 2, payload), *folder.close(NOW + 10)]
    assert len(lines) == 2 and "+10 more alerts" in lines[1]
