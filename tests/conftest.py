"""Fixtures shared by the test suite: a real broker per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lifeline.localbroker import Broker


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    """A real Mosquitto on a free loopback port, stopped after the test."""
    instance = Broker(tmp_path / "broker")
    instance.start()
    yield instance
    instance.stop()
