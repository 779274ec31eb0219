"""``lifeline-hub``: the hub's command line.

Subcommands come from one table; each has ``add_arguments(parser)`` and
``run(args) -> exit code``. Only the chosen subcommand's arguments are built,
and each subcommand imports what it needs when it runs, so the operator's desk
(``incidents``, ``silence``, ``status``) starts without paho, ssl, cryptography,
fusion or the service (tests/unit/test_hub_cli_imports.py). Exit codes: 0 ok, 1
runtime failure, 2 usage or configuration error. Logging is configured here, once,
on stderr (lifeline/logsetup.py: journald-shaped under systemd); stdout is for the
tables, lines and JSON the subcommands print. ``--config`` (default
``$LIFELINE_HUB_CONFIG``, else /etc/lifeline/hub.toml) and ``--log-level`` are accepted
before and after the command (lifeline/clicommon.py).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lifeline.clicommon import (
    LOG_LEVELS,
    ConfigDefault,
    add_top_level,
    bash_completion,
    command_word,
    normalise_common,
)
from lifeline.errors import HubError
from lifeline.logsetup import configure_logging

if TYPE_CHECKING:
    from hub.config import HubConfig

log = logging.getLogger(__name__)


class UsageError(HubError):
    """A bad command line found after parsing (a name the hub does not know, a bad
    duration): printed after ``lifeline-hub COMMAND:``, exit status 2."""


def _common(parser: argparse.ArgumentParser, log_level: str) -> None:
    parser.add_argument("--config", required=True, type=Path, help="path to hub.toml")
    parser.add_argument("--log-level", default=log_level, choices=LOG_LEVELS,
                        help=f"default: {log_level}")


def _add_run(parser: argparse.ArgumentParser) -> None:
    _common(parser, "INFO")


def _run(args: argparse.Namespace, config: HubConfig) -> int:
    from hub.service.run import run_hub  # paho is only needed here

    return run_hub(config)


def _sub_common(parser: argparse.ArgumentParser) -> None:
    """--config and --log-level also after a sub-action (``incidents show 3 --config ...``)."""
    parser.add_argument("--config", type=Path, default=argparse.SUPPRESS, help="path to hub.toml")
    parser.add_argument("--log-level", choices=LOG_LEVELS, default=argparse.SUPPRESS)


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of incidents (1 or more)")
    return int(text)


def _add_limit(parser: argparse.ArgumentParser, default: object) -> None:
    """``--limit N`` / ``--all`` (on ``incidents`` and again on ``incidents list``)."""
    from hub.desk.commands import TABLE_LIMIT

    group = parser.add_mutually_exclusive_group()
    group.add_argument("--limit", type=_positive, metavar="N", default=default,
                       help=f"only the newest N (default: {TABLE_LIMIT:,} in the table, "
                       "every incident with --json)")
    group.add_argument("--all", action="store_true", default=default or False,
                       help="every incident, also in the table")


def _add_incidents(parser: argparse.ArgumentParser) -> None:
    from hub.core.incident import OUTCOMES, IncidentStatus

    parser.add_argument("--config", type=Path, default=None, help="path to hub.toml")
    parser.add_argument("--log-level", default="WARNING", choices=LOG_LEVELS,
                        help="default: WARNING")
    parser.add_argument("--json", action="store_true",
                        help="print a JSON array of incident objects (newest first)")
    parser.add_argument("--status", choices=[s.value for s in IncidentStatus],
                        help="only incidents in this state (default: all but merged)")
    _add_limit(parser, None)
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    listing = sub.add_parser("list", help="list incidents (the default)")
    listing.add_argument("--json", action="store_true", default=argparse.SUPPRESS)
    listing.add_argument("--status", choices=[s.value for s in IncidentStatus],
                         default=argparse.SUPPRESS)
    _add_limit(listing, argparse.SUPPRESS)
    show = sub.add_parser("show", help="one incident: facts, timeline, sensor sparklines")
    show.add_argument("id", help="INC-12 or 12")
    show.add_argument("--json", action="store_true", default=argparse.SUPPRESS)
    for name, help_text in (("ack", "acknowledge: someone is on it"),
                            ("assign", "give the incident to a person or team"),
                            ("comment", "add a note to the timeline"),
                            ("resolve", "close it (also a latched red one)")):
        action = sub.add_parser(name, help=help_text, description=help_text)
        action.add_argument("id", help="INC-12 or 12")
        if name == "assign":
            action.add_argument("who", nargs="?", default="",
                                help="person or team (optional with --owner)")
            action.add_argument("--owner", metavar="DEPARTMENT", default="",
                                help="hand the incident to this department ([[owners]] in "
                                "hub.toml); its deadlines escalate along that department's "
                                "chain")
        if name == "comment":
            action.add_argument("text", help="the note")
        else:
            action.add_argument("--why", required=name == "resolve", default="",
                                help="reason, recorded in the timeline"
                                + (" (required)" if name == "resolve" else ""))
        if name == "resolve":
            action.add_argument("--outcome", choices=OUTCOMES, default=None,
                                help="what it was: a real event, a false alarm, maintenance "
                                "work or a test (counted by `lifeline-hub report`)")
        action.add_argument("--by", help="who is acting (default: $LIFELINE_OPERATOR or "
                            "the login name)")
    for child in (listing, show, *(sub.choices[n] for n in ("ack", "assign", "comment",
                                                              "resolve"))):
        _sub_common(child)


def _incidents(args: argparse.Namespace, config: HubConfig) -> int:
    from hub.desk.commands import action_for, incident_action, incidents_list, incidents_show, operator

    action = args.action or "list"
    if action == "list":
        return incidents_list(config, args.json, args.status, limit=args.limit,
                              show_all=args.all)
    if action == "show":
        return incidents_show(config, args.id, args.json)
    if action == "assign" and not (args.who or args.owner):
        raise UsageError("name someone to assign the incident to (WHO), or a department "
                         "(--owner)")
    return incident_action(config, args.id, operator(args), action_for(args, config))


def _add_tail(parser: argparse.ArgumentParser) -> None:
    from lifeline.grades import GRADE_NAMES

    _common(parser, "WARNING")
    parser.add_argument("--json", action="store_true", help="print one JSON object per line")
    parser.add_argument("--from-start", action="store_true",
                        help="replay every stored event first, then follow")
    parser.add_argument("--since", metavar="DURATION",
                        help="replay this much recent history first (30s, 10m, 2h), then follow")
    parser.add_argument("--no-follow", action="store_true",
                        help="print what is stored (with --from-start or --since) and exit "
                        "instead of following")
    parser.add_argument("--zone", help="only this zone (or zones under it)")
    parser.add_argument("--hazard", help="only this hazard (water, gas, structure, maintenance, "
                        "device)")
    parser.add_argument("--min-grade", choices=GRADE_NAMES, default="blue",
                        help="only lines of this grade or higher")
    parser.add_argument("--device", help="only lines about this device")
    parser.add_argument("--no-fold", action="store_true",
                        help="print every alert even in a storm (default: fold after 3 alerts "
                        "per incident in 10 s)")
    parser.add_argument("--force", action="store_true",
                        help="accept a --zone or --device the hub has not heard of yet")


def _tail(args: argparse.Namespace, config: HubConfig) -> int:
    from hub.core.silences import parse_duration
    from hub.desk.known import check_filters, known_to_hub
    from hub.desk.tailing import TailFilter, follow
    from lifeline.grades import Grade

    since = None
    if args.since:
        try:
            since = parse_duration(args.since)
        except ValueError as exc:
            raise UsageError(f"--since: {exc}") from exc
    problems = check_filters(known_to_hub(config), hazard=args.hazard, zone=args.zone,
                             device=args.device, force=args.force)
    if problems:
        raise UsageError("\n".join(problems))
    wanted = TailFilter(zone=args.zone, hazard=args.hazard,
                        min_grade=Grade.parse(args.min_grade), device=args.device)
    return follow(config, as_json=args.json, from_start=args.from_start, since_s=since,
                  wanted=wanted, fold=not args.no_fold, keep_following=not args.no_follow)


def _add_silence(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, default=None, help="path to hub.toml")
    parser.add_argument("--log-level", default="WARNING", choices=LOG_LEVELS)
    sub = parser.add_subparsers(dest="silence_action", metavar="ACTION", required=True)
    add = sub.add_parser("add", help="stop notifying matching incident changes for a while")
    add.add_argument("--for", dest="duration", required=True, help="how long: 30m, 2h, 1d")
    add.add_argument("--comment", required=True, help="why (required)")
    for key in ("zone", "device", "sensor", "hazard"):
        add.add_argument(f"--{key}", help=f"match this {key}")
    add.add_argument("--incident", help="only this incident; the silence ends when it resolves")
    add.add_argument("--by", help="who (default: $LIFELINE_OPERATOR or the login name)")
    add.add_argument("--force", action="store_true",
                     help="accept a --zone or --device the hub has not heard of yet")
    listing = sub.add_parser("list", help="active silences (--all: ended ones too)")
    listing.add_argument("--all", action="store_true")
    listing.add_argument("--json", action="store_true")
    expire = sub.add_parser("expire", help="end a silence now")
    expire.add_argument("id", type=int)
    expire.add_argument("--by", help="who (default: $LIFELINE_OPERATOR or the login name)")
    for child in (add, listing, expire):
        _sub_common(child)


def _silence(args: argparse.Namespace, config: HubConfig) -> int:
    from hub.desk.commands import DeskError, parse_incident_id, silence_command

    if args.silence_action == "add":
        _check_silence(args, config)
        if args.incident:
            from hub.desk.known import incident_problem

            problem = incident_problem(config, parse_incident_id(args.incident))
            if problem:  # like `incidents show INC-99`: the request cannot be carried out
                raise DeskError(problem)
    return silence_command(config, args)


def _check_silence(args: argparse.Namespace, config: HubConfig) -> None:
    """What ``silence add`` is told to match must exist, or be forced (a zone or device not
    seen yet); a typo is a usage error with a did-you-mean, before anything is written."""
    from hub.core.silences import parse_duration
    from hub.desk.commands import DeskError, parse_incident_id
    from hub.desk.known import check_filters, known_to_hub

    problems = []
    try:
        parse_duration(args.duration)
    except ValueError as exc:
        problems.append(f"--for: {exc}")
    if args.incident:
        try:
            parse_incident_id(args.incident)
        except DeskError as exc:
            problems.append(f"--incident: {exc}")
    if not (args.comment or "").strip():
        problems.append("--comment: say why (it is shown with the silence)")
    if not any((args.zone, args.device, args.sensor, args.hazard, args.incident)):
        problems.append("say what to silence: --zone, --device, --sensor, --hazard or "
                        "--incident")
    problems += check_filters(known_to_hub(config), hazard=args.hazard, zone=args.zone,
                              device=args.device, force=args.force)
    if problems:
        raise UsageError("\n".join(problems))


def _add_maintenance(parser: argparse.ArgumentParser) -> None:
    from hub.desk.maintenance import add_maintenance_arguments

    parser.add_argument("--config", type=Path, default=None, help="path to hub.toml")
    parser.add_argument("--log-level", default="WARNING", choices=LOG_LEVELS)
    sub = parser.add_subparsers(dest="maintenance_action", metavar="ACTION", required=True)
    for child in add_maintenance_arguments(sub):
        _sub_common(child)


def _maintenance(args: argparse.Namespace, config: HubConfig) -> int:
    from hub.desk.known import check_filters, known_to_hub
    from hub.desk.maintenance import duration_problem, maintenance_command

    if args.maintenance_action == "start":
        problems = [p for p in (duration_problem(args.duration),) if p]
        if not args.comment.strip():
            problems.append("--comment: say why (it is shown with the mark)")
        problems += [p.replace("--device ", "DEVICE ", 1) for p in check_filters(
            known_to_hub(config), device=args.device, force=args.force)]
        if problems:
            raise UsageError("\n".join(problems))
    return maintenance_command(config, args)


def _add_status(parser: argparse.ArgumentParser) -> None:
    _common(parser, "WARNING")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def _status(args: argparse.Namespace, config: HubConfig) -> int:
    from hub.desk.commands import status

    return status(config, args.json)


def _add_report(parser: argparse.ArgumentParser) -> None:
    _common(parser, "WARNING")
    parser.add_argument("--since", metavar="DURATION", default="30d",
                        help="incidents opened this long ago or later (default 30d)")
    parser.add_argument("--by", choices=("owner", "hazard", "zone", "detector"),
                        default="owner",
                        help="one row per owner (default), hazard or zone; detector: the "
                        "operators' outcomes per alert reason (limit, anomaly ...), with "
                        "precision")
    shape = parser.add_mutually_exclusive_group()
    shape.add_argument("--json", action="store_true", help="print one JSON object")
    shape.add_argument("--csv", action="store_true", help="print CSV (times in seconds)")


def _report(args: argparse.Namespace, config: HubConfig) -> int:
    from hub.core.silences import parse_duration
    from hub.desk.report import report

    try:
        since = parse_duration(args.since)
    except ValueError as exc:
        raise UsageError(f"--since: {exc}") from exc
    return report(config, since, args.by, args.json, args.csv)


def _add_report_citizen(parser: argparse.ArgumentParser) -> None:
    _common(parser, "WARNING")
    parser.add_argument("--zone", required=True, help="the zone the report is about")
    parser.add_argument("--hazard", required=True, help="water, gas or structure")
    parser.add_argument("--text", required=True, help="what the person reported")
    parser.add_argument("--contact", default="",
                        help="how to reach them (personal data: kept apart, shown only to "
                        "operators, never routed, deleted with the incident)")
    parser.add_argument("--by", help="who took the report (default: $LIFELINE_OPERATOR or "
                        "the login name)")


def _report_citizen(args: argparse.Namespace, config: HubConfig) -> int:
    from hub.desk.citizen import run_report_citizen
    from hub.desk.commands import operator

    return run_report_citizen(config, args.zone, args.hazard, args.text, args.contact,
                              operator(args))


def _add_check(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the effective config as JSON")


def _check(args: argparse.Namespace, config: HubConfig) -> int:
    from hub.checkconfig import check_config

    return check_config(config, args.json)


def _add_migrate(parser: argparse.ArgumentParser) -> None:
    _common(parser, "WARNING")


def _migrate(args: argparse.Namespace, config: HubConfig) -> int:
    """Create the store, or upgrade its schema, and say what was done (the hub does the
    same at every start; this is for doing it before, or by hand)."""
    from hub.store import Store
    from hub.store.schema import SCHEMA_VERSION

    store = Store.writer(config.store)
    try:
        before = store.migrated_from
    finally:
        store.close()
    what = ("created" if before == 0 else "already up to date" if before == SCHEMA_VERSION
            else f"upgraded from schema {before}")
    print(f"store {config.store.location}: schema {SCHEMA_VERSION} ({what})")
    return 0


def _add_completion(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("shell", choices=["bash"], help="the shell (bash)")


def _completion(args: argparse.Namespace) -> int:
    from hub.config import HAZARDS

    print(bash_completion("lifeline-hub", build_parser(), {"--hazard": HAZARDS}), end="")
    return 0


def _lazy(module: str, attribute: str) -> Callable[..., Any]:
    """``module.attribute``, imported on the first call (hub/desk/provision.py needs the
    cryptography package, which costs more than the whole desk command)."""
    def call(*args: Any) -> Any:
        return getattr(importlib.import_module(module), attribute)(*args)
    return call


# name -> (help, add_arguments, run)
COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None],
                          Callable[[argparse.Namespace, HubConfig], int]]] = {
    "run": ("run the hub: receive alerts, store them, fuse them into incidents",
            _add_run, _run),
    "incidents": ("list incidents (table or --json); show, ack, assign, comment, resolve one",
                  _add_incidents, _incidents),
    "tail": ("follow alerts and incident changes live until Ctrl-C", _add_tail, _tail),
    # hub/desk/provision.py (imported only for these: it needs the cryptography package)
    "provision-device": ("create a device's credentials, register it, print its edge.toml",
                         _lazy("hub.desk.provision", "add_provision_arguments"),
                         _lazy("hub.desk.provision", "run_provision")),
    "revoke-device": ("revoke a device: registry, broker password, certificate revocation list",
                      _lazy("hub.desk.provision", "add_revoke_arguments"),
                      _lazy("hub.desk.provision", "run_revoke")),
    "provision-consumer": ("give a read-only consumer (dashboard, pager) access to the incident "
                           "stream", _lazy("hub.desk.provision", "add_consumer_arguments"),
                           _lazy("hub.desk.provision", "run_consumer")),
    "make-ca": ("create the project CA and the broker's and the hub's certificates",
                _lazy("hub.desk.provision", "add_make_ca_arguments"),
                _lazy("hub.desk.provision", "run_make_ca")),
    # hub/board/ (imported only for these)
    "board": ("serve the live incident board in a browser (read-only unless logged in)",
              _lazy("hub.board.commands", "add_board_arguments"),
              _lazy("hub.board.commands", "run_board")),
    "board-user": ("add, remove or list the board's operators (scrypt hashes in [board] users)",
                   _lazy("hub.board.commands", "add_user_arguments"),
                   _lazy("hub.board.commands", "run_board_user")),
    "silence": ("silences: add, list, expire (matching changes are stored, not notified)",
                _add_silence, _silence),
    "maintenance": ("maintenance: start, end, list (a device's outage and sensor faults are "
                    "maintenance work, not a device incident)", _add_maintenance, _maintenance),
    "status": ("devices with last seen, online/offline, alert rates; store size", _add_status,
               _status),
    "report": ("the response report: time to acknowledge and resolve, missed deadlines, "
               "escalations, false alarms, per owner, hazard or zone", _add_report, _report),
    "report-citizen": ("record a resident's report: joins the open incident of its zone and "
                       "hazard, or opens one", _add_report_citizen, _report_citizen),
    "check-config": ("validate hub.toml (and the device registry) without starting the hub",
                     _add_check, _check),
    "migrate": ("create the store or upgrade its schema (the hub also does at start)",
                _add_migrate, _migrate),
    "completion": ("print a shell completion script: completion bash", _add_completion,
                   lambda args, config: _completion(args)),
}


def _terminal_columns() -> int:
    """``shutil.get_terminal_size().columns``, without importing shutil (and with it bz2,
    lzma and fnmatch): argparse does, for its help width, in every command's start-up."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


class _HelpFormatter(argparse.HelpFormatter):
    def __init__(self, prog: str) -> None:
        super().__init__(prog, width=_terminal_columns() - 2)


class _Parser(argparse.ArgumentParser):
    """argparse's parser with the help formatter above; the subcommands' parsers are of
    this class too (argparse makes them of their parent's)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)


HUB_CONFIG = ConfigDefault("LIFELINE_HUB_CONFIG", "/etc/lifeline/hub.toml")
# long-running commands: they log at INFO unless --log-level says otherwise
SERVICES = ("run", "board")
# commands that take no configuration
NO_CONFIG = ("completion",)
# commands that take --config for symmetry but never read it (make-ca writes what it names)
CONFIG_NOT_READ = ("make-ca",)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The full parser, or with ``command`` only that subcommand's (the others would only be
    named in a usage error, which the command's own parser gives as before). ``--config``
    and ``--log-level`` are accepted before the command, after it and after a sub-action."""
    parser = _Parser(
        prog="lifeline-hub",
        description="Lifeline hub: fuse alerts from edge devices into incidents for operators.")
    add_top_level(parser, HUB_CONFIG, "hub.toml")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (help_text, add_arguments, _) in COMMANDS.items():
        if command in (None, name):
            child = sub.add_parser(name, help=help_text, description=help_text)
            add_arguments(child)
            config = None if name in NO_CONFIG else HUB_CONFIG
            for each in (child, *_actions_of(child)):
                normalise_common(each, config, "hub.toml")
    return parser


def _actions_of(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    return [p for a in parser._actions if isinstance(a, argparse._SubParsersAction)
            for p in a.choices.values()]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    chosen = command_word(argv, COMMANDS)
    try:
        args = build_parser(chosen).parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2), already printed by argparse
        return exc.code if isinstance(exc.code, int) else 2
    configure_logging(getattr(args, "log_level", None)
                      or ("INFO" if args.command in SERVICES else "WARNING"), sys.stderr)
    if args.command in NO_CONFIG:
        return _completion(args)
    if args.command in CONFIG_NOT_READ:  # make-ca comes before hub.toml's TLS files exist
        from hub.desk.provision import run_make_ca
        return run_make_ca(args, None)
    path, how = HUB_CONFIG.resolve(args, os.environ)
    if how != "--config" and not path.exists():
        print(f"lifeline-hub {args.command}: no --config given, and {path} ({how}) does not "
              f"exist; pass --config FILE or set ${HUB_CONFIG.variable}", file=sys.stderr)
        return 2
    args.config = path
    from hub.config import load_hub_config
    from hub.store import DatabaseError, StoreError
    from lifeline.errors import EXIT_RUNTIME, LifelineError
    from lifeline.tomlconfig import ConfigError

    try:
        config = load_hub_config(args.config)
        code = COMMANDS[args.command][2](args, config)
        sys.stdout.flush()  # here, not at exit: a reader that left early is handled below
        return code
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    except UsageError as exc:
        for line in str(exc).splitlines():
            print(f"lifeline-hub {args.command}: {line}", file=sys.stderr)
        return 2
    except (StoreError, DatabaseError) as exc:
        print(f"lifeline-hub: store error: {exc}", file=sys.stderr)
        return EXIT_RUNTIME
    except LifelineError as exc:  # DeskError and every other error of ours: a runtime failure
        print(f"lifeline-hub {args.command}: {exc}", file=sys.stderr)
        return EXIT_RUNTIME
    except KeyboardInterrupt:
        return 0
    except BrokenPipeError:  # `incidents --json | head`: the reader left early
        # Python's "Note on SIGPIPE": point stdout at /dev/null, so the flush at exit
        # does not fail again over what is still buffered.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
