"""Fusion domains (hub/core/domains.py): which messages may touch the same incidents."""

from __future__ import annotations

from hub.config import FusionConfig, RuleConfig
from hub.core.domains import Domains, hazard_of_fields
from hub.core.topology import Topology, Zone
from lifeline import wire

TOPOLOGY = Topology.build([
    Zone("main-1", parent="main", neighbours=("main-2",), downstream=("dma-1",)),
    Zone("main-2", parent="main"), Zone("dma-1", parent="district"), Zone("main", parent="city"),
    Zone("bridge", parent=None), Zone("mh-1", neighbours=("mh-2",)), Zone("mh-2")], {})
CONFIG = FusionConfig(topology=TOPOLOGY, rules={"gas": RuleConfig(radius_m=150.0)})
DOMAINS = Domains.build(CONFIG)


def test_zones_linked_by_neighbours_parents_or_downstream_are_one_domain() -> None:
    water = {DOMAINS.of_zone(z) for z in ("main-1", "main-2", "dma-1", "main", "city",
                                          "district")}
    assert len(water) == 1
    assert DOMAINS.of_zone("mh-1") == DOMAINS.of_zone("mh-2") != DOMAINS.of_zone("main-1")
    assert DOMAINS.of_zone("bridge") not in water | {DOMAINS.of_zone("mh-1")}
    assert DOMAINS.zones_of(DOMAINS.of_zone("mh-2")) == {"mh-1", "mh-2"}


def test_an_unknown_zone_is_a_domain_of_its_own() -> None:
    assert DOMAINS.of_zone("nowhere") == "zones:nowhere"
    assert DOMAINS.zones_of("zones:nowhere") == {"nowhere"}


def test_a_hazard_fused_by_distance_is_also_a_city_wide_domain() -> None:
    assert DOMAINS.keys("bridge", "gas") == (DOMAINS.of_zone("bridge"), "hazard:gas")
    assert DOMAINS.keys("bridge", "water") == (DOMAINS.of_zone("bridge"),)
    assert DOMAINS.keys("bridge", None) == (DOMAINS.of_zone("bridge"),)  # a status
    assert DOMAINS.zones_of("hazard:gas") == frozenset()


def test_the_hazard_of_an_undecoded_alert_is_fusions() -> None:
    assert hazard_of_fields("gas.methane", "limit") == "gas"
    assert hazard_of_fields("gas.methane", "sensor_fault") == "maintenance"
    assert hazard_of_fields(None, None) is None


def test_peek_reads_zone_kind_and_reason_or_nothing() -> None:
    status = wire.Status(device="d-1", zone="z", state="online", ts=1_800_000_000.0)
    assert wire.peek_fusion_fields(wire.encode(status)) == ("z", None, None)
    assert wire.peek_fusion_fields(b'{"zone": "z", "kind": "gas.methane", "reason": "limit"}'
                                   ) == ("z", "gas.methane", "limit")
    for bad in (b"not json", b"[1]", b'{"zone": 3}', b"\xff"):
        assert wire.peek_fusion_fields(bad) is None
