"""What a desk filter may name (hub/desk/known.py): pure checks, no store."""

from __future__ import annotations

from hub.config import HAZARDS
from hub.core.topology import Topology, Zone
from hub.desk.known import Known, check_filters, topology_names

TOPOLOGY = Topology.build([Zone("north-main-3", parent="north", neighbours=("north-main-4",),
                                downstream=("north-dma-2",))], {"g-east-2": (0.0, 0.0)})


def test_the_topology_names_zones_with_their_parents_neighbours_and_downstream() -> None:
    zones, devices = topology_names(TOPOLOGY)
    assert zones == {"north-main-3", "north", "north-main-4", "north-dma-2"}
    assert devices == {"g-east-2"}


def test_the_store_is_asked_only_when_a_name_is_not_known_already() -> None:
    asked: list[bool] = []

    def more() -> tuple[frozenset[str], frozenset[str]]:
        asked.append(True)
        return frozenset({"east-mh-2"}), frozenset({"w-north-3"})

    known = Known(HAZARDS, *topology_names(TOPOLOGY), more=more)
    assert check_filters(known, hazard="gas", zone="north", device="g-east-2") == []
    assert asked == []
    assert check_filters(known, zone="east-mh-2", device="w-north-3") == []
    assert asked == [True]


def test_each_unknown_name_is_one_sentence_and_force_accepts_zones_and_devices() -> None:
    known = Known(HAZARDS, *topology_names(TOPOLOGY))
    problems = check_filters(known, hazard="fire", zone="nrth", device="g-est-2")
    assert [p.split(":")[0] for p in problems] == ["--hazard fire", "--zone nrth",
                                                   "--device g-est-2"]
    assert "did you mean 'north'?" in problems[1] and "did you mean 'g-east-2'?" in problems[2]
    assert check_filters(known, hazard="fire", zone="nrth", device="g-est-2", force=True) == [
        problems[0]]
