"""Fixtures shared by the test suite: a real broker per test."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from lifeline.localbroker import Broker
from tests.support.postgres import Postgres, new_cluster


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    """A real Mosquitto on a free loopback port, stopped after the test."""
    instance = Broker(tmp_path / "broker")
    instance.start()
    yield instance
    instance.stop()


@pytest.fixture
def postgres() -> Iterator[Postgres]:
    """A real PostgreSQL (initdb into a temp dir, unix socket only), stopped after the test."""
    cluster = new_cluster()
    try:
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(cluster.directory, ignore_errors=True)
