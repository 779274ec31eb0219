"""``lifeline-edge status``: a technician's live view of one board, from the running agent.

The agent writes ``board.json`` every ``EVERY_S`` seconds (atomically: a
temporary file renamed over the old one, so a reader never sees half of it): its broker
connection, outbox depth, maintenance mark, and per sensor the last reading of each
channel, health faults and counters, and each channel's detector state. ``status``
reads that file; it opens no port and no broker connection, so it works beside the
running agent, which keeps the ports. The file is the agent's own account: when its
``written_at`` is older than ``STALE_S`` (or no agent holds ``agent.lock``) the agent is
not running and ``status`` says so (exit 1). Writing costs one small JSON file every
two seconds, in systemd's runtime directory (``/run/lifeline-edge``, a tmpfs: no wear on
an SD card) under the shipped unit, else in the state directory.

The broker's view is the device's retained status (docs/edge.md):
``mosquitto_sub -t lifeline/v1/DEVICE/status -v`` (with the broker's TLS options).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lifeline import wire

if TYPE_CHECKING:
    from edge.agent import Agent
    from edge.config import EdgeConfig

__all__ = ["BOARD_FILE", "EVERY_S", "add_arguments", "board_dir", "find", "read", "run",
           "snapshot", "tool_state_dir", "write"]

BOARD_FILE = "board.json"
EVERY_S = 2.0
STALE_S = 10.0
SYSTEMD_STATE_DIR = Path("/var/lib/lifeline-edge")  # the unit's StateDirectory=lifeline-edge
SYSTEMD_RUNTIME_DIR = Path("/run/lifeline-edge")  # the unit's RuntimeDirectory (a tmpfs)


def board_dir(state_dir: Path) -> Path:
    """Where the agent writes ``board.json``: systemd's $RUNTIME_DIRECTORY (a tmpfs: a
    rewrite every two seconds must not wear a board's SD card), else the state directory."""
    runtime = os.environ.get("RUNTIME_DIRECTORY")
    return Path(runtime.split(":")[0]) if runtime else state_dir


def tool_state_dir(config: EdgeConfig) -> Path:
    """The state directory the agent uses, as seen from a technician's shell: ``[device]
    state_dir``, else $STATE_DIRECTORY, else the systemd unit's ``/var/lib/lifeline-edge``
    when it exists (the service's directory; a shell has no $STATE_DIRECTORY), else the
    agent's per-user default."""
    from edge.agent import state_dir_for

    if (config.device.state_dir is None and not os.environ.get("STATE_DIRECTORY")
            and SYSTEMD_STATE_DIR.is_dir()):
        return SYSTEMD_STATE_DIR
    return state_dir_for(config)


def _time(ts: float | None) -> str | None:
    return None if ts is None else wire.format_ts(ts)


def snapshot(agent: Agent, now: float) -> dict[str, Any]:
    """What the agent knows right now, as the JSON ``status --json`` prints."""
    link = agent.link
    mark = link.maintenance
    sensors = []
    for runtime in agent.sensors.values():
        config = runtime.config
        channels = []
        for pipeline in runtime.channels:
            last = pipeline.recent[-1] if pipeline.recent else None
            decider = pipeline.decider
            channels.append({
                "channel": pipeline.channel.name, "unit": pipeline.channel.unit,
                "value": None if last is None else last[0], "ts": _time(last and last[1]),
                "detector": pipeline.detector.name, "warm": pipeline.detector.warm,
                "score": round(pipeline.last_score, 4), "alarming": pipeline.alarming,
                "limit_alarm": decider.limit_active,
                "anomaly_since": _time(decider.anomaly_since),
                "accepted_as_normal": pipeline.accepted,
            })
        sensors.append({
            "sensor": config.id, "kind": config.kind, "driver": config.driver,
            "port": config.port, "readings": runtime.readings,
            "faults": runtime.health.active_faults,
            "errors": dict(runtime.health.counters), "channels": channels,
        })
    return {
        "device": agent.config.device.id, "zone": agent.config.device.zone,
        "written_at": wire.format_ts(now), "pid": os.getpid(), "version": link.version,
        "broker": {"host": agent.config.mqtt.host, "port": agent.config.mqtt.port,
                   "connected": link.connected.is_set(),
                   "connects": link.counters.get("connects", 0),
                   "connect_failures": link.counters.get("connect_failures", 0),
                   "session_takeovers": link.counters.get("session_takeovers", 0),
                   "published": link.counters.get("published", 0)},
        "outbox_depth": agent.outbox.depth,
        "maintenance": None if mark is None else {"until": wire.format_ts(mark[0]),
                                                  "comment": mark[1]},
        "counters": {**agent.counters, **agent.delivery.counters},
        "sensors": sensors,
    }


def write(state_dir: Path, board: dict[str, Any]) -> None:
    """Replace ``board.json`` atomically."""
    path = state_dir / BOARD_FILE
    temporary = path.with_name(f".{BOARD_FILE}.{os.getpid()}")
    temporary.write_text(json.dumps(board, allow_nan=False) + "\n", encoding="utf-8")
    os.replace(temporary, path)


def find(config: EdgeConfig, state_dir: Path) -> tuple[Path, dict[str, Any]] | None:
    """This device's newest ``board.json``: in $RUNTIME_DIRECTORY, the service's
    ``/run/lifeline-edge`` or the state directory (a record of another device is not it)."""
    places = [board_dir(state_dir), SYSTEMD_RUNTIME_DIR, state_dir]
    found = [(place, board) for place in dict.fromkeys(places)
             if (board := read(place)) is not None and board.get("device") == config.device.id]
    if not found:
        return None
    return max(found, key=lambda pair: wire.parse_ts(str(pair[1]["written_at"])))


def read(state_dir: Path) -> dict[str, Any] | None:
    """The agent's last ``board.json``; None when there is none, or none this version can
    read (no ``written_at`` time)."""
    try:
        data = json.loads((state_dir / BOARD_FILE).read_text(encoding="utf-8"))
        wire.parse_ts(str(data["written_at"]))
    except (OSError, ValueError, KeyError, TypeError, OverflowError):
        return None
    return data if isinstance(data, dict) else None


# -- the command -------------------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, type=Path, help="path to edge.toml")
    parser.add_argument("--json", action="store_true", help="print the agent's JSON as it is")


def run(args: argparse.Namespace) -> int:
    from edge.config import load_edge_config
    from edge.maintenance import agent_running

    config = load_edge_config(args.config)
    state_dir = tool_state_dir(config)
    located = find(config, state_dir)
    if located is None:
        print(f"lifeline-edge status: no {BOARD_FILE} of {config.device.id} in "
              f"{board_dir(state_dir)} or {state_dir}: its agent has not run with this state "
              "directory (is [device] state_dir the service's?)", file=sys.stderr)
        return 1
    board = located[1]
    age = time.time() - wire.parse_ts(str(board.get("written_at")))
    live = age <= STALE_S and agent_running(state_dir)
    if args.json:
        print(json.dumps({**board, "running": live, "age_s": round(age, 1)}, indent=2))
    else:
        print("\n".join(render(board, age, live)))
    return 0 if live else 1


def shown(text: str) -> str:
    """``text`` with control characters shown (``\x1b``), not obeyed by the terminal: a
    sensor's fault message quotes what the sensor sent."""
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in str(text))


def render(board: dict[str, Any], age: float, live: bool) -> list[str]:
    """The human view of ``board.json``."""
    broker = board["broker"]
    lines = [f"{board['device']} (zone {board['zone']}, lifeline-edge {board['version']}, "
             f"pid {board['pid']}): "
             + (f"running, as of {age:.0f} s ago" if live else
                f"NOT RUNNING (last word {age:.0f} s ago, at {board['written_at']})"),
             f"broker {broker['host']}:{broker['port']} "
             f"{'connected' if broker['connected'] else 'NOT CONNECTED'} "
             f"(connects {broker['connects']}, failures {broker['connect_failures']}, "
             f"published {broker['published']}); outbox {board['outbox_depth']} alert(s) "
             "waiting for the hub"]
    if board.get("maintenance"):
        mark = board["maintenance"]
        lines.append(f"in maintenance until {mark['until']}: {shown(mark['comment'])}")
    for sensor in board["sensors"]:
        faults = "; ".join(f"{k}: {shown(v)}" for k, v in sensor["faults"].items()) or "none"
        errors = ", ".join(f"{k}={v}" for k, v in sensor["errors"].items()) or "none"
        lines.append(f"{sensor['sensor']} ({sensor['kind']}, {sensor['driver']} on "
                     f"{sensor['port']}): {sensor['readings']} readings; faults {faults}; "
                     f"errors {errors}")
        for ch in sensor["channels"]:
            value = "no reading yet" if ch["value"] is None else (
                f"{ch['value']:g}{' ' + ch['unit'] if ch['unit'] else ''} at "
                f"{ch['ts'][11:23]}")
            state = ("ALARM (limit)" if ch["limit_alarm"] else
                     f"ALARM (anomaly since {ch['anomaly_since'][11:19]})" if ch["anomaly_since"]
                     else "alarm" if ch["alarming"] else "normal")
            lines.append(f"  {ch['channel']}: {value}; {ch['detector']} "
                         f"{'warm' if ch['warm'] else 'warming up'}, score {ch['score']:.2f}, "
                         f"{state}")
    return lines
