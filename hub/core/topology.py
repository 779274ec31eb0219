"""Where things are: zones with parents, neighbours and downstream zones; device positions.

Pure and immutable. A zone the configuration does not name is a zone on its
own (no parent, no neighbours), so a hub without topology behaves like issue 2's
hub: incidents per zone. Neighbours are symmetric whichever side declares them;
``downstream`` is directed (water flows one way).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

__all__ = ["REACHES", "Topology", "Zone"]

REACHES = ("zone", "neighbours", "parent")
NEAR_MEMO = 10_000


@dataclass(frozen=True, slots=True)
class Zone:
    name: str
    parent: str | None = None
    neighbours: tuple[str, ...] = ()
    downstream: tuple[str, ...] = ()
    # where the board's zone map draws it (any unit; only relative positions matter)
    position: tuple[float, float] | None = None


@dataclass(frozen=True)
class Topology:
    """Zones by name and device positions (x, y in metres on a local grid)."""

    zones: Mapping[str, Zone] = field(default_factory=dict)
    positions: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    _adjacent: Mapping[str, frozenset[str]] = field(default_factory=dict, repr=False,
                                                   compare=False)
    # near_zones answers, by (zone, reach): fusion asks once per alert
    _near: dict[tuple[str, str], frozenset[str]] = field(default_factory=dict, repr=False,
                                                         compare=False)

    @classmethod
    def build(cls, zones: Iterable[Zone], positions: Mapping[str, tuple[float, float]]
              ) -> Topology:
        by_name = {z.name: z for z in zones}
        adjacent: dict[str, set[str]] = {}
        for zone in by_name.values():
            for other in zone.neighbours:
                adjacent.setdefault(zone.name, set()).add(other)
                adjacent.setdefault(other, set()).add(zone.name)
        return cls(by_name, dict(positions), {k: frozenset(v) for k, v in adjacent.items()})

    def parent(self, zone: str) -> str | None:
        found = self.zones.get(zone)
        return found.parent if found else None

    def neighbours(self, zone: str) -> frozenset[str]:
        return self._adjacent.get(zone, frozenset())

    def ancestors(self, zone: str) -> list[str]:
        """``zone`` and its parents up to the root (cycles are cut)."""
        chain = [zone]
        while (up := self.parent(chain[-1])) is not None and up not in chain:
            chain.append(up)
        return chain

    def near(self, a: str, b: str, reach: str) -> bool:
        """Is zone ``b`` within ``reach`` of zone ``a``? (symmetric)"""
        if a == b:
            return True
        if reach == "zone":
            return False
        if b in self.neighbours(a):
            return True
        if reach == "parent":
            pa, pb = self.parent(a), self.parent(b)
            return pa is not None and pa == pb
        return False

    def near_zones(self, zone: str, reach: str) -> frozenset[str]:
        """Every zone ``b`` with ``near(b, zone, reach)``: the zone, its neighbours and, by
        ``parent`` reach, its siblings (declared zones with the same parent). Remembered
        per (zone, reach), up to NEAR_MEMO zones (alerts can name zones the topology
        does not)."""
        known = self._near.get((zone, reach))
        if known is not None:
            return known
        found = {zone}
        if reach != "zone":
            found |= self.neighbours(zone)
        if reach == "parent" and (parent := self.parent(zone)) is not None:
            found |= {z.name for z in self.zones.values() if z.parent == parent}
        if len(self._near) >= NEAR_MEMO:
            self._near.clear()
        known = self._near[zone, reach] = frozenset(found)
        return known

    def downstream(self, zones: Iterable[str]) -> frozenset[str]:
        """Zones directly downstream of any of ``zones``."""
        return frozenset(d for z in zones if z in self.zones for d in self.zones[z].downstream)

    def distance_m(self, a: str, b: str) -> float | None:
        """Metres between two devices, or None when either has no position."""
        pa, pb = self.positions.get(a), self.positions.get(b)
        return None if pa is None or pb is None else math.dist(pa, pb)

    def area(self, zones: Iterable[str]) -> str:
        """The smallest zone containing all of ``zones`` (or the first one if they share none)."""
        listed = list(dict.fromkeys(zones))
        if not listed:
            return ""
        common = self.ancestors(listed[0])
        for zone in listed[1:]:
            chain = set(self.ancestors(zone))
            common = [z for z in common if z in chain]
        return common[0] if common else listed[0]
