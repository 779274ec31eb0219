"""A real PostgreSQL for tests: a throw-away cluster in a temp dir, unix socket only.

``initdb`` refuses to run as root, so as root the cluster belongs to an unprivileged
user (Debian's ``postgres``, made by the package) and is started through ``runuser``;
as any other user it is simply that user's. No TCP port is opened (``listen_addresses``
is empty), fsync is off (a test's data need not survive a power cut), and the server is
stopped (``pg_ctl stop -m immediate``) when the test ends. Start-up is about a second.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

UNPRIVILEGED = "postgres"
DATABASE = "lifeline"
ROLE = "lifeline"


def pg_bin(name: str) -> str:
    """``initdb``/``pg_ctl`` on PATH, else from Debian's versioned directory."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not candidates:
        raise FileNotFoundError(f"{name} not found: install Debian's postgresql package "
                                "(make test does: scripts/ensure-system-packages.sh)")
    return candidates[-1]


@dataclass
class Postgres:
    """One running cluster. ``url`` is what hub.toml's ``[store] url`` takes."""

    directory: Path
    owner: str | None  # the unprivileged user it runs as, or None for ourselves

    @property
    def socket_dir(self) -> Path:
        return self.directory / "socket"

    @property
    def url(self) -> str:
        return f"postgresql://{ROLE}@/{DATABASE}?host={self.socket_dir}"

    def _run(self, *argv: str) -> subprocess.CompletedProcess[str]:
        command = list(argv) if self.owner is None else ["runuser", "-u", self.owner, "--",
                                                         *argv]
        return subprocess.run(command, check=True, capture_output=True, text=True, timeout=60)

    def start(self) -> None:
        data = self.directory / "data"
        if not data.exists():
            self._run(pg_bin("initdb"), "-D", str(data), "-A", "trust", "-U", ROLE,
                      "--no-sync", "-E", "UTF8", "--locale", "C")
        options = (f"-c listen_addresses='' -k {self.socket_dir} -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off")
        self._run(pg_bin("pg_ctl"), "-D", str(data), "-o", options, "-l",
                  str(self.directory / "server.log"), "-w", "-t", "30", "start")
        import psycopg  # the hub's driver; only tests that start a cluster need it

        with psycopg.connect(f"postgresql://{ROLE}@/postgres?host={self.socket_dir}",
                             autocommit=True) as admin:
            if admin.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                             (DATABASE,)).fetchone() is None:
                admin.execute(f"CREATE DATABASE {DATABASE}")

    def stop(self, mode: str = "immediate") -> None:
        self._run(pg_bin("pg_ctl"), "-D", str(self.directory / "data"), "-m", mode, "-w",
                  "stop")

    def log(self) -> str:
        path = self.directory / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""


def new_cluster(parent: Path | None = None) -> Postgres:
    """A started cluster in a fresh directory the owner can write (temp dirs under a
    root-only tmp_path are not reachable by the unprivileged user, so it has its own)."""
    owner = UNPRIVILEGED if os.geteuid() == 0 else None
    directory = Path(tempfile.mkdtemp(prefix="lifeline-pg-", dir=parent))
    (directory / "socket").mkdir()
    if owner is not None:
        entry = pwd.getpwnam(owner)
        for path in (directory, directory / "socket"):
            os.chown(path, entry.pw_uid, entry.pw_gid)
    cluster = Postgres(directory, owner)
    cluster.start()
    return cluster
