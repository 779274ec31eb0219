"""``lifeline-hub``: the hub's command line.

Subcommands come from one table; each has ``add_arguments(parser)`` and
``run(args) -> exit code``. Exit codes: 0 ok, 1 runtime failure, 2 usage or
configuration error. Logging is configured here, once, on stderr; stdout is
for the tables, lines and JSON the subcommands print.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sqlite3
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from hub.config import HubConfig, load_hub_config
from hub.fusion import IncidentStatus
from hub.render import event_line, incident_table, use_colour
from hub.store import Store, StoreError, incident_json
from lifeline.tomlconfig import ConfigError

log = logging.getLogger(__name__)

TAIL_POLL_S = 0.05
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def _common(parser: argparse.ArgumentParser, log_level: str) -> None:
    parser.add_argument("--config", required=True, type=Path, help="path to hub.toml")
    parser.add_argument("--log-level", default=log_level, choices=LOG_LEVELS,
                        help=f"default: {log_level}")


def _add_run(parser: argparse.ArgumentParser) -> None:
    _common(parser, "INFO")


def _run(args: argparse.Namespace, config: HubConfig) -> int:
    from hub.service import run_hub  # paho is only needed here

    return run_hub(config)


def _add_incidents(parser: argparse.ArgumentParser) -> None:
    _common(parser, "WARNING")
    parser.add_argument("--json", action="store_true",
                        help="print a JSON array of incident objects (newest first)")
    parser.add_argument("--status", choices=[s.value for s in IncidentStatus],
                        help="only incidents in this state (default: all but merged)")


def _incidents(args: argparse.Namespace, config: HubConfig) -> int:
    store = Store.open_reader(config.store.path)
    try:
        found = store.incidents(args.status) if store is not None else []
    finally:
        if store is not None:
            store.close()
    if args.json:
        print(json.dumps([incident_json(i) for i in found], indent=2))
    else:
        print(incident_table(found, use_colour(sys.stdout)))
    return 0


def _add_tail(parser: argparse.ArgumentParser) -> None:
    _common(parser, "WARNING")
    parser.add_argument("--json", action="store_true", help="print one JSON object per line")
    parser.add_argument("--from-start", action="store_true",
                        help="replay every stored event first, then follow")


def _tail(args: argparse.Namespace, config: HubConfig) -> int:
    """Follow the events feed by polling the store; the hub may start before or after us."""
    signal.signal(signal.SIGTERM, _interrupt)
    colour = use_colour(sys.stdout)
    store, last = None, 0
    try:
        while True:
            if store is None:
                store = Store.open_reader(config.store.path)
                if store is not None and not args.from_start:
                    last = store.last_event_id()
            events = store.events_after(last) if store is not None else []
            for event in events:
                print(json.dumps(event.to_json()) if args.json
                      else event_line(event.at, event.payload, colour))
                last = event.id
            if events:
                sys.stdout.flush()
            else:
                time.sleep(TAIL_POLL_S)
    except BrokenPipeError:  # `tail | head`: the reader left, so do we
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    finally:
        if store is not None:
            store.close()


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


# name -> (help, add_arguments, run)
COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None],
                          Callable[[argparse.Namespace, HubConfig], int]]] = {
    "run": ("run the hub: receive alerts, store them, fuse them into incidents",
            _add_run, _run),
    "incidents": ("list incidents as a table, or as JSON with --json", _add_incidents,
                  _incidents),
    "tail": ("follow alerts and incident changes live until Ctrl-C", _add_tail, _tail),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lifeline-hub",
        description="Lifeline hub: fuse alerts from edge devices into incidents for operators.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (help_text, add_arguments, _) in COMMANDS.items():
        add_arguments(sub.add_parser(name, help=help_text, description=help_text))
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    except SystemExit as exc:  # --help (0) or a usage error (2), already printed by argparse
        return exc.code if isinstance(exc.code, int) else 2
    logging.basicConfig(level=args.log_level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        config = load_hub_config(args.config)
        return COMMANDS[args.command][2](args, config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    except (StoreError, sqlite3.Error) as exc:
        print(f"lifeline-hub: store error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
