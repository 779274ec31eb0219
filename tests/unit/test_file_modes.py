"""State files are private even outside systemd (issue 13, item 9): with the usual umask 022 the
hub's store, its WAL and the edge's outbox are created 0600 and new state directories 0700."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge.agent import Agent
from edge.config import load_edge_config
from hub.store import Store
from tests.unit.test_serial_fuzz import edge_config


@pytest.fixture(autouse=True)
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_hub_store_and_its_wal_are_private(tmp_path: Path) -> None:
    path = tmp_path / "state" / "hub.db"
    store = Store.open_writer(path)
    with store.transaction():
        store.set_meta("x", "1")
    files = [path, path.with_name("hub.db-wal"), path.with_name("hub.db-shm")]
    assert [mode(p) for p in files] == [0o600] * 3 and mode(path.parent) == 0o700
    store.close()


def test_a_new_edge_state_directory_and_outbox_are_private(tmp_path: Path) -> None:
    agent = Agent(load_edge_config(edge_config(tmp_path)))
    try:
        outbox = agent.state_dir / "outbox.db"
        assert agent.state_dir == tmp_path / "state" and mode(agent.state_dir) == 0o700
        assert [mode(p) for p in (outbox, outbox.with_name("outbox.db-wal"))] == [0o600] * 2
    finally:
        agent.outbox.close()


def test_an_existing_store_keeps_its_mode(tmp_path: Path) -> None:
    path = tmp_path / "hub.db"
    Store.open_writer(path).close()
    path.chmod(0o640)  # an operator's choice (a group that may read it)
    Store.open_writer(path).close()
    assert mode(path) == 0o640
