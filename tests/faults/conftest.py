"""Every fault scenario runs under a hard time limit (SIGALRM), so the suite stays bounded."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from types import FrameType

import pytest

DEFAULT_LIMIT_S = 120


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "timeout_s(seconds): hard time limit of a fault scenario")


class ScenarioTimeout(Exception):
    """A fault scenario overran its hard time limit."""


@pytest.fixture(autouse=True)
def hard_time_limit(request: pytest.FixtureRequest) -> Iterator[None]:
    marker = request.node.get_closest_marker("timeout_s")
    limit = int(marker.args[0]) if marker else DEFAULT_LIMIT_S

    def expire(signum: int, frame: FrameType | None) -> None:
        raise ScenarioTimeout(f"{request.node.name} overran its hard limit of {limit} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(limit)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
