"""Issue 5's fusion targets on a small city, through a real Mosquitto and `lifeline-hub run`.

``benchmarks/city_scenario.py`` generates a busy little city with labelled ground
truth (bursts spreading over neighbouring segments and downstream DMAs, leaks, gas
leaks drifting between manholes, sewer-gas false alarms, drift, a flapping sensor,
devices dropping off and delivering their backlog when back), events of one family
overlapping in time where they are out of each other's reach. ``benchmarks/bench_fusion.py``
replays it through a private broker and a hub subprocess, as fast as the broker takes
the messages (fusion is by reading time), and scores the incidents the hub stored.
The full-size run is ``make bench-fusion``.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from benchmarks.bench_fusion import delayed, replay_hub
from benchmarks.city_scenario import concurrent_pairs, generate
from benchmarks.fusion_scoring import score

pytestmark = pytest.mark.integration

HOURS = 8.0  # a leak lasts 5 h


@pytest.mark.parametrize("jitter_s", [0.0, 3600.0], ids=["in-order", "alerts-up-to-1h-late"])
def test_each_true_event_is_one_incident_none_mixed_storms_compressed(tmp_path: Path,
                                                                     jitter_s: float) -> None:
    # Given a small busy city: 2 districts, 8 simulated hours, same-family events overlapping
    scenario = generate(seed=2, districts=2, hours=HOURS, base=time.time() - HOURS * 3600 - 900,
                        density=2)
    assert concurrent_pairs(scenario) > 0
    if jitter_s:  # edges on bad links: every alert up to an hour late, out of order
        scenario = delayed(scenario, jitter_s, seed=2)
    # When every message is published to a real broker and the hub subprocess stores them all
    replay = replay_hub(scenario, tmp_path, timeout_s=45.0)
    result = score(scenario, replay.incidents, replay.first_publish)
    # Then every kind of event occurred and storms happened
    assert result.true_events >= 15 and result.storm_incidents > 0
    assert {"burst", "leak", "gas_leak", "drift", "flapping", "device_drop"} <= set(
        result.per_kind)
    # And >= 95 % of true events are in exactly one incident
    assert result.exactly_one_share >= 0.95, result.split
    # And no incident mixes two events
    assert result.mixed == 0, result.mixed_ids
    # And storms compress at least 20:1, overall and for the worst single storm
    assert result.storm_compression >= 20, result.storm_compression
    assert result.worst_storm >= 20, result.worst_storm
    # And every true event was found, and every confirmed incident is a true event's
    assert result.recall == 1.0 and result.confirmed_precision == 1.0
