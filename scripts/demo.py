#!/usr/bin/env python3
"""`make demo`: the whole Lifeline system on one machine, with scripted events.

Starts, in order: a private Mosquitto on a free loopback port, the field
simulator (hardware/simulator) with one pseudo-terminal per sensor, the hub,
three edge agents (water, gas, structure zones) reading those ptys, the web
board (``lifeline-hub board``, its address printed; operator ``demo``) and the
operator tail in this terminal. After ``--duration`` seconds (or Ctrl-C) it
stops everything and prints which scripted events became incidents and how
long each took from the event to its incident. Logs of every process stay in
the run directory it names.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import tomllib
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from lifeline.localbroker import Broker, stop_process  # noqa: E402
from lifeline.wire import family_of, parse_ts  # noqa: E402

SCENARIO = REPO / "hardware" / "simulator" / "scenarios" / "demo.toml"
# the demo's zones on the board's map: two districts and a bridge, under the city
BOARD_ZONES = """
[zones.city]
[zones.north]
parent = "city"
neighbours = ["east"]
[zones.east]
parent = "city"
[zones.bridge-south]
parent = "city"
neighbours = ["north"]
"""
# Who owns what (issue 19): the gas leak's incident is the gas utility's, with a deadline
# to acknowledge it that ``tail`` counts down, and an escalation chain behind it.
OWNERS = """
[[owners]]
department = "control-room"

[[owners]]
department = "gas-utility"
hazards = ["gas"]
escalation = ["east-duty-officer", "city-command-centre"]

[[owners]]
department = "water-utility"
hazards = ["water"]
escalation = ["city-command-centre"]
"""
BIN = Path(sys.executable).parent


def lines(kind: str, columns: list[str], extra: str) -> str:
    cols = ", ".join(f'"{c}"' for c in columns)
    return (f'kind = "{kind}"\ndriver = "lines"\nbaudrate = 115200\ncolumns = [{cols}]\n'
            f'{extra}')


# device id -> (zone, [(sensor id, kind, TOML lines after id and port)])
DEVICES: dict[str, tuple[str, list[tuple[str, str, str]]]] = {
    "edge-water-north": ("north", [
        ("main-pressure", "water.pressure", lines("water.pressure", ["pressure_kpa"],
         'unit = "kPa"\nlow = 250.0\nlow_critical = 150.0')),
        ("main-flow", "water.flow", lines("water.flow", ["flow_lps"],
                                          'unit = "L/s"\nhigh = 90.0')),
    ]),
    "edge-gas-east": ("east", [
        # Modbus RTU: the profile brings the register map, calibration and limits
        ("manhole-methane", "gas.methane",
         'profile = "methane-lel-modbus"\nunit_id = 1\npoll_s = 0.2'),
    ]),
    "edge-structure-bridge": ("bridge-south", [
        ("pier-tilt", "structure.tilt", lines("structure.tilt", ["tilt_x_deg", "tilt_y_deg"],
                                              'unit = "deg"')),
        # binary frames at 500 Hz, reduced on the board to RMS, peak, crest and band energies
        ("pier-accel", "structure.vibration",
         'profile = "accelerometer-triaxial"\naxes = ["x", "y", "z"]\nbands = [[1, 10], [10, 50]]'),
        # a 0-25 mm meter: a garbled line that happens to read as "500" is out of the
        # meter's range (a sensor fault), not a crack half a metre wide
        ("deck-crack", "structure.crack", lines("structure.crack", ["crack_mm"],
                                                'unit = "mm"\nhigh = 1.0\nrange_min = 0.0\n'
                                                'range_max = 25.0')),
    ]),
}


def edge_toml(device: str, zone: str, port: int, ptys: dict[str, str], state: Path) -> str:
    text = (f'[device]\nid = "{device}"\nzone = "{zone}"\nstate_dir = "{state}"\n\n'
            f'[mqtt]\nhost = "127.0.0.1"\nport = {port}\n')
    for sensor, _kind, body in DEVICES[device][1]:
        text += f'\n[[sensors]]\nid = "{sensor}"\nport = "{ptys[sensor]}"\n{body}\n'
    return text


class Demo:
    def __init__(self, run_dir: Path, duration: float) -> None:
        self.run_dir = run_dir
        self.duration = duration
        self.procs: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.broker = Broker(run_dir / "broker")
        self.board_url = ""

    def spawn(self, name: str, argv: list[str], *, to_terminal: bool = False) -> None:
        log = open(self.run_dir / f"{name}.log", "wb")  # noqa: SIM115 - the child owns it
        proc = subprocess.Popen(argv, stdout=None if to_terminal else log, stderr=log,
                                start_new_session=True, cwd=self.run_dir)
        log.close()
        self.procs.append((name, proc))

    def start(self) -> dict[str, object]:
        self.broker.start()
        manifest_path = self.run_dir / "ports.json"
        self.spawn("fieldsim", [sys.executable, str(REPO / "hardware/simulator/fieldsim.py"),
                                str(SCENARIO), "--manifest", str(manifest_path),
                                "--duration", str(self.duration + 30)])
        deadline = time.monotonic() + 10
        while not manifest_path.exists():
            if time.monotonic() > deadline:
                raise RuntimeError(f"simulator wrote no manifest; see {self.run_dir}/fieldsim.log")
            time.sleep(0.05)
        manifest: dict[str, object] = json.loads(manifest_path.read_text())
        ptys = manifest["sensors"]
        assert isinstance(ptys, dict)
        hub_toml = self.run_dir / "hub.toml"
        hub_toml.write_text(f'[mqtt]\nhost = "127.0.0.1"\nport = {self.broker.port}\n\n'
                            f'[store]\npath = "lifeline-hub.db"\n\n'
                            f'[fusion]\nwindow_s = 120\nquiet_s = 60\n\n'
                            f'[board]\nusers = "board-users"\n{BOARD_ZONES}{OWNERS}')
        self.spawn("hub", [str(BIN / "lifeline-hub"), "run", "--config", str(hub_toml)])
        self.start_board(hub_toml)
        for device, (zone, _) in DEVICES.items():
            path = self.run_dir / f"{device}.toml"
            path.write_text(edge_toml(device, zone, self.broker.port, ptys,
                                      self.run_dir / "state" / device))
            self.spawn(device, [str(BIN / "lifeline-edge"), "run", "--config", str(path)])
        self.spawn("tail", [str(BIN / "lifeline-hub"), "tail", "--config", str(hub_toml),
                            "--from-start"], to_terminal=True)
        return manifest

    def start_board(self, hub_toml: Path) -> None:
        """The web board beside the hub, with a ``demo`` operator whose password is in
        board-password; on 127.0.0.1:8080, or a free port when that one is taken."""
        secret = self.run_dir / "board-password"
        fd = os.open(secret, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(12) + "\n")
        subprocess.run([str(BIN / "lifeline-hub"), "board-user", "add", "demo", "--password-file",
                        str(secret), "--config", str(hub_toml)], check=True,
                       capture_output=True, cwd=self.run_dir)
        with socket.socket() as probe:
            listen = "127.0.0.1:0" if probe.connect_ex(("127.0.0.1", 8080)) == 0 \
                else "127.0.0.1:8080"
        self.spawn("board", [str(BIN / "lifeline-hub"), "board", "--config", str(hub_toml),
                             "--listen", listen])
        log, deadline = self.run_dir / "board.log", time.monotonic() + 10
        while time.monotonic() < deadline:
            found = re.search(r"board: (http://\S+)", log.read_text() if log.exists() else "")
            if found:
                self.board_url = found.group(1)
                print(f"Board: {self.board_url}  (operator demo, password in {secret})",
                      flush=True)
                return
            time.sleep(0.05)
        print(f"demo: the board did not start; see {log}", file=sys.stderr)

    def stop(self) -> None:
        # The hub first: edge agents that stop say "offline" on the way out, and a hub still
        # running would record the demo's own shutdown as device outages (which absorb the
        # crack meter's maintenance incident, so the summary missed it under load)
        procs = sorted(reversed(self.procs), key=lambda named: named[0] != "hub")
        for name, proc in procs:  # the hub, then all the rest at once; wait for each
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
            if name == "hub":
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    pass  # killed below
        for name, proc in procs:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                print(f"demo: {name} did not stop on SIGTERM; killing it", file=sys.stderr)
            stop_process(proc, timeout=0)
        self.broker.stop()

    def incidents(self) -> list[dict[str, object]]:
        out = subprocess.run([str(BIN / "lifeline-hub"), "incidents", "--config",
                              str(self.run_dir / "hub.toml"), "--json"],
                             capture_output=True, check=True, cwd=self.run_dir)
        result: list[dict[str, object]] = json.loads(out.stdout)
        return result


def summarize(manifest: dict[str, object], incidents: list[dict[str, object]]) -> int:
    """Print which scripted events became incidents; return how many did not."""
    zone_of = {s: zone for zone, sensors in DEVICES.values() for s, _, _ in sensors}
    kind_of = {s: kind for _, sensors in DEVICES.values() for s, kind, _ in sensors}
    events = manifest["events"]
    assert isinstance(events, list)
    first: dict[str, dict[str, object]] = {}
    for event in events:
        first.setdefault(event["label"], event)
    print("\n=== Lifeline demo summary ===")
    print(f"{'scripted event':<26} {'zone':<13} {'incident':<10} {'hazard':<12} {'grade':<7} "
          f"{'alerts':>6} {'event->incident':>16}")
    missed = 0
    claimed: set[object] = set()
    for label, event in first.items():
        sensor = str(event["sensor"])
        zone = zone_of[sensor]
        want = family_of(kind_of[sensor]) if event["kind"] in ("burst", "gas_leak") \
            else "maintenance"
        match = [i for i in incidents if i["zone"] == zone and i["hazard"] == want]
        if not match:
            missed += 1
            print(f"{label:<26} {zone:<13} {'-':<10} {want:<12} {'-':<7} {'-':>6} "
                  f"{'NOT DETECTED':>16}")
            continue
        incident = min(match, key=lambda i: str(i["opened_at"]))
        claimed.add(incident["id"])
        delay = parse_ts(str(incident["opened_at"])) - float(str(event["at"]))
        print(f"{label:<26} {zone:<13} {incident['id']!s:<10} {want:<12} "
              f"{incident['grade']!s:<7} {incident['alert_count']!s:>6} {delay:>15.2f}s")
    others = [i for i in incidents if i["id"] not in claimed]
    print(f"\n{len(incidents)} incident(s) in total; {len(others)} not tied to a scripted event"
          + (":" if others else "."))
    for i in others:
        print(f"  {i['id']} {i['hazard']} in {i['zone']} ({i['grade']}, {i['status']})")
    return missed


# Seconds from a scripted event's start until its incident is certain to be in the store
# (the sensor fault of a garbled meter takes longest: bad reads must pile up first).
DETECT_MARGIN_S = 8.0


def shortest_duration(scenario: Path = SCENARIO) -> tuple[float, str, float]:
    """(the shortest --duration that lets every scripted event become an incident, the
    label of the last event, when it starts): a shorter run would end before it and
    report it NOT DETECTED."""
    events = tomllib.loads(scenario.read_text())["events"]
    last = max(events, key=lambda e: float(e["at_s"]))
    return float(last["at_s"]) + DETECT_MARGIN_S, str(last["label"]), float(last["at_s"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--duration", type=float, default=90.0, help="seconds to run (90)")
    parser.add_argument("--run-dir", type=Path, default=None,
                        help="where logs, configs and the hub store go (default: run/demo-TIME)")
    args = parser.parse_args()
    shortest, label, at = shortest_duration()
    if args.duration < shortest:
        parser.error(f"--duration {args.duration:g} would end before the scripted "
                     f"'{label}' (at ~{at:.0f} s) becomes an incident; use --duration "
                     f"{shortest:.0f} or more (default 90)")
    run_dir = args.run_dir or REPO / "run" / f"demo-{datetime.now():%Y%m%d-%H%M%S}"
    run_dir.mkdir(parents=True, exist_ok=True)
    demo = Demo(run_dir, args.duration)
    interrupted = False

    def on_signal(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    print(f"Lifeline demo: broker, hub, 3 edge devices, field simulator; logs in {run_dir}")
    print("Field sensors: text lines on serial ports, a Modbus RTU methane detector "
          "(manhole-methane),\na 500 Hz accelerometer sending binary frames (pier-accel).")
    print(f"Scripted: water-main burst at ~20 s, gas leak at ~35 s, crack meter failing at ~50 s;"
          f" ends after {args.duration:.0f} s (Ctrl-C to stop early).\n")
    try:
        manifest = demo.start()
        time.sleep(args.duration)
    except KeyboardInterrupt:
        interrupted = True
        print("\ndemo: interrupted; stopping everything", file=sys.stderr)
        manifest = json.loads((run_dir / "ports.json").read_text()) \
            if (run_dir / "ports.json").exists() else {"events": []}
    finally:
        demo.stop()
    try:
        missed = summarize(manifest, demo.incidents())
    except (subprocess.CalledProcessError, json.JSONDecodeError, FileNotFoundError) as exc:
        print(f"demo: could not read incidents: {exc}", file=sys.stderr)
        return 1
    print(f"\nEverything stopped. Store: {run_dir / 'lifeline-hub.db'}; logs: {run_dir}/*.log")
    return 0 if interrupted or missed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
