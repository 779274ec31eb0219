"""The shared logging set-up: journald's shape only when the journal reads our stderr."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import pytest

from lifeline.logsetup import JournalFormatter, priority, under_journal


@pytest.mark.parametrize(("level", "wanted"), [
    (logging.CRITICAL, 2), (logging.ERROR, 3), (logging.WARNING, 4), (logging.INFO, 6),
    (logging.DEBUG, 7), (logging.INFO + 5, 6), (logging.NOTSET, 7)])
def test_levels_map_to_syslog_priorities(level: int, wanted: int) -> None:
    assert priority(level) == wanted


def test_every_line_of_a_record_carries_the_prefix() -> None:
    # journald reads the priority line by line: a traceback's lines must not fall to INFO
    try:
        raise ValueError("bad frame")
    except ValueError:
        record = logging.LogRecord("edge.agent", logging.ERROR, __file__, 1, "reader died %s",
                                   ("sensor=s1",), sys.exc_info())
    lines = JournalFormatter().format(record).split("\n")
    assert lines[0] == "<3>ERROR edge.agent: reader died sensor=s1"
    assert len(lines) > 3 and all(line.startswith("<3>") for line in lines)
    assert lines[-1] == "<3>ValueError: bad frame"


def test_the_journal_is_recognised_by_device_and_inode_of_the_stream(tmp_path: Path) -> None:
    with open(tmp_path / "a", "w") as a, open(tmp_path / "b", "w") as b:
        found = os.fstat(a.fileno())
        environ = {"JOURNAL_STREAM": f"{found.st_dev}:{found.st_ino}"}
        assert under_journal(a, environ)
        # a child whose stderr went elsewhere inherits the variable, not the stream
        assert not under_journal(b, environ)
        assert not under_journal(a, {})
        assert not under_journal(a, {"JOURNAL_STREAM": "garbage"})
