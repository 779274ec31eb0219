"""Logging set-up for both command lines, once, in ``main``: on stderr, journald-aware.

Outside systemd a line reads ``2026-12-03 10:42:01,234 WARNING edge.agent: ...``, as
always. Under systemd, whose journal reads our stderr (``$JOURNAL_STREAM`` names that
stream), a line carries no timestamp of its own (journald stamps each line) and starts
with the sd-daemon priority prefix ``<N>`` (sd-daemon(3): ``<3>`` error, ``<4>`` warning,
``<6>`` info, ``<7>`` debug), so ``journalctl -p warning`` shows warnings and errors
only. Every line of a multi-line record (a traceback) gets the prefix: journald reads
the priority line by line.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import TextIO

__all__ = ["PLAIN_FORMAT", "JournalFormatter", "configure_logging", "priority", "under_journal"]

PLAIN_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
JOURNAL_FORMAT = "%(levelname)s %(name)s: %(message)s"

# syslog(3) priorities, as sd-daemon(3)'s SD_ERR ... SD_DEBUG prefixes
_PRIORITIES = ((logging.CRITICAL, 2), (logging.ERROR, 3), (logging.WARNING, 4),
               (logging.INFO, 6))


def priority(levelno: int) -> int:
    """A logging level -> its syslog priority (CRITICAL 2, ERROR 3, WARNING 4, INFO 6,
    DEBUG 7; a custom level takes the priority of the next standard level below it)."""
    for level, value in _PRIORITIES:
        if levelno >= level:
            return value
    return 7


def under_journal(stream: TextIO, environ: Mapping[str, str]) -> bool:
    """Is ``stream`` the journal's? ``$JOURNAL_STREAM`` is ``device:inode`` of the stream
    systemd connected; a child whose stderr was redirected inherits the variable but not
    the stream, so both must match (systemd.exec(5))."""
    value = environ.get("JOURNAL_STREAM", "")
    device, _, inode = value.partition(":")
    if not (device.isdigit() and inode.isdigit()):
        return False
    try:
        found = os.fstat(stream.fileno())
    except (AttributeError, OSError, ValueError):  # not a real file (pytest's capture)
        return False
    return (found.st_dev, found.st_ino) == (int(device), int(inode))


class JournalFormatter(logging.Formatter):
    """``<N>LEVEL name: message``, the prefix on every line of the record."""

    def __init__(self) -> None:
        super().__init__(JOURNAL_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        prefix = f"<{priority(record.levelno)}>"
        return "\n".join(prefix + line for line in super().format(record).split("\n"))


def configure_logging(level: str | int, stream: TextIO,
                      environ: Mapping[str, str] | None = None) -> None:
    """Set the root logger up once, on ``stream`` (stderr): journald's shape when the
    journal reads it, the plain one otherwise."""
    environ = os.environ if environ is None else environ
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JournalFormatter() if under_journal(stream, environ)
                         else logging.Formatter(PLAIN_FORMAT))
    logging.basicConfig(level=level, handlers=[handler])
