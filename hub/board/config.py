"""``[board]`` of hub.toml: the web board's address, operators file and Host allow-list. Pure.

Loopback by default. ``listen`` on another address needs ``allow_remote = true``
(and then a TLS-terminating proxy in front: docs/operators.md). ``allowed_hosts``:
the Host header values the board answers (DNS rebinding); by default the listen
address, ``localhost`` and ``127.0.0.1``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lifeline.listen import is_loopback, listen_problem, parse_listen
from lifeline.tomlconfig import Section, config_path

__all__ = ["DEFAULT_LISTEN", "BoardConfig", "parse_board"]

DEFAULT_LISTEN = ("127.0.0.1", 8080)


@dataclass(frozen=True)
class BoardConfig:
    """``[board]``: every key optional; without ``users`` the board is read-only."""

    listen: tuple[str, int] = DEFAULT_LISTEN
    users: Path | None = None
    allowed_hosts: tuple[str, ...] = ()
    keepalive_s: float = 15.0
    session_hours: float = 12.0
    max_streams: int = 64
    resolved_shown: int = 10
    with_hub: bool = False  # lifeline-hub run serves the board too (threads of its process)

    def hosts(self, listen: tuple[str, int] | None = None) -> frozenset[str]:
        """The Host names (without port) the board answers when listening on ``listen``."""
        host = (listen or self.listen)[0]
        return frozenset(self.allowed_hosts or (host, "localhost", "127.0.0.1", "::1"))


def parse_board(section: Section, base: Path) -> BoardConfig:
    d = BoardConfig()
    listen_text = section.str("listen", None, check=listen_problem)
    allow_remote = section.bool("allow_remote", False)
    users = section.str("users", None, check=lambda t: None if t.strip() else "must not be empty")
    hosts = section.str_list("allowed_hosts", ())
    keepalive = section.float("keepalive_s", d.keepalive_s, min=1.0, max=300.0)
    session_hours = section.float("session_hours", d.session_hours, min=0.1, max=24 * 30.0)
    streams = section.int("max_streams", d.max_streams, min=1, max=10_000)
    resolved = section.int("resolved_shown", d.resolved_shown, min=0, max=200)
    with_hub = section.bool("with_hub", d.with_hub)
    section.finish()
    listen = d.listen
    if listen_text is not None and listen_problem(listen_text) is None:
        listen = parse_listen(listen_text)
        if not is_loopback(listen[0]) and not allow_remote:
            section.problem("listen", f"{listen[0]!r} is not a loopback address; the board "
                            "stays on this machine unless allow_remote = true says otherwise")
    users_path = config_path(users, base) if users and users.strip() else None
    return BoardConfig(listen=listen, users=users_path, allowed_hosts=hosts,
                       keepalive_s=keepalive, session_hours=session_hours, max_streams=streams,
                       resolved_shown=resolved, with_hub=with_hub)
