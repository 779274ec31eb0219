"""A hub's ingest path on a real SQLite store in a test's directory, without MQTT."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hub.config import load_hub_config
from hub.service.ingest import Ingest
from hub.store import Store


def make_ingest(directory: Path, now: float) -> Ingest:
    """An Ingest over a fresh store ``directory/hub.db``, configured by a minimal hub.toml."""
    path = directory / "hub.toml"
    path.write_text('[store]\npath = "hub.db"\n')
    config = load_hub_config(path)
    return Ingest(Store.open_writer(config.store.path), config, now)


@contextmanager
def ingesting(directory: Path, now: float) -> Iterator[Ingest]:
    """``make_ingest`` for the duration of the block; the store is closed afterwards."""
    hub = make_ingest(directory, now)
    try:
        yield hub
    finally:
        hub.store.close()
