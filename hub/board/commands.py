"""``lifeline-hub board`` and ``lifeline-hub board-user``: the CLI side of the web board."""

from __future__ import annotations

import argparse
import getpass
import logging
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from hub.config import HubConfig
from lifeline.clicommon import LOG_LEVELS
from lifeline.errors import HubError
from lifeline.listen import is_loopback, parse_listen

if TYPE_CHECKING:
    from hub.board.server import BoardServer

__all__ = ["add_board_arguments", "add_user_arguments", "run_board", "run_board_user",
           "serve_with_hub", "start_board"]

log = logging.getLogger(__name__)


class BoardError(HubError):
    """The board cannot start, or an operator cannot be added; the message says why."""


def add_board_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, type=Path, help="path to hub.toml")
    parser.add_argument("--log-level", default="INFO", choices=LOG_LEVELS, help="default: INFO")
    parser.add_argument("--listen", metavar="HOST:PORT",
                        help="address to serve on (default: [board] listen, 127.0.0.1:8080; "
                        "port 0 picks a free one)")
    parser.add_argument("--allow-remote", action="store_true",
                        help="accept a --listen address that is not loopback")


def _stop(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def run_board(args: argparse.Namespace, config: HubConfig) -> int:
    listen = config.board.listen
    if args.listen:
        try:
            listen = parse_listen(args.listen)
        except ValueError as exc:
            raise BoardError(f"--listen: {exc}") from exc
        if not is_loopback(listen[0]) and not args.allow_remote:
            raise BoardError(f"--listen: {listen[0]!r} is not a loopback address; add "
                             "--allow-remote to serve other machines (behind TLS: "
                             "docs/operators.md)")
    signal.signal(signal.SIGTERM, _stop)
    server, stop = start_board(config, listen)
    print(f"board: {server.url}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        stop()
    return 0


def start_board(config: HubConfig, listen: tuple[str, int] | None = None
                ) -> tuple[BoardServer, Callable[[], None]]:
    """A board server bound to ``listen`` (default ``[board] listen``) with its commit
    watcher running; the caller serves it (``serve_forever``) and calls the returned
    function to stop it."""
    from hub.board.app import BoardApp
    from hub.board.server import BoardServer

    listen = listen or config.board.listen
    app = BoardApp(config)
    try:
        server = BoardServer(app, listen)
    except OSError as exc:
        raise BoardError(f"cannot listen on {listen[0]}:{listen[1]}: {exc}") from exc
    watcher = threading.Thread(target=app.watch_commits, name="board-watch", daemon=True)
    watcher.start()
    mode = "read-only" if config.board.users is None else f"operators from {config.board.users}"
    log.info("board: serving %s on %s (%s)", config.store.path, server.url, mode)

    def stop() -> None:
        app.stopping.set()
        app.notify_commit()  # wakes the streams, which then end
        server.server_close()

    return server, stop


def serve_with_hub(config: HubConfig) -> Callable[[], None]:
    """``[board] with_hub = true``: the board in threads of ``lifeline-hub run``'s process
    (its own store connections, as a sibling process would have); returns the stopper."""
    server, stop = start_board(config)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                              name="board", daemon=True)
    thread.start()

    def stop_all() -> None:
        server.shutdown()
        stop()

    return stop_all


def add_user_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, type=Path, help="path to hub.toml")
    parser.add_argument("--log-level", default="WARNING", choices=LOG_LEVELS)
    parser.add_argument("user_action", choices=["add", "remove", "list"],
                        help="add (or change the password of), remove or list operators")
    parser.add_argument("name", nargs="?", help="the operator's name (add, remove)")
    parser.add_argument("--password-file", type=Path,
                        help="read the password from this file's first line (default: ask)")


def run_board_user(args: argparse.Namespace, config: HubConfig) -> int:
    from hub.board.users import UsersError, load_users, remove_user, set_user

    path = config.board.users
    if path is None:
        raise BoardError(f"{config.source}: [board] users is not set; name the operators "
                         "file there first (e.g. users = \"board-users\")")
    try:
        if args.user_action == "list":
            for name in sorted(load_users(path)):
                print(name)
            return 0
        if not args.name:
            raise BoardError(f"board-user {args.user_action}: name the operator")
        if args.user_action == "remove":
            remove_user(path, args.name)
            print(f"operator {args.name} removed from {path}")
            return 0
        if args.password_file is not None:
            password = args.password_file.read_text(encoding="utf-8").splitlines()[0]
        else:
            password = getpass.getpass(f"password for {args.name}: ")
            if getpass.getpass("again: ") != password:
                raise BoardError("the two passwords differ; nothing written")
        new = set_user(path, args.name, password)
    except (UsersError, OSError, IndexError) as exc:
        raise BoardError(str(exc) or "the password file is empty") from exc
    print(f"operator {args.name} {'added to' if new else 'password changed in'} {path}",
          file=sys.stdout)
    return 0
