#!/usr/bin/env python3
"""Field-sensor simulator: realistic sensor lines on real pseudo-terminals, with scripted events.

Each simulated sensor gets a pseudo-terminal pair (``os.openpty``); the edge
agent opens the slave path with pyserial exactly as it would open
``/dev/ttyUSB0``. The simulator writes one ``lines``-protocol line per sample
to the master side. A scenario file (TOML) lists sensors and timed events::

    [[sensors]]
    id = "main-pressure"
    model = "water.pressure"     # a key of MODELS below
    rate_hz = 10

    [[events]]
    at_s = 25
    sensor = "main-pressure"
    kind = "burst"               # a key of EVENTS below
    duration_s = 40

A sensor may also speak another driver's protocol (``driver`` in the scenario):

* ``driver = "modbus"`` – a Modbus RTU unit (pymodbus's server, modbus_peer.py) behind a
  null-modem pair of ptys (nullmodem.py); the model's first value is written to
  ``modbus = { unit_id, address, type, scale }`` as ``round(value / scale)``. A
  ``garbage`` event garbles the line, ``silent`` makes the unit stop answering;
* ``driver = "vibration"`` – binary accelerometer frames (edge/drivers/frames.py),
  ``rate_hz`` frames per second of ``vibration = { sample_rate_hz }`` samples per second.

Run: ``python hardware/simulator/fieldsim.py SCENARIO.toml --manifest ports.json``.
The manifest maps sensor ids to their pseudo-terminal paths and records the
wall-clock time of each event, so a demo can measure event-to-incident time.
The signal models are pure functions of time; only ``main`` touches ptys.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import signal
import sys
import time
import tomllib
import tty
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from edge.drivers.frames import encode_frame  # noqa: E402
from edge.drivers.registers import encode  # noqa: E402
from hardware.simulator.nullmodem import NullModem  # noqa: E402

# model name -> (columns, baseline(t, rng) -> values)
Values = tuple[float, ...]


def _water_pressure(t: float, rng: random.Random) -> Values:
    diurnal = 8.0 * math.sin(2 * math.pi * t / 600.0)
    return (round(320.0 + diurnal + rng.gauss(0, 1.2), 2),)


def _water_flow(t: float, rng: random.Random) -> Values:
    return (round(42.0 + 3.0 * math.sin(2 * math.pi * t / 600.0) + rng.gauss(0, 0.5), 2),)


def _methane(t: float, rng: random.Random) -> Values:
    return (round(max(0.0, 0.8 + rng.gauss(0, 0.15)), 2),)


def _tilt(t: float, rng: random.Random) -> Values:
    return (round(0.12 + rng.gauss(0, 0.004), 4), round(-0.05 + rng.gauss(0, 0.004), 4))


def _crack(t: float, rng: random.Random) -> Values:
    return (round(0.42 + rng.gauss(0, 0.003), 4),)


def _vibration(t: float, rng: random.Random) -> Values:
    """One accelerometer sample in g: the deck's first mode (2.1 Hz), traffic (17 Hz), gravity."""
    mode = 0.02 * math.sin(2 * math.pi * 2.1 * t)
    traffic = 0.008 * math.sin(2 * math.pi * 17.0 * t)
    return (mode + traffic + rng.gauss(0, 0.003), 0.6 * mode + rng.gauss(0, 0.003),
            1.0 + 0.3 * traffic + rng.gauss(0, 0.003))


MODELS: dict[str, tuple[tuple[str, ...], Callable[[float, random.Random], Values]]] = {
    "water.pressure": (("pressure_kpa",), _water_pressure),
    "water.flow": (("flow_lps",), _water_flow),
    "gas.methane": (("methane_lel",), _methane),
    "structure.tilt": (("tilt_x_deg", "tilt_y_deg"), _tilt),
    "structure.crack": (("crack_mm",), _crack),
    "structure.vibration": (("x_g", "y_g", "z_g"), _vibration),
}
DRIVERS = ("lines", "modbus", "vibration")


def _ramp(progress: float, seconds: float, ramp_s: float) -> float:
    return min(1.0, max(0.0, progress / ramp_s)) if ramp_s > 0 else 1.0


def apply_event(kind: str, since_s: float, params: dict[str, Any], model: str,
                values: Values, rng: random.Random) -> Values | bytes | None:
    """What an active event does to a sample: new values, raw bytes, or None (silence)."""
    ramp = _ramp(since_s, 0.0, float(params.get("ramp_s", 3.0)))
    if kind == "burst":  # a main bursts: pressure collapses, flow surges
        if model == "water.pressure":
            return tuple(v - ramp * float(params.get("drop_kpa", 190.0)) for v in values)
        if model == "water.flow":
            return tuple(v + ramp * float(params.get("rise_lps", 55.0)) for v in values)
        return values
    if kind == "gas_leak":  # methane builds up in a manhole
        peak = float(params.get("peak_lel", 60.0))
        return tuple(v + ramp * peak for v in values)
    if kind == "garbage":  # a failing transmitter: corrupted lines
        return bytes(rng.randrange(33, 127) for _ in range(rng.randrange(3, 20)))
    if kind == "silent":  # wire cut: nothing at all
        return None
    if kind == "stuck":
        return tuple(float(params.get("value", 0.0)) for _ in values)
    raise ValueError(f"unknown event kind {kind!r}")


EVENTS = ("burst", "gas_leak", "garbage", "silent", "stuck")


@dataclass
class Event:
    at_s: float
    sensor: str
    kind: str
    duration_s: float
    params: dict[str, Any] = field(default_factory=dict)
    label: str = ""


@dataclass
class SimSensor:
    id: str
    model: str
    rate_hz: float
    events: list[Event]
    rng: random.Random
    driver: str = "lines"
    options: dict[str, Any] = field(default_factory=dict)
    frames: int = 0

    def sample(self, t: float) -> Values | bytes | None:
        """What the sensor measures at scenario time ``t``: values, garbage bytes or None."""
        _, baseline = MODELS[self.model]
        values: Values | bytes | None = baseline(t, self.rng)
        for event in self.events:
            if event.at_s <= t < event.at_s + event.duration_s and isinstance(values, tuple):
                values = apply_event(event.kind, t - event.at_s, event.params, self.model,
                                     values, self.rng)
        return values

    def line(self, t: float) -> bytes | None:
        """The bytes a ``lines`` sensor sends at scenario time ``t`` (None when it is silent)."""
        values = self.sample(t)
        if values is None:
            return None
        if isinstance(values, bytes):
            return values + b"\n"
        return (",".join(f"{v:g}" for v in values) + "\n").encode()

    def frame(self, t: float) -> bytes | None:
        """One vibration frame covering [t, t + 1/rate_hz): samples in mg counts."""
        rate = int(self.options.get("sample_rate_hz", 500))
        n = max(1, round(rate / self.rate_hz))
        rows = []
        for i in range(n):
            values = self.sample(t + i / rate)
            if values is None:
                return None
            if isinstance(values, bytes):
                return values
            rows.append(tuple(max(-32768, min(32767, round(v * 1000))) for v in values))
        self.frames += 1
        return encode_frame(self.frames - 1, rate, rows)


class ModbusUnit:
    """A simulated Modbus sensor: a pymodbus server on one end of a null modem."""

    def __init__(self, sensor: SimSensor) -> None:
        from hardware.simulator.modbus_peer import ModbusPeer  # pymodbus only when needed

        opts = sensor.options
        self.unit = int(opts.get("unit_id", 1))
        self.address = int(opts.get("address", 0))
        self.type = str(opts.get("type", "uint16"))
        self.scale = float(opts.get("scale", 1.0))
        self.modem = NullModem()
        self.peer = ModbusPeer(self.modem.b_path, (self.unit,),
                               baudrate=int(opts.get("baudrate", 9600)))
        self.path = self.modem.a_path

    def update(self, sample: Values | bytes | None) -> None:
        if sample is None:
            self.modem.mode = "drop"      # the unit stops answering
        elif isinstance(sample, bytes):
            self.modem.mode = "garble"    # noise on the line
        else:
            self.modem.mode = "pass"
            raw = sample[0] / self.scale
            if self.type.startswith("uint"):
                raw = max(0.0, raw)
            self.peer.set(self.address, encode(raw, self.type), self.unit)

    def close(self) -> None:
        self.peer.close()
        self.modem.close()


def load_scenario(path: Path, seed: int) -> tuple[list[SimSensor], list[Event]]:
    data = tomllib.loads(path.read_text())
    events = [Event(at_s=float(e["at_s"]), sensor=e["sensor"], kind=e["kind"],
                    duration_s=float(e.get("duration_s", 30)), params=dict(e.get("params", {})),
                    label=e.get("label", e["kind"])) for e in data.get("events", [])]
    sensors = []
    for index, s in enumerate(data["sensors"]):
        if s["model"] not in MODELS:
            raise SystemExit(f"{path}: sensors[{index}].model: {s['model']!r} is not one of "
                             f"{', '.join(MODELS)}")
        driver = s.get("driver", "lines")
        if driver not in DRIVERS:
            raise SystemExit(f"{path}: sensors[{index}].driver: {driver!r} is not one of "
                             f"{', '.join(DRIVERS)}")
        sensors.append(SimSensor(id=s["id"], model=s["model"], rate_hz=float(s.get("rate_hz", 10)),
                                 events=[e for e in events if e.sensor == s["id"]],
                                 rng=random.Random(f"{seed}:{s['id']}"), driver=driver,
                                 options=dict(s.get(driver, {}))))
    for event in events:
        if event.kind not in EVENTS:
            raise SystemExit(f"{path}: events: kind {event.kind!r} is not one of {', '.join(EVENTS)}")
    return sensors, events


def open_pty() -> tuple[int, int, str]:
    """A pseudo-terminal pair in raw mode; the master is non-blocking so a reader never stalls us."""
    master, slave = os.openpty()
    tty.setraw(slave)
    os.set_blocking(master, False)
    return master, slave, os.ttyname(slave)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Simulate field sensors on pseudo-terminals.")
    parser.add_argument("scenario", type=Path, help="scenario TOML file")
    parser.add_argument("--manifest", type=Path, required=True,
                        help="write {sensors: {id: pty path}, events: [...]} here as JSON")
    parser.add_argument("--duration", type=float, default=0.0,
                        help="stop after this many seconds (default: run until killed)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--start-delay", type=float, default=0.0,
                        help="seconds to wait after writing the manifest before t=0")
    args = parser.parse_args(argv)

    sensors, events = load_scenario(args.scenario, args.seed)
    ports = {s.id: open_pty() for s in sensors if s.driver != "modbus"}
    units = {s.id: ModbusUnit(s) for s in sensors if s.driver == "modbus"}
    paths = {**{sid: path for sid, (_, _, path) in ports.items()},
             **{sid: unit.path for sid, unit in units.items()}}
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    time.sleep(args.start_delay)
    start = time.time()
    manifest = {
        "started_at": start,
        "sensors": {s.id: paths[s.id] for s in sensors},
        "events": [{"label": e.label, "sensor": e.sensor, "kind": e.kind,
                    "at": start + e.at_s} for e in events],
    }
    tmp = args.manifest.with_suffix(".tmp")
    tmp.write_text(json.dumps(manifest, indent=2))
    os.replace(tmp, args.manifest)
    due = {s.id: start for s in sensors}
    dropped = 0
    while not stopping and (args.duration <= 0 or time.time() - start < args.duration):
        now = time.time()
        for sensor in sensors:
            if now < due[sensor.id]:
                continue
            due[sensor.id] += 1.0 / sensor.rate_hz
            if sensor.driver == "modbus":
                units[sensor.id].update(sensor.sample(now - start))
                continue
            data = sensor.frame(now - start) if sensor.driver == "vibration" \
                else sensor.line(now - start)
            if data is None:
                continue
            try:
                os.write(ports[sensor.id][0], data)
            except BlockingIOError:
                dropped += 1  # nobody is reading this port yet: a real sensor keeps talking too
        time.sleep(max(0.0, min(due.values()) - time.time()))
    for master, slave, _ in ports.values():
        os.close(master)
        os.close(slave)
    for unit in units.values():
        unit.close()
    print(f"fieldsim: stopped after {time.time() - start:.1f} s ({dropped} lines unread)",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
