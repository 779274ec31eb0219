"""What the hub knows by name: hazards, zones, devices, incidents -- for checking a desk command.

``silence add --zone nrth`` or ``tail --hazard fire`` would otherwise be accepted and
silence or show nothing, and the operator would believe the opposite. A name is known
when hub.toml's topology, the device registry or the store names it; a typo gets a
did-you-mean. ``check_filters`` is pure; ``gather`` reads the configuration's sources
(the store through its named operations, read-only) and only as far as a name needs it.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hub.core.topology import Topology
from lifeline.wire import format_incident_id

if TYPE_CHECKING:
    from hub.config import HubConfig

__all__ = ["Known", "check_filters", "incident_problem", "known_to_hub", "suggest",
           "topology_names"]


def suggest(word: str, options: Iterable[str]) -> str:
    """``"; did you mean 'north'?"`` for the closest of ``options``, or ``""``."""
    close = difflib.get_close_matches(word, sorted(set(options)), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def topology_names(topology: Topology) -> tuple[frozenset[str], frozenset[str]]:
    """(zones, devices) that hub.toml names: zones, their parents, neighbours and
    downstream zones; devices with a position."""
    zones: set[str] = set()
    for zone in topology.zones.values():
        zones.add(zone.name)
        zones.update(zone.neighbours, zone.downstream)
        if zone.parent:
            zones.add(zone.parent)
    return frozenset(zones), frozenset(topology.positions)


@dataclass(frozen=True)
class Known:
    """Names a filter may use. ``more_zones``/``more_devices`` are asked only when a name is
    not among the ones already here (they may read every alert in the store)."""

    hazards: tuple[str, ...]
    zones: frozenset[str] = frozenset()
    devices: frozenset[str] = frozenset()
    more: Callable[[], tuple[frozenset[str], frozenset[str]]] | None = None

    def complete(self) -> Known:
        if self.more is None:
            return self
        zones, devices = self.more()
        return Known(self.hazards, self.zones | zones, self.devices | devices)


def _name(option: str, what: str, value: str, known: Collection[str], force: bool) -> str | None:
    if force or value in known:
        return None
    where = ("hub.toml's [zones], the device registry or anything the hub has received"
             if what == "zone" else
             "the device registry, hub.toml's [devices] or anything the hub has received")
    return (f"{option} {value}: no {what} of that name in {where}{suggest(value, known)} "
            f"(--force to use a {what} not seen yet)")


def check_filters(known: Known, *, hazard: str | None = None, zone: str | None = None,
                  device: str | None = None, force: bool = False) -> list[str]:
    """One sentence per filter value that names nothing the hub knows (empty: all fine).

    A hazard is one of a fixed few, never forced; a zone or a device may be one the hub has
    not heard of yet (a new board), which ``force`` accepts."""
    problems = []
    if hazard is not None and hazard not in known.hazards:
        problems.append(f"--hazard {hazard}: not a hazard; one of {', '.join(known.hazards)}"
                        f"{suggest(hazard, known.hazards)}")
    needs_more = (zone is not None and zone not in known.zones) or (
        device is not None and device not in known.devices)
    if needs_more and not force:
        known = known.complete()
    if zone is not None and (problem := _name("--zone", "zone", zone, known.zones, force)):
        problems.append(problem)
    if device is not None and (problem := _name("--device", "device", device, known.devices,
                                                  force)):
        problems.append(problem)
    return problems


# -- gathering (I/O: the registry file and the store, read-only) -------------------------
def _registry_names(config: HubConfig) -> tuple[frozenset[str], frozenset[str]]:
    if config.security.registry is None:
        return frozenset(), frozenset()
    from hub.registry import load_registry
    from lifeline.tomlconfig import ConfigError

    try:
        registry = load_registry(config.security.registry)
    except ConfigError:  # `lifeline-hub check-config` and the hub itself say what is wrong
        return frozenset(), frozenset()
    return (frozenset(e.zone for e in registry.devices.values()),
            frozenset(registry.devices))


def _store_names(config: HubConfig) -> tuple[frozenset[str], frozenset[str]]:
    """Zones and devices of every status and alert received (the ``status`` command's own
    query: one pass over the alerts)."""
    from hub.store import Store

    store = Store.open_reader(config.store.path)
    if store is None:
        return frozenset(), frozenset()
    try:
        statuses = store.devices()
        rates = store.alert_rates(0.0)
    finally:
        store.close()
    zones = {zone for _, zone, _, _ in statuses} | {z for _, _, z in rates.values() if z}
    return frozenset(zones), frozenset({d for d, *_ in statuses} | set(rates))


def known_to_hub(config: HubConfig) -> Known:
    """The topology's and the registry's names now; the store's only if a name needs them."""
    from hub.config import HAZARDS

    zones, devices = topology_names(config.fusion.topology)
    registry_zones, registry_devices = _registry_names(config)
    return Known(HAZARDS, zones | registry_zones, devices | registry_devices,
                 more=lambda: _store_names(config))


def incident_problem(config: HubConfig, incident_id: int) -> str | None:
    """Why ``--incident INC-n`` names nothing to silence (None: it exists)."""
    from hub.store import Store

    store = Store.open_reader(config.store.path)
    if store is None:
        return f"--incident {format_incident_id(incident_id)}: there are no incidents yet (no store at " \
               f"{config.store.path})"
    try:
        if store.incident(incident_id) is not None:
            return None
        newest = [format_incident_id(row[0]) for row in store.incident_rows(None, 5)]
    finally:
        store.close()
    label = format_incident_id(incident_id)
    return f"--incident {label}: there is no incident {label}" + (
        f"; the newest are {', '.join(newest)} (`lifeline-hub incidents` lists them)"
        if newest else "; there are no incidents yet")
