"""The rule state per channel (``incident_state``): written when it changes, read back whole.

Real SQLite files (and, where the test is not about SQLite, a real PostgreSQL database); the
fusion rule is fed directly and its changes applied as the
hub's ingest does, so what a restarted hub rebuilds is what the store holds.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hub.config import FusionConfig, RuleConfig
from hub.core.fusion import Change, Fusion, Merged
from hub.core.incident import RuleRows
from hub.store import Store
from lifeline.grades import Grade
from lifeline.wire import Alert, Reason

T0 = 1_800_000_000.0
CONFIG = FusionConfig(window_s=300.0, quiet_s=120.0, max_span_s=6 * 3600.0,
                      rules={"gas": RuleConfig(escalate_rate=(("gas.methane", 5.0),))})


def alert(n: int, device: str, ts: float, value: float = 20.0) -> Alert:
    return Alert(id=f"a{n}", device=device, zone="mh-1", sensor="s1", channel="ch4",
                 kind="gas.methane", ts=T0 + ts, value=value, score=0.5, grade=Grade.YELLOW,
                 reason=Reason.LIMIT, seq=n)


def state_writes(store: Store) -> list[str]:
    """Record the statements that write incident_state."""
    seen: list[str] = []
    store.db.set_trace_callback(lambda sql: seen.append(sql) if "incident_state" in sql
                                and not sql.lstrip().upper().startswith("SELECT") else None)
    return seen


def apply(store: Store, changes: list[Change], now: float) -> None:
    with store.transaction():
        store.apply(changes, now)


def test_a_batch_rewrites_only_the_channels_it_touched(tmp_path: Path) -> None:
    store, fusion = Store.open_writer(tmp_path / "hub.db"), Fusion(CONFIG)
    first = [c for n, d in enumerate(["g1", "g2", "g3"]) for c in fusion.alert(alert(n, d, n), T0)]
    apply(store, first, T0)
    writes = state_writes(store)
    apply(store, fusion.alert(alert(9, "g2", 30, 40.0), T0 + 30), T0 + 30)
    # one evidence row and one readings row of g2's channel; not g1's nor g3's
    assert len(writes) == 2 and all("INSERT OR REPLACE" in w for w in writes)
    keys = {k for (k,) in store.db.execute("SELECT key FROM incident_state")}
    assert len(keys) == 6  # 3 channels x (evidence, readings)
    store.close()


class _Walks(RuleRows[object]):
    """Rule rows that count how often a save walks all of them."""

    walks = 0

    def keys(self) -> Any:
        _Walks.walks += 1
        return super().keys()

    def items(self) -> Any:
        _Walks.walks += 1
        return super().items()

    def __iter__(self) -> Any:
        _Walks.walks += 1
        return super().__iter__()


def test_a_save_reads_the_channels_that_changed_not_every_channel(tmp_path: Path) -> None:
    # Given an incident of 2,000 channels, saved
    store, fusion = Store.open_writer(tmp_path / "hub.db"), Fusion(CONFIG)
    apply(store, [c for n in range(2000) for c in fusion.alert(alert(n, f"g{n}", n * 0.1),
                                                                T0)], T0)
    [incident] = fusion.incidents
    incident.evidence.__class__ = incident.readings.__class__ = _Walks  # count the walks
    _Walks.walks = 0
    # When one more alert of one channel joins it and the batch is saved
    writes = state_writes(store)
    apply(store, fusion.alert(alert(5000, "g7", 300.0, 40.0), T0 + 1), T0 + 1)
    # Then that channel's rows are written, and no save walked all 2,000 (the cost of an
    # alert does not grow with its incident's size, issue 16)
    assert len(writes) == 2
    assert _Walks.walks == 0
    # And what a restarted hub reads is what fusion holds
    [stored] = store.live_incidents(T0 + 1, 3600.0)
    assert stored.evidence == fusion.incidents[0].evidence
    assert stored.readings == fusion.incidents[0].readings
    store.close()


def test_a_restart_rebuilds_the_rule_state_the_fusion_had(open_store: Callable[[], Store]) -> None:
    store, fusion = open_store(), Fusion(CONFIG)
    for n in range(40):
        apply(store, fusion.alert(alert(n, f"g{n % 4}", n * 5.0, 20.0 + n), T0 + n * 5), T0)
    store.close()
    [before] = fusion.incidents
    [after] = open_store().live_incidents(T0 + 200, 3600.0)
    assert after.evidence == before.evidence and after.readings == before.readings
    assert after.evidence and after.readings


def test_after_a_rollback_the_next_save_writes_everything_again(open_store: Callable[[], Store]) -> None:
    store, fusion = open_store(), Fusion(CONFIG)
    changes = fusion.alert(alert(1, "g1", 0), T0)
    with pytest.raises(RuntimeError), store.transaction():
        store.apply(changes, T0)
        raise RuntimeError("the batch failed after writing")
    apply(store, changes, T0)  # the same incident, same row objects: must not be skipped
    [restored] = store.live_incidents(T0, 3600.0)
    assert restored.evidence == fusion.incidents[0].evidence
    store.close()


def test_a_merged_away_incident_leaves_no_rule_state(open_store: Callable[[], Store]) -> None:
    store, fusion = open_store(), Fusion(CONFIG)
    east = Alert(id="e", device="g2", zone="mh-2", sensor="s1", channel="ch4",
                 kind="gas.methane", ts=T0 + 10, value=20.0, score=0.5, grade=Grade.YELLOW,
                 reason=Reason.LIMIT, seq=1)
    apply(store, fusion.alert(alert(1, "g1", 0), T0) + fusion.alert(east, T0 + 10), T0 + 10)
    survivor, other = fusion.incidents  # different zones, no topology: two incidents
    merged, absorbed = fusion._merge(survivor, other, T0 + 20)  # what every merge does
    apply(store, [Merged(merged, absorbed=absorbed, why="test")], T0 + 20)
    owners = {i for (i,) in store.db.execute("SELECT DISTINCT incident_id FROM incident_state")}
    assert owners == {survivor.id}
    keys = {k for (k,) in store.db.execute("SELECT key FROM incident_state WHERE part = "
                                           "'evidence'")}
    assert keys == set(merged.evidence) and len(keys) == 2
    store.close()


def test_a_schema_2_store_keeps_the_evidence_in_its_rows(tmp_path: Path) -> None:
    """A store written before incident_state: the rule state inside the incident row is
    still read, and the first save moves it to incident_state."""
    path = tmp_path / "hub.db"
    store, fusion = Store.open_writer(path), Fusion(CONFIG)
    apply(store, fusion.alert(alert(1, "g1", 0), T0), T0)
    [incident] = fusion.incidents
    legacy = {"evidence": {k: [list(r) for r in v] for k, v in incident.evidence.items()},
              "readings": {k: [list(r) for r in v] for k, v in incident.readings.items()},
              "kinds": list(incident.kinds), "reasons": list(incident.reasons),
              "transitions": []}
    store.close()
    db = sqlite3.connect(path)
    db.execute("UPDATE incidents SET rule_state = ?", (json.dumps(legacy),))
    db.execute("DROP TABLE incident_state")
    db.execute("PRAGMA user_version = 2")
    db.commit()
    db.close()
    store = Store.open_writer(path)
    [loaded] = store.live_incidents(T0, 3600.0)
    assert loaded.evidence == incident.evidence and loaded.readings == incident.readings
    apply(store, Fusion(CONFIG, [loaded]).alert(alert(2, "g1", 10), T0 + 10), T0 + 10)
    store.close()
    [again] = Store.open_writer(path).live_incidents(T0 + 10, 3600.0)
    assert [r[0] for r in next(iter(again.evidence.values()))] == [T0, T0 + 10]
