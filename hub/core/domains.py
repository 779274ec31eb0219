"""Fusion domains: which messages can touch the same incidents, so several hubs on one
store serialize only those (issue 17). Pure: no I/O.

Fusion joins an alert to incidents of its hazard near it in space (hub/core/fusion.py):
its zone, the zone's neighbours, its siblings (``reach = "parent"``), the zones
downstream of a confirmed cause -- or, by a rule's ``radius_m``, devices anywhere
within that distance. A **domain** is a set of zones closed under those relations: the
connected component of the zone graph whose edges are neighbours, parent and
downstream (the parent edge always, whatever the rules' reach: coarser is safe). No
incident ever has zones in two domains but through ``radius_m``, so a hazard whose rule
has a radius is a domain of its own, city-wide (``hazard:<name>``), on top of its zone's.

A zone the topology does not name is a domain of its own. A device's statuses and its
sensor faults are in its zone's domain (a device incident is its zone's).

``keys`` names the domains one message touches; a hub takes a lock per key (sorted: two
hubs never wait on each other in a circle) before it reads, fuses and writes the
incidents of those domains (hub/store/queries.py ``Store.lock_domains``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from hub.config import FusionConfig
from hub.core.incident import MAINTENANCE_HAZARD, Incident

__all__ = ["Domains", "hazard_of_fields"]


@dataclass(frozen=True)
class Domains:
    """The fusion domains of one configuration (``build``)."""

    component: dict[str, str] = field(default_factory=dict)  # zone -> its domain's key
    members: dict[str, frozenset[str]] = field(default_factory=dict)  # key -> its zones
    radius_hazards: frozenset[str] = frozenset()  # hazards fused by distance: city-wide

    @classmethod
    def build(cls, config: FusionConfig) -> Domains:
        topology = config.topology
        edges: dict[str, set[str]] = {}

        def link(a: str, b: str) -> None:
            edges.setdefault(a, set()).add(b)
            edges.setdefault(b, set()).add(a)

        for zone in topology.zones.values():
            edges.setdefault(zone.name, set())
            for other in (*zone.neighbours, *zone.downstream):
                link(zone.name, other)
            if zone.parent is not None:
                link(zone.name, zone.parent)
        component: dict[str, str] = {}
        members: dict[str, frozenset[str]] = {}
        for start in sorted(edges):
            if start in component:
                continue
            seen, todo = {start}, [start]
            while todo:
                for other in edges[todo.pop()]:
                    if other not in seen:
                        seen.add(other)
                        todo.append(other)
            key = f"zones:{min(seen)}"
            members[key] = frozenset(seen)
            for name in seen:
                component[name] = key
        radius = frozenset(name for name, rule in config.rules.items() if rule.radius_m > 0)
        return cls(component, members, radius)

    def of_zone(self, zone: str) -> str:
        """The domain key of ``zone`` (a zone the topology does not name: its own)."""
        return self.component.get(zone, f"zones:{zone}")

    def zones_of(self, key: str) -> frozenset[str]:
        """The zones of the domain ``key`` (empty for a ``hazard:`` key)."""
        if not key.startswith("zones:"):
            return frozenset()
        return self.members.get(key, frozenset({key.removeprefix("zones:")}))

    def keys(self, zone: str, hazard: str | None) -> tuple[str, ...]:
        """The domains a message of ``zone`` about ``hazard`` (None: a status) touches."""
        if hazard is not None and hazard in self.radius_hazards:
            return (self.of_zone(zone), f"hazard:{hazard}")
        return (self.of_zone(zone),)

    def of_incident(self, incident: Incident) -> tuple[str, ...]:
        """The domains an incident lives in (its zone's, and its hazard's if by distance)."""
        return self.keys(incident.zone, incident.hazard)

    def holds(self, keys: Iterable[str], incident: Incident) -> bool:
        """Is ``incident`` in one of the domains ``keys``?"""
        wanted = set(keys)
        return any(key in wanted for key in self.of_incident(incident))


def hazard_of_fields(kind: str | None, reason: str | None) -> str | None:
    """The hazard of an alert from its ``kind`` and ``reason`` fields (None: not an alert);
    as ``hub.core.fusion.hazard_of``, before the alert is decoded."""
    if kind is None:
        return None
    return MAINTENANCE_HAZARD if reason == "sensor_fault" else kind.split(".", 1)[0]
