"""``lifeline-edge``: the edge agent's command line.

Subcommands come from one table; each has ``add_arguments(parser)`` and
``run(args) -> exit code``. Exit codes: 0 ok, 1 runtime failure, 2 usage or
configuration error. Logging is configured here, once (lifeline/logsetup.py).
``--config`` (default ``$LIFELINE_EDGE_CONFIG``, else /etc/lifeline/edge.toml) and
``--log-level`` are accepted before and after the command (lifeline/clicommon.py).
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import importlib
import json
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lifeline import mqtt_security
from lifeline.clicommon import (
    LOG_LEVELS,
    ConfigDefault,
    VersionAction,
    bash_completion,
    command_word,
    normalise_common,
)
from lifeline.errors import EXIT_RUNTIME, EXIT_USAGE, LifelineError
from lifeline.logsetup import configure_logging
from lifeline.tomlconfig import ConfigError

log = logging.getLogger(__name__)


def _add_run(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="path to edge.toml")


def _run(args: argparse.Namespace) -> int:
    from edge.agent import run_agent
    from edge.config import load_edge_config

    return run_agent(load_edge_config(args.config))


def _add_check(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", type=Path, help="path to edge.toml")
    parser.add_argument("--json", action="store_true", help="print the effective config as JSON")


def _check(args: argparse.Namespace) -> int:
    from edge.config import describe, load_edge_config
    from lifeline.kinds import kind_warning

    config = load_edge_config(args.config)
    effective = dataclasses.asdict(config)
    if args.json:
        print(json.dumps(effective, indent=2, default=str))
    else:
        print(f"{args.config}: ok: device {config.device.id} in zone {config.device.zone}, "
              f"{len(config.sensors)} sensor(s)")
        security = config.mqtt.security  # paths only: secrets are read when the agent connects
        print(f"  mqtt: {config.mqtt.host}:{config.mqtt.port}, {mqtt_security.describe(security)}")
        for warning in security.warnings():
            print(f"  warning: {warning}")
        for sensor in config.sensors:  # the effective settings, profiles applied
            print("\n".join(f"  {line}" for line in describe(sensor)))
        for sensor in config.sensors:
            if (unknown := kind_warning(sensor.kind)) is not None:
                print(f"  warning: sensors[{sensor.id!r}].kind: {unknown}")
    return 0


def _add_relearn(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, type=Path, help="path to edge.toml")
    parser.add_argument("sensor", metavar="SENSOR", help="id of the sensor whose model to reset")


def _relearn(args: argparse.Namespace) -> int:
    """Reset one sensor's detectors: drop them from the checkpoint and ask the agent to start
    them afresh (a file in <state_dir>/relearn.d/, read by a running agent within a second and
    by the next start otherwise)."""
    from edge.agent import RELEARN_DIR, state_dir_for
    from edge.checkpoint import forget
    from edge.config import load_edge_config

    config = load_edge_config(args.config)
    ids = [s.id for s in config.sensors]
    if args.sensor not in ids:
        close = difflib.get_close_matches(args.sensor, ids, n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        print(f"{args.config}: sensors: no sensor {args.sensor!r} (sensors: {', '.join(ids)}){hint}",
              file=sys.stderr)
        return 2
    state = state_dir_for(config)
    requests = state / RELEARN_DIR
    try:
        requests.mkdir(parents=True, exist_ok=True)
        (requests / args.sensor).write_text("relearn\n", encoding="utf-8")
        dropped = forget(state / "detectors.json", f"{args.sensor}/")
    except OSError as exc:
        print(f"lifeline-edge relearn: {exc}", file=sys.stderr)
        return 1
    print(f"{args.sensor}: dropped {dropped} detector checkpoint(s) from {state / 'detectors.json'}; "
          f"a running agent starts them afresh within a second (else the next start does)")
    return 0


def _lazy(module: str, attribute: str) -> Callable[..., Any]:
    def call(*args: Any) -> Any:
        return getattr(importlib.import_module(module), attribute)(*args)
    return call


# name -> (help, add_arguments, run)
COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None],
                          Callable[[argparse.Namespace], int]]] = {
    "run": ("run the agent: read sensors, detect, publish alerts", _add_run, _run),
    "check-config": ("validate edge.toml without opening ports", _add_check, _check),
    "replay": ("run a detector over a recorded CSV and print the alerts it would raise",
               _lazy("edge.replay", "add_arguments"), _lazy("edge.replay", "run")),
    "probe": ("open the configured sensors and print live decoded readings, errors and health",
              _lazy("edge.probe", "add_arguments"), _lazy("edge.probe", "run")),
    "status": ("a live view of the running agent: broker, outbox, each sensor's last reading, "
               "health and detector state", _lazy("edge.board_state", "add_arguments"),
               _lazy("edge.board_state", "run")),
    "relearn": ("reset one sensor's learned model (after a repair or a replaced pump)",
                _add_relearn, _relearn),
    "completion": ("print a shell completion script: completion bash",
                   lambda parser: _add_completion(parser), lambda args: _completion(args)),
}


EDGE_CONFIG = ConfigDefault("LIFELINE_EDGE_CONFIG", "/etc/lifeline/edge.toml")
# commands whose --config is edge.toml, required (else the default); replay's is optional
WITH_CONFIG = ("run", "check-config", "probe", "status")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The full parser; only ``command``'s arguments are built (others import lazily).
    ``--config`` and ``--log-level`` are accepted before the command and after it."""
    parser = argparse.ArgumentParser(
        prog="lifeline-edge", description="Lifeline edge agent: read sensors, detect, publish alerts.")
    parser.add_argument("--version", action=VersionAction, help="print the version and exit")
    parser.add_argument("--config", type=Path, default=argparse.SUPPRESS, metavar="FILE",
                        help=EDGE_CONFIG.help("edge.toml") + " (run, check-config, probe, status)")
    parser.add_argument("--log-level", default=argparse.SUPPRESS, choices=LOG_LEVELS,
                        help="default: INFO")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (help_text, add_arguments, _) in COMMANDS.items():
        subparser = sub.add_parser(name, help=help_text, description=help_text)
        if command in (None, name):
            add_arguments(subparser)
            normalise_common(subparser, EDGE_CONFIG if name in WITH_CONFIG else None,
                             "edge.toml")
    return parser


def _add_completion(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("shell", choices=["bash"], help="the shell (bash)")


def _completion(args: argparse.Namespace) -> int:
    print(bash_completion("lifeline-edge", build_parser()), end="")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    chosen = command_word(argv, COMMANDS)
    try:
        args = build_parser(chosen or "run").parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2), already printed by argparse
        return exc.code if isinstance(exc.code, int) else 2
    configure_logging(getattr(args, "log_level", "INFO"), sys.stderr)
    if args.command in WITH_CONFIG:
        path, how = EDGE_CONFIG.resolve(args, os.environ)
        if how != "--config" and not path.exists():
            print(f"lifeline-edge {args.command}: no --config given, and {path} ({how}) does "
                  f"not exist; pass --config FILE or set ${EDGE_CONFIG.variable}",
                  file=sys.stderr)
            return 2
        args.config = path
    try:
        code = COMMANDS[args.command][2](args)
        sys.stdout.flush()  # here, not at exit: a reader that left early is handled below
        return code
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    except LifelineError as exc:  # any other error of ours that reached here: a runtime failure
        print(f"lifeline-edge {args.command}: {exc}", file=sys.stderr)
        return EXIT_RUNTIME
    except KeyboardInterrupt:
        return 0
    except BrokenPipeError:  # `check-config edge.toml | head -1`: the reader left early
        # Python's "Note on SIGPIPE": point stdout at /dev/null, so the flush at exit
        # does not fail again over what is still buffered.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
