"""The board's side of maintenance: a mark file the agent reads and puts in its status.

``lifeline-edge probe --maintenance 30m`` writes ``<state_dir>/maintenance.json``
(``{"until": ISO time, "comment": text}``, atomically). A running agent looks at it once
a second and, while it holds, sends ``maintenance_until`` and ``maintenance_comment`` in
every status it publishes -- its goodbye too, so stopping it for the probe opens a
*maintenance* incident at the hub, not a device one (docs/edge.md). A probe run while no
agent runs publishes that status itself. The hub ends the mark by itself at ``until``
(and grants a device at most four hours at a time, docs/security.md).

Whether the agent runs is told by ``agent.lock`` in the state directory: the agent holds
an advisory ``flock`` on it for its lifetime (released by the kernel when it dies).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from lifeline import wire

__all__ = ["LOCK_FILE", "MARK_FILE", "Mark", "agent_running", "hold_agent_lock", "read_mark",
           "write_mark"]

MARK_FILE = "maintenance.json"
LOCK_FILE = "agent.lock"


@dataclass(frozen=True, slots=True)
class Mark:
    until: float
    comment: str = ""

    def active(self, now: float) -> bool:
        """Does the mark still hold at ``now``?

        >>> Mark(until=100.0).active(99.0), Mark(until=100.0).active(100.0)
        (True, False)
        """
        return now < self.until


def write_mark(state_dir: Path, mark: Mark) -> Path:
    """Write the mark file atomically (a reader sees the old file or the new, never half)."""
    state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = state_dir / MARK_FILE
    temporary = path.with_name(f".{MARK_FILE}.{os.getpid()}")
    temporary.write_text(json.dumps({"until": wire.format_ts(mark.until),
                                     "comment": mark.comment[:wire.MAX_TEXT]}) + "\n",
                         encoding="utf-8")
    os.replace(temporary, path)
    return path


def read_mark(state_dir: Path) -> Mark | None:
    """The mark in the state directory; None when there is none or it cannot be read (a
    broken file is no mark: the hub then opens a device incident, the safe side)."""
    try:
        data = json.loads((state_dir / MARK_FILE).read_text(encoding="utf-8"))
        until = wire.check_ts(wire.parse_ts(data["until"]), "until")
        comment = data.get("comment", "")
        return Mark(until, comment if isinstance(comment, str) else "")
    except (OSError, ValueError, KeyError, TypeError, OverflowError, wire.WireError):
        return None


def clear_mark(state_dir: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        (state_dir / MARK_FILE).unlink()


def hold_agent_lock(state_dir: Path) -> IO[bytes] | None:
    """Take the agent's lock (kept for the process's life: keep the returned file open);
    None when another process holds it."""
    handle = open(state_dir / LOCK_FILE, "ab")  # noqa: SIM115 - held for the process's life
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        return None
    return handle


def agent_running(state_dir: Path) -> bool:
    """Does an agent hold this state directory's lock right now?"""
    path = state_dir / LOCK_FILE
    if not path.exists():
        return False
    with open(path, "ab") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return True
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    return False
