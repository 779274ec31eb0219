"""Wait until the hub may have committed: inotify on the store's directory, else a short sleep.

``lifeline-hub tail`` asks the store whether anything was committed (``Store.data_version``)
each time it wakes. Polling every few ms costs a few percent of a core while nothing happens
(each wake-up of a sleeping process is tens of microseconds on a VM); with inotify the
process sleeps until SQLite writes the WAL (or any file beside it), so it notices a commit
at once and costs nothing when the hub is quiet. Linux only: elsewhere, or when inotify
cannot be had (no more watches allowed), it sleeps ``fallback_s`` per wait.
"""

from __future__ import annotations

import ctypes
import os
import select
import time
from pathlib import Path

__all__ = ["CommitWatch"]

_IN_MODIFY, _IN_CREATE, _IN_MOVED_TO = 0x2, 0x100, 0x80
_IN_NONBLOCK, _IN_CLOEXEC = os.O_NONBLOCK, os.O_CLOEXEC


class CommitWatch:
    """``wait(timeout_s)`` returns when a file in ``directory`` was written, or after the
    timeout, whichever is first (``fallback_s`` instead of the timeout without inotify).
    A write between two waits is not lost: the next wait returns at once. A write is not
    yet a commit (SQLite syncs the WAL, then marks the commit in shared memory, which
    inotify does not see): the caller keeps asking the store for a little while after."""

    def __init__(self, directory: Path, fallback_s: float) -> None:
        self.fallback_s = fallback_s
        self._fd: int | None = None
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            fd = libc.inotify_init1(_IN_NONBLOCK | _IN_CLOEXEC)
        except (OSError, AttributeError):  # not Linux
            return
        if fd < 0:
            return
        if libc.inotify_add_watch(fd, os.fsencode(directory),
                                  _IN_MODIFY | _IN_CREATE | _IN_MOVED_TO) < 0:
            os.close(fd)
            return
        self._fd = fd

    @property
    def watching(self) -> bool:
        return self._fd is not None

    def wait(self, timeout_s: float) -> bool:
        """True if a file was written (since the last wait, or during this one)."""
        if self._fd is None:
            time.sleep(self.fallback_s)
            return False
        ready, _, _ = select.select([self._fd], [], [], timeout_s)
        if not ready:
            return False
        try:
            while os.read(self._fd, 65536):  # drain: one wake-up per batch of writes
                pass
        except BlockingIOError:
            pass
        return True

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
