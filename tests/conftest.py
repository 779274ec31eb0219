"""Fixtures shared by the test suite: a real broker per test, real PostgreSQL clusters."""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from hub.config import StoreConfig
from hub.store import Store
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
    yield from _running_cluster()


@pytest.fixture(scope="session")
def shared_postgres() -> Iterator[Postgres]:
    """One PostgreSQL cluster for the whole run, started by the first test that needs it
    (about a second); each test gets a database of its own in it (``postgres_url``)."""
    yield from _running_cluster()


def _running_cluster() -> Iterator[Postgres]:
    """A new cluster while the generator runs; stopped and deleted at its end."""
    cluster = new_cluster()
    try:
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(cluster.directory, ignore_errors=True)


_databases = itertools.count(1)


@pytest.fixture
def postgres_url(shared_postgres: Postgres) -> str:
    """The URL of a new, empty database in the shared cluster, for this test alone."""
    return shared_postgres.new_database(f"test_{next(_databases)}")


@pytest.fixture(params=["sqlite", "postgresql"])
def store_config(request: pytest.FixtureRequest, tmp_path: Path) -> StoreConfig:
    """``[store]`` of a new, empty store: a SQLite file, and (a second run of the test) a
    PostgreSQL database. Store-level tests take it to hold on both backends."""
    if request.param == "sqlite":
        return StoreConfig(path=tmp_path / "hub.db")
    return StoreConfig(url=request.getfixturevalue("postgres_url"))


@pytest.fixture
def open_store(store_config: StoreConfig) -> Iterator[Callable[[], Store]]:
    """Opens ``store_config``'s store for writing (as the hub does), as often as a test
    asks; every connection is closed after the test (a PostgreSQL one left open warns)."""
    opened: list[Store] = []

    def open_writer() -> Store:
        opened.append(Store.writer(store_config))
        return opened[-1]

    yield open_writer
    for store in opened:
        store.close()
