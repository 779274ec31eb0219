"""The notify client against a real datagram socket that stops reading."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from lifeline.sdnotify import Notifier


@pytest.fixture
def listener(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    path = str(tmp_path / "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    monkeypatch.setenv("NOTIFY_SOCKET", path)
    yield sock
    sock.close()


def test_messages_arrive_as_systemd_reads_them(listener: socket.socket) -> None:
    notifier = Notifier()
    assert notifier.ready("3 sensors") and notifier.watchdog()
    assert listener.recv(4096) == b"READY=1\nSTATUS=3 sensors"
    assert listener.recv(4096) == b"WATCHDOG=1"


def test_a_listener_that_stops_reading_never_hangs_the_pinger(listener: socket.socket) -> None:
    # Given a notify socket nobody reads (its queue holds a few datagrams only)
    notifier = Notifier()
    results: list[bool] = []
    pinger = threading.Thread(target=lambda: results.extend(notifier.watchdog()
                                                            for _ in range(500)), daemon=True)
    # When the main loop keeps pinging, Then every call returns (the full queue skips pings)
    pinger.start()
    pinger.join(timeout=30)
    assert not pinger.is_alive(), "watchdog() blocked on a full notify socket"
    assert results.count(True) >= 1 and results.count(False) >= 1


def test_outside_systemd_every_call_is_a_no_op(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert not Notifier().enabled and not Notifier().watchdog()
