"""hub/desk/commitwatch.py: wake up when a file beside the store is written, not before."""

from __future__ import annotations

from pathlib import Path

from hub.desk.commitwatch import CommitWatch


def test_a_write_in_the_directory_wakes_the_watch(tmp_path: Path) -> None:
    watch = CommitWatch(tmp_path, fallback_s=0.001)
    try:
        assert watch.watching  # Linux: inotify
        # Given nothing written, a wait runs out
        assert watch.wait(0.01) is False
        # When a file there is written (before the wait: not lost), Then the wait returns
        (tmp_path / "hub.db-wal").write_bytes(b"frame")
        assert watch.wait(30.0) is True
        # And the wake-up was used up: the next wait runs out again
        assert watch.wait(0.01) is False
    finally:
        watch.close()


def test_without_a_directory_it_sleeps_instead(tmp_path: Path) -> None:
    watch = CommitWatch(tmp_path / "missing", fallback_s=0.001)
    assert not watch.watching
    assert watch.wait(30.0) is False  # slept fallback_s, not 30 s
    watch.close()
