"""What fusion keeps per incident so that an alert costs the same in any incident. Pure.

An earthquake puts ten thousand sensor channels into one incident within
seconds. Walking them all for each alert (to find the channels of a zone, to
grade) made a storm quadratic: 1k/2k/4k alerts took 0.27/2.0/12.3 s. ``Running``
holds one incident's rule state (its ``evidence`` and ``readings``, the very
mappings the ``Incident`` value shows) and what is derived from them, updated
by the one channel an alert changed:

* the channels by zone and by device (where an alert may reach);
* each channel's summary (alarming peak, episodes) and how many channels have
  each peak and each episode count, so the highest alarming grade and the most
  episodes are a look at a handful of counters (``tally``);
* each rate channel's move (``escalate_rate``) in a heap, fastest first;
* the incident's devices, zones and kinds as sets, so a new one is found without
  a scan (the sorted tuples of the ``Incident`` are rebuilt only when one is new,
  and name at most ``MAX_DEVICES`` devices: the set counts them all);
* device positions on a grid of the rule's ``radius_m``, so the devices within
  reach of an alert are a look at nine cells.

Successive ``Incident`` values of one incident share these mappings: they are
the rule state of the incident as it is now, not as it was at that change. The
reference -- every channel read again -- is ``hub.core.grading.tally``; the tests
compare the two.
"""

from __future__ import annotations

import bisect
import heapq
import math
from collections import Counter
from collections.abc import Iterable

from hub.config import RuleConfig
from hub.core.grading import (
    Tally,
    add_row,
    add_value,
    channel_move,
    channel_summary,
    merge_rows,
    merge_values,
    next_summary,
)
from hub.core.incident import MAX_DEVICES, Evidence, Incident, Readings, RuleRows
from hub.core.topology import Topology

__all__ = ["Running"]


def zone_of(key: str) -> str:
    """The zone of a channel key ``device/sensor/channel@zone``."""
    return key.rpartition("@")[2]


def device_of(key: str) -> str:
    """The device of a channel key ``device/sensor/channel@zone``."""
    return key.partition("/")[0]


class Running:
    """One incident's rule state and its running summaries (see the module docstring)."""

    def __init__(self, incident: Incident) -> None:
        # RuleRows: the store writes back only the channels set since its last save
        self.evidence: dict[str, Evidence] = RuleRows(incident.evidence)
        self.readings: dict[str, Readings] = RuleRows(incident.readings)
        self.by_zone: dict[str, list[str]] = {}
        self.by_device: dict[str, list[str]] = {}
        self.new_zones: list[str] = []  # zones of evidence not yet in fusion's zone index
        self._channels: dict[str, tuple[int, int, bool]] = {}
        self._peaks: Counter[int] = Counter()
        self._episodes: Counter[int] = Counter()
        self._most_episodes = 0
        # the rate channels (readings keys) of each channel key, and their moves
        self._rate_keys: dict[str, set[str]] = {}
        self._moves: dict[str, tuple[float, str]] = {}
        self._heap: list[tuple[float, str, str]] = []
        self._unmoved: set[str] = set(self.readings)  # moves to recompute
        self._move_rule: RuleConfig | None = None
        self._grid: dict[tuple[int, int], list[str]] | None = None
        self._grid_for: tuple[float, Topology] | None = None
        # every device of the incident: those of its channels (the named ones are capped)
        self.devices = {*incident.devices, *(device_of(key) for key in incident.evidence)}
        self._named = sorted(incident.devices)  # the devices tuple's list: insert is a memmove
        self.zones = set(incident.all_zones)
        self.kinds = set(incident.kinds)
        self._of = (incident.devices, incident.zones, incident.kinds)
        self._downstream: tuple[tuple[str, ...], Topology, frozenset[str]] | None = None
        for key, rows in self.evidence.items():
            self._place(key)
            self._count(key, channel_summary(rows))
        for key in self.readings:
            self._rate_keys.setdefault(key.rpartition(" ")[2], set()).add(key)

    def owns(self, incident: Incident) -> bool:
        """Is ``incident``'s rule state this one's (else it must be built again)?"""
        return incident.evidence is self.evidence and incident.readings is self.readings

    def follow(self, incident: Incident) -> None:
        """Take the incident's devices, zones and kinds (sets rebuilt only if they changed)."""
        devices, zones, kinds = self._of
        if incident.devices is not devices:
            self.devices.update(incident.devices)
            self._named = sorted(incident.devices)
        if incident.zones is not zones:
            self.zones = set(incident.all_zones)
        if incident.kinds is not kinds:
            self.kinds = set(incident.kinds)
        self._of = (incident.devices, incident.zones, incident.kinds)

    def joined(self, incident: Incident, device: str, zone: str, kind: str
               ) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
        """The incident's devices, zones and kinds with one more alert's: the same tuples
        unless that one is new (kinds sorted, zones in order of arrival, devices the first
        MAX_DEVICES by name: ``len(self.devices)`` counts them all)."""
        devices, zones, kinds = incident.devices, incident.zones, incident.kinds
        if device not in self.devices:
            self.devices.add(device)
            named = self._named
            if len(named) < MAX_DEVICES or device < named[-1]:
                bisect.insort(named, device)  # a new tuple is one copy of at most 1,000
                del named[MAX_DEVICES:]
                devices = tuple(named)
        if zone not in self.zones or not zones:
            zones = incident.all_zones if zone in self.zones else (*incident.all_zones, zone)
            self.zones.add(zone)
        if kind not in self.kinds:
            at = bisect.bisect(kinds, kind)
            kinds = (*kinds[:at], kind, *kinds[at:])
            self.kinds.add(kind)
        self._of = (devices, zones, kinds)
        return self._of

    def downstream(self, topology: Topology, zones: tuple[str, ...]) -> frozenset[str]:
        """``topology.downstream(zones)``, remembered while the zones are the same."""
        if self._downstream is None or self._downstream[0] is not zones \
                or self._downstream[1] is not topology:
            self._downstream = (zones, topology, topology.downstream(zones))
        return self._downstream[2]

    # -- changing one channel ----------------------------------------------------------
    def add_row(self, key: str, ts: float, grade: int, cleared: bool) -> None:
        """One more alert of channel ``key``."""
        rows = self.evidence.get(key)
        if rows is None:
            self._place(key)
            rows = ()
        new = add_row(rows, ts, grade, cleared)
        self.evidence[key] = new
        before = self._channels.get(key)
        if before is not None and len(new) == len(rows) + 1 and new[-1] == (ts, grade, cleared):
            self._count(key, next_summary(before, grade, cleared))  # appended: no re-read
        else:
            self._count(key, channel_summary(new))
        self._unmoved.update(self._rate_keys.get(key, ()))

    def merge_rows(self, key: str, rows: Evidence) -> None:
        """Another incident's rows of channel ``key`` join this one's (a merge)."""
        if key not in self.evidence:
            self._place(key)
        new = self.evidence[key] = merge_rows(self.evidence.get(key, ()), rows)
        self._count(key, channel_summary(new))
        self._unmoved.update(self._rate_keys.get(key, ()))

    def add_value(self, key: str, ts: float, value: float) -> None:
        """One more reading of rate channel ``key`` (``kind device/sensor/channel@zone``)."""
        self.readings[key] = add_value(self.readings.get(key, ()), ts, value)
        self._rate_keys.setdefault(key.rpartition(" ")[2], set()).add(key)
        self._unmoved.add(key)

    def merge_values(self, key: str, rows: Readings) -> None:
        """Another incident's readings of rate channel ``key`` join this one's (a merge)."""
        self.readings[key] = merge_values(self.readings.get(key, ()), rows)
        self._rate_keys.setdefault(key.rpartition(" ")[2], set()).add(key)
        self._unmoved.add(key)

    def take_new_zones(self) -> list[str]:
        zones, self.new_zones = self.new_zones, []
        return zones

    def _place(self, key: str) -> None:
        zone, device = zone_of(key), device_of(key)
        if zone not in self.by_zone:
            self.by_zone[zone] = []
            self.new_zones.append(zone)
        self.by_zone[zone].append(key)
        if device not in self.by_device:
            self.by_device[device] = []
            if self._grid is not None and self._grid_for is not None:
                self._grid_add(device, *self._grid_for)
        self.by_device[device].append(key)

    def _count(self, key: str, summary: tuple[int, int, bool]) -> None:
        before = self._channels.get(key)
        if before is not None:
            self._peaks[before[0]] -= 1
            self._episodes[before[1]] -= 1
        self._channels[key] = summary
        self._peaks[summary[0]] += 1
        self._episodes[summary[1]] += 1
        if summary[1] >= self._most_episodes:
            self._most_episodes = summary[1]
        elif before is not None and before[1] == self._most_episodes \
                and not self._episodes[before[1]]:  # the most was this channel's: look again
            self._most_episodes = max((n for n, c in self._episodes.items() if c), default=0)

    # -- reading -------------------------------------------------------------------------
    def tally(self, rule: RuleConfig) -> Tally:
        """``hub.core.grading.tally`` of the incident, from the running counts."""
        peak = max((p for p, count in self._peaks.items() if count and p), default=0)
        return Tally(peak=peak, episodes=self._most_episodes,
                     move=self._fastest(rule) if rule.escalate_rate else None)

    def _fastest(self, rule: RuleConfig) -> str | None:
        if rule is not self._move_rule:  # another rule (a reload): every move again
            self._move_rule, self._moves, self._heap = rule, {}, []
            self._unmoved = set(self.readings)
        for key in self._unmoved:
            move = channel_move(key, self.readings[key],
                                self.evidence.get(key.rpartition(" ")[2], ()), rule)
            if move is None:
                self._moves.pop(key, None)
            elif self._moves.get(key) != move:
                self._moves[key] = move
                heapq.heappush(self._heap, (-move[0], key, move[1]))
        self._unmoved.clear()
        heap = self._heap
        # entries of moves since replaced or gone are dropped when they come to the top;
        # ties go to the first key, as a sorted walk over the channels would
        while heap and self._moves.get(heap[0][1]) != (-heap[0][0], heap[0][2]):
            heapq.heappop(heap)
        if len(heap) > 2 * len(self._moves) + 64:
            self._heap = heap = [(-m[0], k, m[1]) for k, m in self._moves.items()]
            heapq.heapify(heap)
        return heap[0][2] if heap else None

    def devices_within(self, topology: Topology, device: str, radius_m: float
                       ) -> Iterable[str]:
        """The incident's devices within ``radius_m`` of ``device`` (positions from
        ``topology``), from a grid of cells ``radius_m`` wide: nine cells are looked at."""
        here = topology.positions.get(device)
        if here is None:
            return ()
        if self._grid is None or self._grid_for is None or self._grid_for[0] != radius_m \
                or self._grid_for[1] is not topology:
            self._grid, self._grid_for = {}, (radius_m, topology)
            for known in self.by_device:
                self._grid_add(known, radius_m, topology)
        cx, cy = _cell(here, radius_m)
        return [other for dx in (-1, 0, 1) for dy in (-1, 0, 1)
                for other in self._grid.get((cx + dx, cy + dy), ())
                if math.dist(here, topology.positions[other]) <= radius_m]

    def _grid_add(self, device: str, radius_m: float, topology: Topology) -> None:
        where = topology.positions.get(device)
        if where is not None and self._grid is not None:
            self._grid.setdefault(_cell(where, radius_m), []).append(device)


def _cell(where: tuple[float, float], size: float) -> tuple[int, int]:
    return math.floor(where[0] / size), math.floor(where[1] / size)
