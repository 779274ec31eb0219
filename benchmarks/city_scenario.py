"""A small city with labelled ground truth, for evaluating incident fusion. Pure and seeded.

Each district has a water main of ``segments`` segments in a row (neighbours),
district-metered areas (DMAs) downstream of every second segment, a street of
gas manholes 100 m apart (neighbours, with coordinates), and two structures (a
bridge and a tower, two devices each). ``generate(seed, districts, hours)``
schedules events on it and turns them into the messages edge devices would
send -- alerts with reading times, and device statuses -- each labelled with
the event that caused it:

=========  =====  ==================================================================
kind       true?  what the devices send
=========  =====  ==================================================================
burst      yes    storm: pressure collapses and flow surges on a segment, pressure
                  drops on its neighbours, low pressure downstream in the DMAs
leak       yes    one device, an anomaly every 15-40 min for hours
gas_leak   yes    methane rising in a manhole, drifting into the next ones
sewer_gas  no     a short methane blip in one manhole, then clear (a nuisance)
drift      yes    a bridge's tilt alarming every 10 min for hours (escalates)
flapping   yes    a crack meter alarming and clearing every ~12 min
device_drop yes   a device's sensors go silent (sensor_fault), its last will says
                  offline, and it comes back 30 min later; the fault it logged while
                  cut off arrives from its backlog after it is back
=========  =====  ==================================================================

Events of the same family in the same district either keep ``MARGIN_S`` apart
in time or, with ``concurrent`` (the default), are out of each other's reach:
two segments or manholes between them (so 200 m apart, beyond the gas rule's
150 m), or different structures. Any incident mixing two labels is therefore
fusion's fault; events of different families overlap freely. ``density``
multiplies the events per district. ``City.hub_toml`` writes the hub.toml the
city runs with: its zones, neighbours, downstream DMAs, device positions and
one correlation rule per family.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from dataclasses import dataclass, field

from lifeline import wire
from lifeline.grades import Grade

__all__ = ["City", "Event", "Message", "Scenario", "concurrent_pairs", "generate"]

SEGMENTS = 6
MANHOLES = 6
MARGIN_S = 4000.0  # same-family events in a district keep this far apart (> sensor windows)
STORM_KINDS = ("burst", "gas_leak")


@dataclass(frozen=True)
class Device:
    name: str
    zone: str
    family: str
    xy: tuple[float, float] | None = None


@dataclass(frozen=True)
class City:
    districts: tuple[str, ...]
    devices: dict[str, Device]
    zones: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]]  # parent, neighbours, downstream

    def hub_toml(self, port: int, client_id: str, store: str = "hub.db") -> str:
        """The hub.toml this city runs with: topology, rules, and the broker."""
        lines = [f'[mqtt]\nhost = "127.0.0.1"\nport = {port}\nclient_id = "{client_id}"\n',
                 f'[store]\npath = "{store}"\n', RULES]
        for name, (parent, neighbours, downstream) in sorted(self.zones.items()):
            lines.append(f"[zones.{name}]\nparent = \"{parent}\"\n"
                         f"neighbours = {list(neighbours)!r}\ndownstream = {list(downstream)!r}\n"
                         .replace("'", '"'))
        for device in sorted(self.devices.values(), key=lambda d: d.name):
            if device.xy is not None:
                lines.append(f"[devices.{device.name}]\nx = {device.xy[0]}\ny = {device.xy[1]}\n")
        return "\n".join(lines)


RULES = """[fusion]
window_s = 300
quiet_s = 3600
max_span_s = 43200

[rules.water]
reach = "neighbours"
sensor_window_s = 3600
corroborate_devices = 2
escalate_after_s = 7200
signature = ["water.pressure", "water.flow"]
absorb_downstream = true

[rules.gas]
reach = "neighbours"
radius_m = 150
sensor_window_s = 1800
corroborate_devices = 2

[rules.structure]
reach = "zone"
sensor_window_s = 3600
escalate_after_s = 3600
corroborate_devices = 2
flap_episodes = 3
"""


@dataclass(frozen=True)
class Event:
    label: str
    kind: str
    district: str
    start: float
    true: bool = True
    where: int = 0  # segment (burst, leak) or first manhole (gas); 0 bridge, 5 tower

    @property
    def storm(self) -> bool:
        return self.kind in STORM_KINDS


@dataclass(frozen=True)
class Message:
    """One thing a device sends: an alert or a status, and the event behind it."""

    ts: float
    label: str
    alert: wire.Alert | None = None
    status: wire.Status | None = None
    arrives: float | None = None  # when the hub gets it, if later than ts (an edge's backlog)

    @property
    def arrival(self) -> float:
        return self.ts if self.arrives is None else self.arrives

    @property
    def device(self) -> str:
        if self.alert is not None:
            return self.alert.device
        assert self.status is not None
        return self.status.device


@dataclass
class Scenario:
    city: City
    events: list[Event]
    messages: list[Message] = field(default_factory=list)


def build_city(n_districts: int) -> City:
    names = ("north", "east", "south", "west", "centre", "harbour")[:n_districts]
    devices: dict[str, Device] = {}
    zones: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {}
    for d_index, d in enumerate(names):
        for k in range(1, SEGMENTS + 1):
            downstream = (f"{d}-dma-{k // 2}",) if k % 2 == 0 else ()
            zones[f"{d}-main-{k}"] = (f"{d}-main", (f"{d}-main-{k + 1}",) if k < SEGMENTS else (),
                                      downstream)
            devices[f"w-{d}-{k}"] = Device(f"w-{d}-{k}", f"{d}-main-{k}", "water")
            if downstream:
                zones[downstream[0]] = (d, (), ())
                devices[f"dma-{d}-{k // 2}"] = Device(f"dma-{d}-{k // 2}", downstream[0], "water")
        zones[f"{d}-main"] = (d, (), ())
        for k in range(1, MANHOLES + 1):
            zones[f"{d}-mh-{k}"] = (f"{d}-gas", (f"{d}-mh-{k + 1}",) if k < MANHOLES else (), ())
            devices[f"g-{d}-{k}"] = Device(f"g-{d}-{k}", f"{d}-mh-{k}", "gas",
                                           (d_index * 5000.0 + k * 100.0, 0.0))
        zones[f"{d}-gas"] = (d, (), ())
        for s in ("bridge", "tower"):
            zones[f"{d}-{s}"] = (d, (), ())
            for part in ("tilt", "crack"):
                devices[f"s-{d}-{s}-{part}"] = Device(f"s-{d}-{s}-{part}", f"{d}-{s}", "structure")
    return City(names, devices, zones)


class _Maker:
    """Turns readings into wire alerts with unique ids and per-device sequence numbers."""

    def __init__(self, city: City, base: float, rng: random.Random) -> None:
        self.city, self.base, self.rng = city, base, rng
        self.seq: dict[str, int] = {}
        self.ids = itertools.count(1)

    def alert(self, label: str, device: str, t: float, kind: str, grade: Grade, value: float,
              sensor: str, unit: str, reason: wire.Reason = wire.Reason.LIMIT,
              cleared: bool = False, arrives: float | None = None) -> Message:
        self.seq[device] = self.seq.get(device, 0) + 1
        channel = kind.split(".")[1]
        a = wire.Alert(
            id=f"c{next(self.ids):06d}-{self.rng.getrandbits(32):08x}", device=device,
            zone=self.city.devices[device].zone, sensor=sensor, channel=channel, kind=kind,
            ts=self.base + t, value=None if reason is wire.Reason.SENSOR_FAULT else value,
            score=0.9, grade=grade, reason=reason, seq=self.seq[device], unit=unit,
            context=tuple(round(value * (1 + 0.02 * i), 2) for i in range(8, -1, -1))
            if reason is not wire.Reason.SENSOR_FAULT else (),
            message="silent: no reading for 60 s" if reason is wire.Reason.SENSOR_FAULT else "",
            cleared=cleared)
        return Message(a.ts, label, alert=a,
                       arrives=None if arrives is None else self.base + arrives)

    def status(self, label: str, device: str, t: float, state: str) -> Message:
        s = wire.Status(device=device, zone=self.city.devices[device].zone, state=state,
                        ts=self.base + t)
        return Message(s.ts, label, status=s)


def _grade(fraction: float) -> Grade:
    return Grade.YELLOW if fraction < 0.35 else Grade.ORANGE if fraction < 0.7 else Grade.RED


def _burst(m: _Maker, e: Event, seg: int) -> Iterator[Message]:
    d = e.district
    for i in range(18):  # the burst segment: pressure and flow every 5 s for 90 s
        t = e.start + 5 * i
        yield m.alert(e.label, f"w-{d}-{seg}", t, "water.pressure", _grade(i / 18),
                      300 - 8 * i, "main-pressure", "kPa")
        yield m.alert(e.label, f"w-{d}-{seg}", t + 1, "water.flow", _grade(i / 18), 40 + 3 * i,
                      "main-flow", "L/s")
    neighbours = [k for k in (seg - 1, seg + 1) if 1 <= k <= SEGMENTS]
    for k in neighbours:
        for i in range(6):
            yield m.alert(e.label, f"w-{d}-{k}", e.start + 12 + 10 * i, "water.pressure",
                          Grade.YELLOW if i < 3 else Grade.ORANGE, 280 - 10 * i,
                          "main-pressure", "kPa")
    for k in sorted({seg, *neighbours}):
        if k % 2 == 0:  # its DMA feels it downstream
            for i in range(10):
                yield m.alert(e.label, f"dma-{d}-{k // 2}", e.start + 25 + 10 * i,
                              "water.pressure", Grade.YELLOW, 250 - 5 * i, "dma-pressure", "kPa")


def _leak(m: _Maker, e: Event, seg: int) -> Iterator[Message]:
    t = e.start
    while t < e.start + 5 * 3600:
        yield m.alert(e.label, f"w-{e.district}-{seg}", t, "water.pressure", Grade.BLUE,
                      285 - m.rng.random() * 5, "main-pressure", "kPa", wire.Reason.ANOMALY)
        t += m.rng.uniform(900, 2400)


def _gas_leak(m: _Maker, e: Event, hole: int) -> Iterator[Message]:
    for step, k in enumerate(range(hole, min(hole + 3, MANHOLES + 1))):
        n = 30 - 9 * step
        for i in range(n):
            yield m.alert(e.label, f"g-{e.district}-{k}", e.start + 180 * step + 20 * i,
                          "gas.methane", _grade(i / 30), 5 + 2 * i, "manhole", "%LEL")


def _sewer_gas(m: _Maker, e: Event, hole: int) -> Iterator[Message]:
    device = f"g-{e.district}-{hole}"
    for i in range(m.rng.randint(1, 3)):
        yield m.alert(e.label, device, e.start + 20 * i, "gas.methane", Grade.BLUE, 4 + i,
                      "manhole", "%LEL", wire.Reason.ANOMALY)
    yield m.alert(e.label, device, e.start + 70, "gas.methane", Grade.BLUE, 1.0, "manhole",
                  "%LEL", wire.Reason.ANOMALY, cleared=True)


def _drift(m: _Maker, e: Event, structure: str) -> Iterator[Message]:
    for i in range(18):  # every 10 min for 3 h
        yield m.alert(e.label, f"s-{e.district}-{structure}-tilt", e.start + 600 * i,
                      "structure.tilt", Grade.YELLOW, 0.5 + 0.05 * i, "pier-tilt", "deg")


def _flapping(m: _Maker, e: Event, structure: str) -> Iterator[Message]:
    device = f"s-{e.district}-{structure}-crack"
    for i in range(10):  # alarm, clear, every ~12 min
        t = e.start + 720 * i + m.rng.uniform(-60, 60)
        yield m.alert(e.label, device, t, "structure.crack", Grade.YELLOW, 2.1, "wall-crack", "mm")
        yield m.alert(e.label, device, t + 40, "structure.crack", Grade.YELLOW, 1.9, "wall-crack",
                      "mm", cleared=True)


def _device_drop(m: _Maker, e: Event, device: str) -> Iterator[Message]:
    family = m.city.devices[device].family
    kind = {"water": "water.pressure", "gas": "gas.methane", "structure": "structure.tilt"}[family]
    yield m.alert(e.label, device, e.start, kind, Grade.YELLOW, 0.0, "s1", "",
                  wire.Reason.SENSOR_FAULT)
    yield m.status(e.label, device, e.start + 30, "offline")
    # logged while the device was cut off: delivered from its outbox once it is back
    yield m.alert(e.label, device, e.start + 35, kind, Grade.YELLOW, 0.0, "s2", "",
                  wire.Reason.SENSOR_FAULT, arrives=e.start + 1801)
    yield m.status(e.label, device, e.start + 1800, "online")


KIND_FAMILY = {"burst": "water", "leak": "water", "gas_leak": "gas", "sewer_gas": "gas",
               "drift": "structure", "flapping": "structure", "device_drop": "device"}
DURATION_S = {"burst": 130, "leak": 5 * 3600, "gas_leak": 800, "sewer_gas": 80,
              "drift": 3 * 3600, "flapping": 7300, "device_drop": 1800}
PER_DISTRICT = (("burst", 2), ("leak", 1), ("gas_leak", 1), ("sewer_gas", 2), ("drift", 1),
                ("flapping", 1), ("device_drop", 1))


def _extent(kind: str, where: int) -> tuple[int, int]:
    """The segments (water) or manholes (gas) an event's alerts come from; structures: which."""
    if kind == "burst":
        return where - 1, where + 1
    if kind == "gas_leak":
        return where, where + 2
    return where, where


def _place(kind: str, rng: random.Random) -> int:
    if kind in ("burst", "leak"):
        return rng.randint(1, SEGMENTS)
    if kind == "gas_leak":
        return rng.randint(1, MANHOLES - 2)
    if kind == "sewer_gas":
        return rng.randint(1, MANHOLES)
    return 0 if kind == "drift" else 5  # the bridge, the tower (different zones: out of reach)


def generate(seed: int = 1, districts: int = 4, hours: float = 12.0,
             base: float = 1_800_000_000.0, density: int = 1, concurrent: bool = True
             ) -> Scenario:
    """A labelled scenario; message times are ``base`` + seconds into the scenario, and the
    messages are in the order the hub receives them (``Message.arrival``).

    ``density`` multiplies the events per district. With ``concurrent``, events of one
    family in one district may overlap in time when they are out of each other's reach
    (two segments or manholes between them, or different structures); otherwise they keep
    ``MARGIN_S`` apart in time whatever the place."""
    rng = random.Random(seed)
    city = build_city(districts)
    maker = _Maker(city, base, rng)
    events: list[Event] = []
    busy: dict[tuple[str, str], list[tuple[float, float, int, int]]] = {}
    used_devices: set[str] = set()
    span = hours * 3600
    for d in city.districts:
        # the longest first: they are the hardest to fit between the others
        for kind, count in sorted(PER_DISTRICT, key=lambda kc: -DURATION_S[kc[0]]):
            for _ in range(count * density):
                family, length = KIND_FAMILY[kind], DURATION_S[kind]
                for _attempt in range(200):
                    start = rng.uniform(0, max(1.0, span - length))
                    where = _place(kind, rng)
                    lo, hi = _extent(kind, where)
                    slots = busy.setdefault((d, family), [])
                    if all(start + length + MARGIN_S < a or start > b + MARGIN_S
                           or (concurrent and (lo - b_hi >= 2 or a_lo - hi >= 2))
                           for a, b, a_lo, b_hi in slots):
                        slots.append((start, start + length, lo, hi))
                        break
                else:
                    continue
                events.append(Event(f"{kind}-{d}-{len(events) + 1}", kind, d, start,
                                    true=kind != "sewer_gas", where=where))
    scenario = Scenario(city, sorted(events, key=lambda e: e.start))
    for e in scenario.events:
        d = e.district
        if e.kind == "burst":
            scenario.messages.extend(_burst(maker, e, e.where))
        elif e.kind == "leak":
            scenario.messages.extend(_leak(maker, e, e.where))
        elif e.kind == "gas_leak":
            scenario.messages.extend(_gas_leak(maker, e, e.where))
        elif e.kind == "sewer_gas":
            scenario.messages.extend(_sewer_gas(maker, e, e.where))
        elif e.kind == "drift":
            scenario.messages.extend(_drift(maker, e, "bridge"))
        elif e.kind == "flapping":
            scenario.messages.extend(_flapping(maker, e, "tower"))
        else:
            choices = sorted(n for n, dev in city.devices.items()
                             if n.startswith(("dma-", "s-")) and f"-{d}-" in n
                             and n not in used_devices and "tower-crack" not in n
                             and "bridge-tilt" not in n)
            if not choices:
                continue
            device = rng.choice(choices)
            used_devices.add(device)
            scenario.messages.extend(_device_drop(maker, e, device))
    scenario.messages.sort(key=lambda msg: (msg.arrival, msg.ts))
    return scenario


def concurrent_pairs(scenario: Scenario) -> int:
    """Pairs of events of one family in one district whose spans overlap in time."""
    events = scenario.events
    return sum(1 for i, a in enumerate(events) for b in events[i + 1:]
               if a.district == b.district and KIND_FAMILY[a.kind] == KIND_FAMILY[b.kind]
               and b.start < a.start + DURATION_S[a.kind] and a.start < b.start + DURATION_S[b.kind])
