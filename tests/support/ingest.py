"""A hub's ingest path on a real SQLite store in a test's directory (or a PostgreSQL
database), without MQTT."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hub.config import StoreConfig, load_hub_config
from hub.service.ingest import Ingest
from hub.store import Store


def make_ingest(directory: Path, now: float, store: StoreConfig | None = None) -> Ingest:
    """An Ingest over a fresh store ``directory/hub.db`` (or ``store``'s PostgreSQL
    database), configured by a minimal hub.toml."""
    path = directory / "hub.toml"
    if store is not None and store.url is not None:
        path.write_text(f'[store]\nurl = "{store.url}"\n')
    else:
        path.write_text('[store]\npath = "hub.db"\n')
    config = load_hub_config(path)
    return Ingest(Store.writer(config.store), config, now)


@contextmanager
def ingesting(directory: Path, now: float, store: StoreConfig | None = None
              ) -> Iterator[Ingest]:
    """``make_ingest`` for the duration of the block; the store is closed afterwards."""
    hub = make_ingest(directory, now, store)
    try:
        yield hub
    finally:
        hub.store.close()
