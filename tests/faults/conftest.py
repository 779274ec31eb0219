"""Every fault scenario runs under a hard time limit (SIGALRM), so the suite stays bounded.

With ``LIFELINE_RELIABILITY_JSON=path`` set, each scenario's figures (``Rig.check``) are
merged into that file with the test's verdict, and the table of docs/reliability.md is
printed at the end of the run (also: ``python -m tests.support.faults path``).
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Generator, Iterator
from pathlib import Path
from types import FrameType

import pytest

from tests.support.faults import FIGURES_ENV, flush_figures, render_table

DEFAULT_LIMIT_S = 120


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "timeout_s(seconds): hard time limit of a fault scenario")


class ScenarioTimeout(Exception):
    """A fault scenario overran its hard time limit."""


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item,
                              call: pytest.CallInfo[None]) -> Generator[None, pytest.TestReport,
                                                                        pytest.TestReport]:
    report = yield
    if report.when == "call":
        item.stash[_OUTCOME] = report.outcome
    return report


_OUTCOME = pytest.StashKey[str]()


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
        flush_figures(request.node.stash.get(_OUTCOME, "error"))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    target = os.environ.get(FIGURES_ENV)
    if target and Path(target).exists():
        terminalreporter.write_sep("=", f"fault figures ({target})")
        terminalreporter.write_line(render_table(json.loads(Path(target).read_text())))
