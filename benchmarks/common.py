"""Helpers shared by the performance benchmarks (issue 8): machine, processes, ptys, docs.

The benchmarks drive Lifeline only through its stable public entry points: the console
scripts (``lifeline-edge run``, ``lifeline-hub run|incidents|tail``), the wire contract
(``lifeline.wire``), the hub store's reader API and SQL schema, and the pure edge functions.
Everything here is plumbing: no figure is computed from Lifeline internals.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import re
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tty
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from a clean clone: make the repo importable
    sys.path.insert(0, str(ROOT))

from lifeline.localbroker import Broker, stop_process  # noqa: E402

DOCS = ROOT / "docs" / "benchmarks.md"
BIN = Path(sys.executable).parent
CLK_TCK = os.sysconf("SC_CLK_TCK")
# A broker that queues without limit for offline persistent sessions (backlog benchmarks) and
# accepts as many connections as the file-descriptor limit allows.
BROKER_CONFIG = "max_queued_messages 0\nmax_queued_bytes 0\nmax_inflight_messages 0\n" \
                "max_connections -1\nmemory_limit 0\n"


def console_script(name: str) -> str:
    """Path of one of our console scripts next to this interpreter (the venv's bin)."""
    found = BIN / name
    return str(found) if found.exists() else name


# -- the machine and the run ----------------------------------------------------------
def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def machine() -> str:
    nproc = len(os.sched_getaffinity(0))
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (f"{nproc} CPU(s) (nproc), {cpu_model()}, Python {platform.python_version()}, "
            f"Linux {platform.release()}; load average at start {load}")


def code_version() -> str:
    """The commit measured, and the product files others had changed but not yet committed
    (the working tree is shared: those changes are in the figures too)."""
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                                  check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return ""
    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = [line[3:] for line in git("status", "--porcelain", "--", "edge", "hub", "lifeline"
                                      ).splitlines() if line[3:].endswith(".py")]
    return f"commit {commit}" + (f" plus uncommitted changes to {', '.join(dirty)}"
                                 if dirty else "")


def now_utc() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def command_line(argv: Sequence[str] | None = None) -> str:
    args = sys.argv if argv is None else ["python", *argv]
    script = os.path.relpath(args[0], ROOT) if os.path.isabs(args[0]) else args[0]
    return "python " + shlex.join([script, *args[1:]])


def header(title: str, command: str) -> str:
    return (f"## {title}\n\nCommand: `{command}`  \nMachine: {machine()}  \nDate: {now_utc()}  "
            f"\nCode: {code_version()}\n\n{SHARED_NOTE}\n")


def write_section(name: str, body: str, path: Path = DOCS) -> None:
    """Replace (or append) the text between ``<!-- perf:{name}:begin/end -->`` in the docs.

    Re-reads the file right before writing, so sections written by others (``nab``) stay.
    """
    begin, end = f"<!-- perf:{name}:begin -->", f"<!-- perf:{name}:end -->"
    block = f"{begin}\n{body.rstrip()}\n{end}"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _m: block, text)
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.write_text(text)


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def ratio(value: float, baseline: float) -> str:
    return f"{value / baseline:.2f}×" if baseline > 0 else "n/a"


def verdict(met: bool) -> str:
    return "**met**" if met else "**missed**"


# -- the targets of issue 8, one row each --------------------------------------------------
TARGET_HEADERS = ("figure", "value", "baseline or limit (same run)", "ratio", "target", "verdict")


@dataclass(frozen=True)
class Target:
    """One figure against its target: the value, its baseline or limit from the same run,
    the ratio between them, and whether the issue's target is met (None: no target, or not
    measured; ``note`` then says which)."""

    figure: str
    value: str
    baseline: str
    ratio: str
    target: str
    met: bool | None
    note: str = ""

    def cells(self) -> list[str]:
        if self.met is None:
            outcome = self.note or "reported (no target)"
        else:
            outcome = verdict(self.met) + (f" ({self.note})" if self.note else "")
        return [self.figure, self.value, self.baseline, self.ratio, self.target, outcome]


def targets_table(targets: Sequence[Target]) -> str:
    """The section's verdicts in one table; ``run_all.py`` collects these rows (by header)."""
    return "#### Targets\n\n" + table(TARGET_HEADERS, [t.cells() for t in targets])


def target_rows(text: str) -> list[list[str]]:
    """The rows of every targets table in ``text`` (the inverse of ``targets_table``)."""
    head = "| " + " | ".join(TARGET_HEADERS) + " |"
    rows: list[list[str]] = []
    inside = False
    for line in text.splitlines():
        if line.strip() == head:
            inside = True
        elif inside and line.startswith("|---"):
            continue
        elif inside and line.startswith("|"):
            rows.append([c.strip() for c in line.strip().strip("|").split(" | ")])
        else:
            inside = False
    return rows


SHARED_NOTE = ("The machine was shared with other engineers running test suites during the "
               "run, so absolute figures are noisy; each is therefore quoted beside a baseline "
               "or limit measured in the same run, and as a ratio to it.")


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) by linear interpolation; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def slope_per_minute(samples: Sequence[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, value) samples, in value per minute."""
    if len(samples) < 2:
        return 0.0
    xs = [s[0] for s in samples]
    ys = [s[1] for s in samples]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return 60 * sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den if den else 0.0


# -- processes -----------------------------------------------------------------------
def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads) from /proc/<pid>/stat."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_mb(pid: int) -> float:
    """Resident set size from /proc/<pid>/status (VmRSS), in MB (10^6 bytes)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024 / 1e6
    return 0.0


@dataclass
class Sampler:
    """CPU and RSS of one process, sampled by the caller."""

    pid: int
    started: float = field(default_factory=time.monotonic)
    samples: list[tuple[float, float, float]] = field(default_factory=list)  # (t, cpu s, rss MB)

    def sample(self) -> tuple[float, float, float]:
        row = (time.monotonic() - self.started, cpu_seconds(self.pid), rss_mb(self.pid))
        self.samples.append(row)
        return row

    def cpu_share(self, since: float = 0.0) -> float:
        """CPU seconds per wall second between the first sample at or after ``since`` and the last."""
        window = [s for s in self.samples if s[0] >= since]
        if len(window) < 2:
            return float("nan")
        return (window[-1][1] - window[0][1]) / (window[-1][0] - window[0][0])

    def peak_rss(self) -> float:
        return max((s[2] for s in self.samples), default=0.0)


def compile_product() -> None:
    """Write the bytecode of our packages before timing processes that import them.

    An installed package comes compiled; a fresh clone run with PYTHONDONTWRITEBYTECODE set
    (as some shells here are) would otherwise recompile every module in every process
    timed, ~20 ms of a command's start-up that no installed hub pays."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", *(str(ROOT / p) for p in
                    ("lifeline", "edge", "hub"))], check=True, stdout=subprocess.DEVNULL)


# -- profiling: LIFELINE_BENCH_PROFILE=<dir> runs each product process under py-spy -------------
PROFILE_DIR = os.environ.get("LIFELINE_BENCH_PROFILE")


def profiled(argv: Sequence[str], name: str) -> list[str]:
    """``argv`` under ``py-spy record`` (raw collapsed stacks in PROFILE_DIR) when profiling.

    The figures of a profiled run are not the benchmark's: py-spy takes CPU of its own.
    """
    if not PROFILE_DIR:
        return list(argv)
    Path(PROFILE_DIR).mkdir(parents=True, exist_ok=True)
    out = Path(PROFILE_DIR) / f"{name}-{time.strftime('%H%M%S')}-{os.getpid()}.txt"
    log(f"profiling {name} with py-spy into {out}")
    return [console_script("py-spy"), "record", "--format", "raw", "--nonblocking", "--rate",
            "250", "--threads", "-o", str(out), "--", *argv]


def real_pid(process: subprocess.Popen[bytes]) -> int:
    """The product process: ``process`` itself, or py-spy's child when profiling."""
    if not str(process.args[0]).endswith("py-spy"):  # type: ignore[index]
        return process.pid
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for task in Path(f"/proc/{process.pid}/task").glob("*"):
            children = (task / "children").read_text().split()
            if children:
                return int(children[0])
        time.sleep(0.01)
    raise RuntimeError("py-spy started no child process")


def top_frames(raw: Path, count: int = 15) -> str:
    """The functions with the most samples in a py-spy raw profile: self and inclusive."""
    own: dict[str, int] = {}
    inclusive: dict[str, int] = {}
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        frames = [f for f in stack.split(";") if f and not f.startswith("thread (")]
        if not frames or not n.isdigit():
            continue
        total += int(n)
        own[frames[-1]] = own.get(frames[-1], 0) + int(n)
        for frame in set(frames):
            inclusive[frame] = inclusive.get(frame, 0) + int(n)
    def fmt(d: dict[str, int]) -> str:
        return "\n".join(f"  {100 * v / total:5.1f}%  {k}"
                         for k, v in sorted(d.items(), key=lambda kv: -kv[1])[:count])
    return f"{raw.name}: {total} samples\nself:\n{fmt(own)}\ninclusive:\n{fmt(inclusive)}"


def stop(process: subprocess.Popen[bytes], timeout: float = 10.0) -> int:
    """SIGTERM, then SIGKILL if it does not exit in time; returns the exit status."""
    if process.poll() is None and str(process.args[0]).endswith("py-spy"):  # type: ignore[index]
        try:  # profiling: stop the product process; py-spy writes its profile and exits
            os.kill(real_pid(process), signal.SIGTERM)
            process.wait(timeout=timeout + 20)
        except (OSError, RuntimeError, subprocess.TimeoutExpired):
            pass
    stop_process(process, timeout=timeout)
    return process.returncode


class NotifySocket:
    """A datagram socket standing in for systemd's $NOTIFY_SOCKET; records when READY=1 came.

    A thread reads it for as long as it is open, as systemd does: the agent's notifications
    (WATCHDOG=1 every health check) block its main loop once about ten of them are left
    unread (``net.unix.max_dgram_qlen``), which would stall the agent mid-benchmark.
    """

    def __init__(self, directory: Path) -> None:
        self.path = directory / "notify.sock"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(self.path))
        self.ready_at: float | None = None
        self._ready = threading.Event()
        self._closed = False
        threading.Thread(target=self._read, name="notify-socket", daemon=True).start()

    def _read(self) -> None:
        self.sock.settimeout(0.2)
        while not self._closed:
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:  # closed
                return
            if self.ready_at is None and b"READY=1" in data.split(b"\n"):
                self.ready_at = time.monotonic()
                self._ready.set()

    def wait_ready(self, timeout: float) -> float | None:
        """time.monotonic() when READY=1 arrived, or None on timeout."""
        self._ready.wait(timeout)
        return self.ready_at

    def close(self) -> None:
        self._closed = True
        self.sock.close()


# -- pseudo-terminals -----------------------------------------------------------------
@dataclass
class Pty:
    """A pseudo-terminal pair: we write to ``master``, the agent opens ``path`` as a serial port."""

    master: int
    slave: int
    path: str

    @classmethod
    def open(cls) -> Pty:
        master, slave = os.openpty()
        tty.setraw(slave)  # no echo back to the master before pyserial sets the line raw itself
        return cls(master, slave, os.ttyname(slave))

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self.master, view):]

    def close(self) -> None:
        for fd in (self.master, self.slave):
            try:
                os.close(fd)
            except OSError:
                pass


# -- configuration files for our console scripts ---------------------------------------------
def edge_toml(device: str, zone: str, broker_port: int, state_dir: Path,
              sensors: Sequence[tuple[str, str]], *, high: float = 1000.0,
              kind: str = "water.pressure", repeat_s: float = 15.0) -> str:
    """An edge.toml for ``(sensor id, port)`` pairs, one ``lines`` channel each.

    The detection settings make anomaly alerts impossible (threshold 1.0 held for 10,000
    readings) so that only a limit crossing (value > ``high``) alerts: the benchmarks decide
    when an alert happens.
    """
    parts = [
        f'[device]\nid = "{device}"\nzone = "{zone}"\nstate_dir = "{state_dir}"\n',
        f'[mqtt]\nhost = "127.0.0.1"\nport = {broker_port}\n',
        f"[detection]\nthreshold = 1.0\nclear_threshold = 0.6\nmin_readings = 10000\n"
        f"repeat_s = {repeat_s}\n",
    ]
    for sensor, port in sensors:
        parts.append(f'[[sensors]]\nid = "{sensor}"\nkind = "{kind}"\ndriver = "lines"\n'
                     f'port = "{port}"\nbaudrate = 115200\ncolumns = ["value"]\nunit = "kPa"\n'
                     f"high = {high}\nsilence_s = 3600.0\n")
    return "\n".join(parts)


def hub_toml(broker_port: int, store: Path, client_id: str = "lifeline-hub-bench",
             store_extra: str = "") -> str:
    return (f'[mqtt]\nhost = "127.0.0.1"\nport = {broker_port}\nclient_id = "{client_id}"\n\n'
            f'[store]\npath = "{store}"\n{store_extra}')


def start_broker(workdir: Path, extra: str = BROKER_CONFIG) -> Broker:
    broker = Broker(workdir / "broker", extra_config=extra)
    broker.start()
    return broker


def workdir(prefix: str) -> Path:
    base = ROOT / "run"
    base.mkdir(exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f"bench-{prefix}-", dir=base))


def log(message: str) -> None:
    """Progress on stderr; figures go to stdout."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)
