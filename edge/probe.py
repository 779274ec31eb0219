"""``lifeline-edge probe``: open the configured sensors and show, live, what they say.

For a technician on site: wiring, baud rate, unit id and register map are
checked in seconds. Each decoded reading is printed calibrated, with units;
each failed read with its counted reason; health faults as they start and end.
At the end a summary per sensor: readings, errors by reason, faults. Nothing is
published and no detector runs. Exit 0 when every probed sensor gave at least
one reading, 1 otherwise, 2 on a configuration or usage error.
"""

from __future__ import annotations

import argparse
import queue
import sys
import threading
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import TextIO

from edge.config import EdgeConfig, SensorConfig, load_edge_config
from edge.drivers import Reader, SensorEvent, make_reader
from edge.health import HealthMonitor
from lifeline.tomlconfig import ConfigError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, type=Path, help="path to edge.toml")
    parser.add_argument("--sensor", action="append", default=[], metavar="ID",
                        help="probe only this sensor (repeatable; default: all)")
    parser.add_argument("--seconds", type=float, default=10.0, help="how long to listen (10)")
    parser.add_argument("--maintenance", metavar="DURATION", default=None,
                        help="first tell the hub this device is in maintenance for DURATION "
                        "(30m, 2h): its outage and sensor faults are then maintenance work, "
                        "not a device incident")
    parser.add_argument("--comment", default="lifeline-edge probe",
                        help="why, shown with the maintenance mark at the hub")


def format_reading(sensor: SensorConfig, values: tuple[float, ...]) -> str:
    """Calibrated values with units: ``methane_lel=2.35 %LEL``."""
    parts = []
    for channel, raw in zip(sensor.channels, values, strict=False):
        value = raw * channel.scale + channel.offset
        parts.append(f"{channel.name}={value:.6g}" + (f" {channel.unit}" if channel.unit else ""))
    return "  ".join(parts)


class Probe:
    def __init__(self, config: EdgeConfig, sensors: list[SensorConfig], out: TextIO) -> None:
        self.config = config
        self.sensors = {s.id: s for s in sensors}
        self.out = out
        self.events: queue.Queue[SensorEvent] = queue.Queue(maxsize=10_000)
        now = time.time()
        self.health = {s.id: HealthMonitor.for_sensor(s, now) for s in sensors}
        self.readings: Counter[str] = Counter()
        self.errors: dict[str, Counter[str]] = {s.id: Counter() for s in sensors}
        self.width = max(len(s) for s in self.sensors)

    def say(self, ts: float, sensor: str, text: str) -> None:
        stamp = datetime.fromtimestamp(ts).strftime("%H:%M:%S.%f")[:-3]
        print(f"{stamp} {sensor:<{self.width}}  {text}", file=self.out, flush=True)

    def handle(self, event: SensorEvent) -> None:
        sensor = self.sensors[event.sensor]
        health = self.health[event.sensor]
        if event.kind == "reading":
            self.readings[event.sensor] += 1
            ok = health.reading(event.ts, event.values)
            self.say(event.ts, event.sensor, format_reading(sensor, event.values)
                     + ("" if ok else "  (outside the measuring range)"))
        elif event.kind == "bad":
            health.bad_read(event.ts, event.reason)
            self.errors[event.sensor][event.reason] += 1
            self.say(event.ts, event.sensor, f"bad read ({event.reason}): {event.detail}")
        elif event.kind == "port_error":
            health.port_error(event.ts, event.detail)
            self.errors[event.sensor]["port_error"] += 1
            self.say(event.ts, event.sensor, f"port error: {event.detail}")
        else:
            health.port_ok(event.ts)
            self.say(event.ts, event.sensor, f"port {sensor.port} open")

    def check_health(self, now: float) -> None:
        for sensor_id, health in self.health.items():
            for change in health.evaluate(now):
                verb = "FAULT" if change.active else "fault cleared"
                self.say(now, sensor_id, f"{verb} {change.fault}: {change.message}")

    def run(self, seconds: float) -> int:
        readers: list[Reader] = [make_reader(s, self.events, threading.Event())
                                       for s in self.sensors.values()]
        for sensor in self.sensors.values():
            print(f"probing {sensor.id} ({sensor.driver} on {sensor.port} @ {sensor.baudrate} "
                  f"baud) for {seconds:g} s", file=self.out, flush=True)
        for reader in readers:
            reader.start()
        deadline = time.monotonic() + seconds
        next_health = time.monotonic() + 1.0
        try:
            while time.monotonic() < deadline:
                try:
                    self.handle(self.events.get(timeout=0.1))
                except queue.Empty:
                    pass
                if time.monotonic() >= next_health:
                    next_health += 1.0
                    self.check_health(time.time())
        except KeyboardInterrupt:
            pass
        finally:
            for reader in readers:
                reader.stop.set()
            for reader in readers:
                reader.join(timeout=2.0)
        while not self.events.empty():
            self.handle(self.events.get_nowait())
        return self.summary(seconds)

    def summary(self, seconds: float) -> int:
        print(f"\n=== probe summary ({seconds:g} s) ===", file=self.out)
        silent = 0
        for sensor_id in self.sensors:
            count = self.readings[sensor_id]
            silent += count == 0
            errors = ", ".join(f"{r}={n}" for r, n in self.errors[sensor_id].most_common())
            faults = ", ".join(self.health[sensor_id].active_faults) or "none"
            print(f"{sensor_id:<{self.width}}  readings {count} ({count / seconds:.1f}/s)  "
                  f"errors {errors or 'none'}  faults {faults}", file=self.out)
        self.out.flush()
        return 1 if silent else 0


def run(args: argparse.Namespace) -> int:
    config = load_edge_config(args.config)
    known = {s.id: s for s in config.sensors}
    unknown = [s for s in args.sensor if s not in known]
    if unknown:
        raise ConfigError([(str(args.config), "--sensor", f"no sensor {u!r}; configured: "
                            f"{', '.join(known) or 'none'}") for u in unknown])
    chosen = [known[s] for s in args.sensor] if args.sensor else list(config.sensors)
    if not chosen:
        raise ConfigError([(str(args.config), "sensors", "no sensor is configured")])
    if args.seconds <= 0:
        raise ConfigError([("(command line)", "--seconds", "must be positive")])
    if args.maintenance is not None:
        seconds = _duration(args.maintenance)
        if not mark_maintenance(config, time.time() + seconds, args.comment, sys.stdout):
            return 1  # the agent runs and holds the ports: stop it, then probe again
    return Probe(config, chosen, sys.stdout).run(args.seconds)


def _duration(text: str) -> float:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    try:
        seconds = float(text[:-1]) * units[text[-1]]
    except (ValueError, KeyError, IndexError):
        seconds = -1.0
    if not 0 < seconds <= 86400 or seconds != seconds:
        raise ConfigError([("(command line)", "--maintenance",
                            f"{text!r} is not a duration like 30m or 2h (at most 1d)")])
    return seconds


def mark_maintenance(config: EdgeConfig, until: float, comment: str, out: TextIO) -> bool:
    """Put the board in maintenance until ``until``: the mark file for the agent, and the
    hub told. False when the agent runs (it tells the hub; the technician must stop it to
    free the ports)."""
    from edge import maintenance
    from edge.board_state import tool_state_dir
    from lifeline import wire

    state_dir = tool_state_dir(config)
    path = maintenance.write_mark(state_dir, maintenance.Mark(until, comment))
    device = config.device.id
    print(f"{device}: in maintenance until {wire.format_ts(until)} ({path})", file=out)
    if maintenance.agent_running(state_dir):
        print(f"the running agent tells the hub within a second. It holds the ports: stop it "
              f"now (sudo systemctl stop lifeline-edge); its goodbye carries the mark, so the "
              f"hub files the outage as maintenance, not a device incident. Then run probe "
              f"again, and start the agent when done. The mark ends by itself at "
              f"{wire.format_ts(until)} (or: lifeline-hub maintenance end {device})",
              file=out, flush=True)
        return False
    why = publish_maintenance(config, until, comment)
    if why is None:
        print("the hub is told (retained status, offline, in maintenance)", file=out, flush=True)
    else:
        print(f"could not tell the hub ({why}): ask an operator for "
              f"`lifeline-hub maintenance start {device} --for ...`", file=out, flush=True)
    return True


def publish_maintenance(config: EdgeConfig, until: float, comment: str,
                        timeout_s: float = 5.0) -> str | None:
    """Publish the device's retained status (offline, in maintenance until ``until``) as the
    device, the agent not running; None when the broker took it, else why not.

    Same client id and persistent session as the agent (a broker with
    ``use_username_as_clientid`` allows no other): an ack waiting for the agent may reach
    us instead, and the agent then resends that alert, which the hub counts as a duplicate."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    from edge.mqtt_link import SESSION_EXPIRY_S
    from lifeline import wire
    from lifeline.mqtt_session import new_client

    device = config.device
    client = new_client(config.mqtt, config.mqtt.client_id or f"lifeline-edge-{device.id}")
    status = wire.Status(device=device.id, zone=device.zone, state="offline", ts=time.time(),
                         sensors=tuple(s.id for s in config.sensors), maintenance_until=until,
                         maintenance_comment=comment)
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.SessionExpiryInterval = SESSION_EXPIRY_S
    try:
        client.connect(config.mqtt.host, config.mqtt.port, keepalive=config.mqtt.keepalive,
                       clean_start=False, properties=props)
        client.loop_start()
        info = client.publish(wire.status_topic(device.id), wire.encode(status), qos=1,
                              retain=True)
        info.wait_for_publish(timeout=timeout_s)
        if not info.is_published():
            return f"the broker did not acknowledge within {timeout_s:g} s"
        return None
    except (OSError, RuntimeError, ValueError, mqtt.WebsocketConnectionError) as exc:
        return f"{config.mqtt.host}:{config.mqtt.port}: {exc}"
    finally:
        client.disconnect()
        client.loop_stop()
