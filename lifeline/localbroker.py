"""Start a private Mosquitto on a free loopback port, and stop child processes: for tests, demos and
benchmarks, not production.

A supported API of the installed package (docs/developers.md): ``make demo`` and the benchmarks run
from the installed virtual environment and use it, so it ships in the wheel.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path


def find_mosquitto() -> str:
    """Path of the mosquitto binary (Debian installs it in /usr/sbin, often not on PATH)."""
    found = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin:/usr/local/sbin")
    if not found:
        raise RuntimeError("mosquitto is not installed; run: apt-get install -y mosquitto")
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def stop_process(process: subprocess.Popen[bytes], timeout: float = 5.0) -> int:
    """Stop a child and everything it started, and return its exit status.

    SIGTERM first, so the child can flush and acknowledge what it holds; SIGKILL after
    ``timeout`` seconds. Both go to the child's process group when it leads one
    (``start_new_session=True``, as every child of ours is started), so helpers it spawned
    die with it; otherwise to the child alone. The one way tests, the demo and the
    benchmarks stop a process.
    """
    if process.poll() is None:
        _signal_tree(process, signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _signal_tree(process, signal.SIGKILL)
            process.wait()
    return process.returncode


def _signal_tree(process: subprocess.Popen[bytes], signum: signal.Signals) -> None:
    try:
        if os.getpgid(process.pid) == process.pid:
            os.killpg(process.pid, signum)
        else:
            process.send_signal(signum)
    except ProcessLookupError:  # exited between poll() and the signal
        pass


@dataclass
class Broker:
    """A Mosquitto process we own. ``stop()``/``start()`` keep the same port (for restarts)."""

    workdir: Path
    port: int = 0
    persistence: bool = False
    extra_config: str = ""
    process: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        if not self.port:
            self.port = free_port()
        self.workdir.mkdir(parents=True, exist_ok=True)

    @property
    def config_path(self) -> Path:
        return self.workdir / "mosquitto.conf"

    def write_config(self) -> None:
        lines = [
            f"listener {self.port} 127.0.0.1",
            "allow_anonymous true",
            f"persistence {'true' if self.persistence else 'false'}",
            f"persistence_location {self.workdir}/",
            "log_dest stderr",
            "log_type error",
            "log_type warning",
            self.extra_config,
        ]
        self.config_path.write_text("\n".join(lines) + "\n")

    def start(self, timeout: float = 10.0) -> None:
        self.write_config()
        log = open(self.workdir / "mosquitto.log", "ab")  # noqa: SIM115 - owned by the process
        self.process = subprocess.Popen(
            [find_mosquitto(), "-c", str(self.config_path)],
            stdout=log, stderr=log, start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"mosquitto exited with {self.process.returncode}; see "
                                   f"{self.workdir / 'mosquitto.log'}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"mosquitto did not listen on port {self.port} within {timeout} s")

    def stop(self) -> None:
        if self.process is None:
            return
        stop_process(self.process)
        self.process = None
