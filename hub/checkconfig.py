"""``lifeline-hub check-config``: validate hub.toml and say what the hub would run with.

Like the edge's: problems are ``file: key: problem`` lines and exit status 2 (the
caller prints the ConfigError); a valid file prints one summary line, then what it
would warn about at start -- plain MQTT, no device registry, and a rule naming a kind
no edge sends (``signature = ["water.presure", ...]`` silently never matches).
"""

from __future__ import annotations

import dataclasses
import difflib
import json

from hub.config import HubConfig
from lifeline import mqtt_security
from lifeline.kinds import KNOWN_KINDS

__all__ = ["check_config", "rule_warnings", "warnings"]


def rule_warnings(config: HubConfig) -> list[str]:
    """One sentence per rule kind (signature, escalate_rate) that names no known kind."""
    found = []
    for family, rule in sorted(config.fusion.rules.items()):
        named = [("signature", k) for k in rule.signature]
        named += [("escalate_rate", k) for k, _ in rule.escalate_rate]
        for key, kind in named:
            if kind in KNOWN_KINDS:
                continue
            close = difflib.get_close_matches(kind, KNOWN_KINDS, n=1, cutoff=0.75)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            found.append(f"rules.{family}.{key}: {kind!r} is not a known kind{hint}; only "
                         "alerts of exactly that kind match it")
    return found


def warnings(config: HubConfig) -> list[str]:
    found = list(config.mqtt.security.warnings())
    if config.security.registry is None:
        found.append("no device registry ([security] registry): messages from any device the "
                     "broker admits are accepted")
    elif not config.security.registry.exists():
        found.append(f"device registry {config.security.registry} does not exist yet: every "
                     "device's messages are refused until `lifeline-hub provision-device` "
                     "writes it")
    return found + rule_warnings(config) + board_warnings(config)


def board_warnings(config: HubConfig) -> list[str]:
    """What would keep the board from being usable as configured."""
    from lifeline.listen import is_loopback

    board, found = config.board, []
    if board.users is not None and not board.users.exists():
        found.append(f"board operators file {board.users} does not exist yet: the board is "
                     "read-only until `lifeline-hub board-user add NAME` writes it")
    if not is_loopback(board.listen[0]) and not board.allowed_hosts:
        found.append(f"board.listen {board.listen[0]} is not loopback but board.allowed_hosts "
                     "is not set: browsers reaching it by a host name get 421")
    return found


def _service_lines(config: HubConfig) -> list[str]:
    board, metrics = config.board, config.metrics
    host = f"[{board.listen[0]}]" if ":" in board.listen[0] else board.listen[0]
    who = "read-only" if board.users is None else f"operators from {board.users}"
    lines = [f"  board: http://{host}:{board.listen[1]}/ ({who}; "
             f"{'served by run' if board.with_hub else 'lifeline-hub board'})"]
    where = [f"http://{metrics.listen[0]}:{metrics.listen[1]}/metrics"] if metrics.listen else []
    where += [f"textfile {metrics.textfile}"] if metrics.textfile else []
    lines.append(f"  metrics: {', '.join(where) if where else 'off (no [metrics])'}")
    return lines


def _registry_summary(config: HubConfig) -> str:
    if config.security.registry is None or not config.security.registry.exists():
        return "no registry"
    from hub.registry import load_registry

    registry = load_registry(config.security.registry)  # ConfigError: the caller prints it
    return f"registry {config.security.registry}: {len(registry.devices)} device(s)"


def check_config(config: HubConfig, as_json: bool) -> int:
    summary = _registry_summary(config)
    if as_json:
        effective = dataclasses.asdict(config)
        effective["fusion"]["topology"] = {
            "zones": {n: dataclasses.asdict(z) for n, z in config.fusion.topology.zones.items()},
            "positions": dict(config.fusion.topology.positions)}
        print(json.dumps(effective, indent=2, default=str))
        return 0
    topology = config.fusion.topology
    print(f"{config.source}: ok: store {config.store.path}, "
          f"{len(topology.zones)} zone(s), {len(config.fusion.rules)} rule table(s), "
          f"{len(config.routing.routes)} route(s); {summary}")
    print(f"  mqtt: {config.mqtt.host}:{config.mqtt.port}, "
          f"{mqtt_security.describe(config.mqtt.security)}")
    for line in _service_lines(config):
        print(line)
    for warning in warnings(config):
        print(f"  warning: {warning}")
    return 0
