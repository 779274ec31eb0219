"""Run our own console scripts as real subprocesses, and wait for things with a bound."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from lifeline.localbroker import stop_process

T = TypeVar("T")
BIN = Path(sys.executable).parent


def script(name: str) -> str:
    """Path of one of our console scripts in the running virtual environment."""
    path = BIN / name
    if not path.exists():
        raise RuntimeError(f"{path} is missing: install the project (pip install -e '.[dev]')")
    return str(path)


@contextmanager
def running(name: str, args: list[str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``name args`` for the duration of the block; kill its process group afterwards."""
    with open(log, "ab") as out:
        proc = subprocess.Popen([script(name), *args], stdout=out, stderr=out,
                                start_new_session=True)
    try:
        yield proc
    finally:
        stop_process(proc)


def cli_json(name: str, args: list[str]) -> Any:
    """Run a CLI with ``--json`` and return its parsed output; fail loudly on a non-zero exit."""
    done = subprocess.run([script(name), *args, "--json"], capture_output=True, timeout=30)
    if done.returncode != 0:
        raise AssertionError(f"{name} {' '.join(args)} exited {done.returncode}: "
                             f"{done.stderr.decode(errors='replace')}")
    return json.loads(done.stdout)


def wait_for(probe: Callable[[], T | None], timeout: float, what: str,
             every: float = 0.2) -> T:
    """Poll ``probe`` until it returns something truthy; AssertionError naming ``what`` if not."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}; last: {last!r}")
