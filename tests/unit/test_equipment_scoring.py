"""The equipment benchmark's scoring (benchmarks/equipment_scoring.py) on hand-made sequences."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.equipment_scoring import Tally, best_threshold, episodes, score_run


def test_episodes_are_the_runs_of_alarm_rows() -> None:
    assert episodes(np.array([0, 1, 1, 0, 0, 1, 0, 1])) == [(1, 3), (5, 6), (7, 8)]
    assert episodes(np.zeros(4)) == []


def test_point_wise_per_event_and_false_episodes() -> None:
    # Given 2000 rows at 1 Hz, an event on rows 1000-1099 and a recurrence on 1500-1599
    labels = np.zeros(2000, dtype=np.int8)
    labels[1000:1100] = 1
    labels[1500:1600] = 1
    alarm = np.zeros(2000, dtype=np.int8)
    alarm[1005:1120] = 1   # 5 s late, clears 20 s after the end (inside the grace)
    alarm[500:510] = 1     # a false episode
    alarm[100:200] = 1     # inside the learning period: not scored
    events = [(1000, 1100, "first"), (1500, 1600, "minutes")]
    # When scored
    t = score_run(labels, alarm, events, abrupt=True, skip=400, grace=60)
    # Then
    assert (t.tp, t.fp, t.fn) == (95, 30, 105)
    assert t.tn == 1600 - 30 - 200 + 0
    assert t.detected == 1 and t.events == 2 and t.delays == [5.0] and t.abrupt_delays == [5.0]
    assert (t.recurrences, t.recurrences_detected) == (1, 0)
    assert t.false_episodes == 1
    assert t.normal_days == pytest.approx((1600 - 160 - 160) / 86_400)
    assert t.f1 == pytest.approx(2 * 95 / (2 * 95 + 30 + 105))


def test_tallies_add_up() -> None:
    a, b = Tally(tp=1, fp=2, events=1, detected=1, delays=[3.0]), Tally(tp=2, fn=1, events=1)
    a.add(b)
    assert (a.tp, a.fp, a.fn, a.events, a.detected, a.delays) == (3, 2, 1, 2, 1, [3.0])


def test_best_threshold_respects_the_false_alarm_bound() -> None:
    labels = np.array([0] * 900 + [1] * 100, dtype=np.int8)
    # normal scores spread over [0, 0.8], faults at 0.75: catching them costs 1/16 false alarms
    scores = np.concatenate([np.linspace(0.0, 0.8, 900), np.full(100, 0.75)])
    assert best_threshold([(labels, scores)], max_far=0.10, skip=0) <= 0.75
    thr = best_threshold([(labels, scores)], max_far=0.05, skip=0)
    assert thr > 0.75 and np.sum(scores[:900] >= thr) / 900 <= 0.05
