"""Edge performance (issue 8): ``python benchmarks/bench_edge.py [--only PART] [--write-docs]``.

* **lines**: readings/s through a real ``lifeline-edge run`` process reading one
  pseudo-terminal (pty → pyserial → parse → calibrate → detect → decide → outbox → MQTT),
  against a bare pyserial ``readline`` loop on a fresh pty timed before and after it (the I/O
  limit), the pure path (``parse_line`` + ``ChannelPipeline.process``, no I/O) and a bare loop
  reading what is waiting. The agent is fed in chunks closed by a marker reading above the
  limit, at most a few chunks ahead of the marker alerts seen over MQTT, so its bounded event
  queue never overflows (``agent_throughput``).
* **vibration**: raw samples/s through ``VibrationDecoder.feed`` (frame decode, CRC, numpy
  features) against the numpy features alone.
* **field**: CPU share and RSS of a real agent with 16 line channels at 10 Hz plus a 500 Hz
  triaxial accelerometer for ``--field-seconds``, with its CPU per thread, against a bare
  process taking the same bytes off the same ports with one ``select`` loop (and, as extra
  rows, bare pyserial threads per port: reading what is waiting, and ``readline``); start-up
  to ``READY=1`` on a notify socket we own, against a bare interpreter importing pyserial and
  paho-mqtt.
* **imports**: what ``lifeline-edge run`` imports up to READY (``python -X importtime``) and its
  RSS, against a bare interpreter importing only pyserial, sqlite3 and paho-mqtt.
* **soak**: the field load for ``--soak-seconds`` (the issue: 600 s), RSS every 2 s and its
  slope; ``--only soak`` writes only its block inside the edge section (``run_all.py`` runs it
  in the background).

``LIFELINE_BENCH_PROFILE=<dir>`` runs the agent under py-spy (see benchmarks/common.py);
``LIFELINE_BENCH_LOG_LEVEL`` sets its log level (default WARNING).
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import (  # noqa: E402
    NotifySocket,
    Pty,
    Sampler,
    Target,
    command_line,
    console_script,
    edge_toml,
    header,
    log,
    now_utc,
    profiled,
    ratio,
    real_pid,
    rss_mb,
    slope_per_minute,
    start_broker,
    stop,
    table,
    targets_table,
    workdir,
    write_section,
)

HEAVY_MODULES = ("numpy", "river", "pymodbus", "pandas", "scipy", "sklearn")
LIMIT = 1000.0
DEVICE = "bench-edge"


def reading(i: int) -> bytes:
    """A plausible pressure reading (kPa): a slow wave, never near the limit."""
    return f"{300 + 5 * math.sin(i / 50) + (i % 7) * 0.01:.3f}\n".encode()


def readings(n: int) -> bytes:
    return b"".join(reading(i) for i in range(n))


def start_agent(wd: Path, config: str, python_flags: Sequence[str] = ()
                ) -> tuple[subprocess.Popen[bytes], NotifySocket, float, Path]:
    """Start ``lifeline-edge run``; returns the process, its notify socket, start time, log."""
    path = wd / "edge.toml"
    path.write_text(config)
    notify = NotifySocket(wd)
    env = {**os.environ, "NOTIFY_SOCKET": str(notify.path)}
    log_path = wd / "edge.log"
    if python_flags:
        argv = [sys.executable, *python_flags, "-m", "edge.cli"]
    else:
        argv = [console_script("lifeline-edge")]
    argv += ["--log-level", os.environ.get("LIFELINE_BENCH_LOG_LEVEL", "WARNING"), "run",
             "--config", str(path)]
    with open(log_path, "wb") as err:
        started = time.monotonic()
        process = subprocess.Popen(profiled(argv, "edge") if not python_flags else argv,
                                   stdout=subprocess.DEVNULL, stderr=err, env=env)
    return process, notify, started, log_path


class AlertWatch:
    """A paho subscriber on the bench device's alert topic; records when each alert arrives."""

    def __init__(self, port: int, device: str) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        from lifeline import wire

        self.arrivals: list[tuple[float, bytes]] = []
        self.event = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"watch-{device}")
        self.client.on_message = lambda c, u, m: self._got(bytes(m.payload))
        subscribed = threading.Event()
        self.client.on_subscribe = lambda *a: subscribed.set()
        self.client.on_connect = lambda c, *a: c.subscribe(wire.alert_topic(device), qos=1)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        if not subscribed.wait(10):
            raise RuntimeError("could not subscribe to the bench device's alerts")

    def _got(self, payload: bytes) -> None:
        self.arrivals.append((time.monotonic(), payload))
        self.event.set()

    def wait(self, count: int, timeout: float) -> float | None:
        deadline = time.monotonic() + timeout
        while len(self.arrivals) < count and time.monotonic() < deadline:
            self.event.wait(0.05)
            self.event.clear()
        return self.arrivals[count - 1][0] if len(self.arrivals) >= count else None

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


# -- lines: readings/s ----------------------------------------------------------------
MARKER = 2000  # marker readings are MARKER + chunk number: above the limit, each its own alert


def marker_index(payload: bytes) -> int | None:
    """The chunk number a marker alert carries in its value, else None."""
    import json

    try:
        value = json.loads(payload).get("value")
    except ValueError:
        return None
    if not isinstance(value, int | float) or value < MARKER:
        return None
    return int(round(value)) - MARKER


def dropped_events(log_path: Path) -> int:
    """Readings the agent dropped because its event queue was full (its own warning lines)."""
    dropped = 0
    for line in log_path.read_text(errors="replace").splitlines():
        if "event queue full: dropped" in line:
            dropped = max(dropped, int(line.split("dropped ")[1].split()[0]))
    return dropped


def agent_throughput(n: int, chunk: int = 2000, in_flight: int = 4) -> tuple[float, float]:
    """(readings/s, agent CPU seconds per second) of a real agent on one pty.

    The agent's reader thread hands readings to the pipeline through a bounded queue
    (10,000 events) that drops when full rather than block the port, so the benchmark must
    not outrun the pipeline: it writes ``chunk`` normal readings followed by one marker
    reading above the limit, and writes chunk ``k + in_flight`` only once the marker alert
    of chunk ``k`` has arrived over MQTT (lines are handled in order, so that alert means
    every reading before it went through the pipeline). At most ``in_flight`` chunks are
    queued, well under the queue's bound; the log is checked for drops all the same.
    """
    wd = workdir("edge-lines")
    broker = start_broker(wd)
    pty = Pty.open()
    watch = AlertWatch(broker.port, DEVICE)
    config = edge_toml(DEVICE, "bench", broker.port, wd / "state", [("s0", pty.path)], high=LIMIT)
    process, notify, _, log_path = start_agent(wd, config)
    chunks = max(1, n // chunk)
    try:
        if notify.wait_ready(15) is None:
            raise RuntimeError(f"the agent did not report READY; see {log_path}")
        pty.write(readings(2000))  # warm up: detector past its warm-up, threads running
        time.sleep(1.0)
        marks: dict[int, float] = {}  # chunk number -> when its marker alert arrived
        scanned = 0

        def arrived(k: int, timeout: float = 120) -> float:
            nonlocal scanned
            deadline = time.monotonic() + timeout
            while k not in marks and time.monotonic() < deadline:
                watch.wait(scanned + 1, timeout=0.05)
                for at, payload in watch.arrivals[scanned:]:
                    scanned += 1
                    index = marker_index(payload)
                    if index is not None:
                        marks.setdefault(index, at)
            if k not in marks:
                raise RuntimeError(f"no marker alert {k} from the agent; it dropped "
                                   f"{dropped_events(log_path)} readings; see {log_path}")
            return marks[k]

        body = readings(chunk)
        cpu0 = Sampler(real_pid(process)).sample()[1]
        started = time.monotonic()
        for k in range(chunks):
            if k >= in_flight:
                arrived(k - in_flight)
            pty.write(body + f"{MARKER + k}.0\n".encode())
        ended = max(arrived(k) for k in range(chunks))
        elapsed = ended - started
        cpu = Sampler(real_pid(process)).sample()[1] - cpu0
        if (lost := dropped_events(log_path)):
            raise RuntimeError(f"the agent dropped {lost} readings (event queue full); the "
                               "figure would not be its throughput")
        return chunks * (chunk + 1) / elapsed, cpu / elapsed
    finally:
        stop(process)
        notify.close()
        watch.close()
        broker.stop()
        pty.close()


BARE_READER = """
import sys, time, serial
port = serial.Serial(sys.argv[1], 115200, timeout=0.5)
print("ready", flush=True)
count = 0
if sys.argv[2] == "readline":
    while True:
        line = port.readline()
        if not line:
            continue
        if line.startswith(b"2000"):
            break
        count += 1
else:  # what the port has at once, split into lines here
    pending, done = b"", False
    while not done:
        pending += port.read(max(1, min(port.in_waiting, 65536)))
        *lines, pending = pending.split(b"\\n")
        for line in lines:
            if line.startswith(b"2000"):
                done = True
                break
            count += 1
print(time.monotonic(), count, flush=True)
"""


def bare_throughput(n: int, mode: str = "readline") -> float:
    """Readings/s of a bare pyserial loop in its own process on a fresh pty: ``readline`` (as
    the agent reads lines) or ``chunks`` (read what is waiting, split lines in Python)."""
    pty = Pty.open()
    reader = subprocess.Popen([sys.executable, "-c", BARE_READER, pty.path, mode],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert reader.stdout is not None
        reader.stdout.readline()
        blob = readings(n) + f"{LIMIT * 2:.1f}\n".encode()
        started = time.monotonic()
        pty.write(blob)
        done, count = reader.stdout.readline().split()
        if int(count) != n:
            raise RuntimeError(f"bare reader saw {count} lines, expected {n}")
        return n / (float(done) - started)
    finally:
        stop(reader)
        pty.close()


def pure_throughput(n: int) -> float:
    """Readings/s of parse_line + ChannelPipeline.process in this process (no I/O)."""
    from edge.config import load_edge_config
    from edge.lines import parse_line
    from edge.pipeline import ChannelPipeline, build_detector

    wd = workdir("edge-pure")
    path = wd / "edge.toml"
    path.write_text(edge_toml(DEVICE, "bench", 1883, wd / "state", [("s0", "/dev/null")]))
    sensor = load_edge_config(path).sensors[0]
    pipeline = ChannelPipeline(sensor, sensor.channels[0], build_detector(sensor))
    lines = [reading(i) for i in range(n)]
    started = time.perf_counter()
    ts = 1.7e9
    for line in lines:
        values = parse_line(line, 1)
        assert values is not None
        ts += 0.001
        if pipeline.process(ts, values[0]) is not None:
            raise RuntimeError("the pure path alerted on a normal reading")
    return n / (time.perf_counter() - started)


def bench_lines(n: int) -> tuple[str, list[Target]]:
    """The agent between two runs of the bare loop (the machine is shared: the baseline is
    their mean, and both are shown)."""
    log(f"lines: bare pyserial readline loop, {n} readings")
    bare_before = bare_throughput(n)
    log(f"lines: real agent, {n} readings")
    agent, cpu = agent_throughput(n)
    log("lines: bare loop again, pure path, chunked reads")
    bare_after = bare_throughput(n)
    bare = (bare_before + bare_after) / 2
    pure = pure_throughput(n)
    chunked = bare_throughput(n, "chunks")
    rows: list[list[object]] = [
        [f"bare pyserial `readline` loop (I/O limit), before / after the agent: "
         f"{bare_before:,.0f} / {bare_after:,.0f}", f"{bare:,.0f}", "1.00×"],
        [f"`lifeline-edge run`, 1 channel (agent CPU {cpu:.2f} s/s)", f"{agent:,.0f}",
         ratio(agent, bare)],
        ["pure path: `parse_line` + `ChannelPipeline.process`, no I/O, one thread",
         f"{pure:,.0f}", ratio(pure, bare)],
        ["bare pyserial loop reading what is waiting, lines split in Python", f"{chunked:,.0f}",
         ratio(chunked, bare)],
    ]
    text = (f"### Line sensors: readings/s ({n:,} readings per run)\n\n"
            + table(["path", "readings/s", "vs bare readline loop"], rows)
            + "\n\nThe agent is timed from the first byte written to the pty to the arrival, "
            "over MQTT, of the alert raised by the last of the marker readings above the limit "
            "that end every 2,000 readings (lines are handled in order, so that alert means "
            "every reading before it went through the pipeline). The agent's reader thread "
            "hands readings to the pipeline through a bounded queue (10,000 events) that drops "
            "rather than block the port, so the benchmark keeps at most 4 chunks in flight, "
            "writing the next one only when an earlier marker's alert has arrived, and fails "
            "if the agent's log reports a drop.")
    targets = [
        Target("line sensor readings/s through the agent", f"{agent:,.0f}/s",
               f"bare readline loop {bare:,.0f}/s; limit 50,000/s",
               f"{ratio(agent, bare)} bare; {ratio(agent, 50_000)} limit", "≥ 50,000/s",
               agent >= 50_000),
        Target("line sensor agent / bare readline loop", f"{agent / bare:.2f}",
               f"bare readline loop {bare:,.0f}/s", ratio(agent, bare), "≥ 0.5× bare",
               agent >= 0.5 * bare),
    ]
    return text, targets


# -- field load -------------------------------------------------------------------------
BARE_READERS = """
import os, selectors, sys, threading, serial
def read(path):
    port = serial.Serial(path, 115200, timeout=0.5)
    while True:
        port.readline()
def read_chunks(path):  # what the port has at once, split into lines here
    port = serial.Serial(path, 115200, timeout=0.5)
    pending = b""
    while True:
        pending += port.read(max(1, min(port.in_waiting, 65536)))
        *lines, pending = pending.split(b"\\n")
def read_binary(path):  # as a binary driver reads: what the port has, at once
    port = serial.Serial(path, 921600, timeout=0.2)
    while True:
        port.read(max(1, min(port.in_waiting, 65536)))
def read_all(paths):  # one thread, one select over every port, the bytes read and dropped
    ports = [serial.Serial(p, 115200, timeout=0) for p in paths]
    selector = selectors.DefaultSelector()
    for port in ports:
        selector.register(port.fileno(), selectors.EVENT_READ)
    while True:
        for key, _ in selector.select(1.0):
            os.read(key.fd, 65536)
paths = [arg.rpartition("bin:")[2] for arg in sys.argv[2:]]
if sys.argv[1] == "select":
    threading.Thread(target=read_all, args=(paths,), daemon=True).start()
else:
    lines = read_chunks if sys.argv[1] == "chunks" else read
    for arg in sys.argv[2:]:
        binary, _, path = arg.rpartition("bin:")
        threading.Thread(target=read_binary if _ else lines, args=(path,), daemon=True).start()
print("ready", flush=True)
sys.stdin.read()
"""
BARE_MODES = {
    "select": "one thread, one `select` over every port, bytes read and dropped (the I/O floor)",
    "chunks": "a pyserial thread per port reading what is waiting, lines split",
    "readline": "a pyserial thread per port, `readline` for the line channels",
}


def feed(ptys: Sequence[Pty], hz: float, stop_event: threading.Event,
         vib: Pty | None = None) -> None:
    """Write one reading to every pty ``hz`` times a second until stopped; with ``vib``, also
    one accelerometer frame per tick (``hz`` × VIB_FRAME = 500 samples/s per axis at 10 Hz)."""
    i = 0
    period = 1 / hz
    next_at = time.monotonic()
    while not stop_event.is_set():
        line = reading(i)
        for pty in ptys:
            pty.write(line)
        if vib is not None:
            vib.write(vibration_frames(1, first=i))
        i += 1
        next_at += period
        stop_event.wait(max(0.0, next_at - time.monotonic()))


def sample_for(sampler: Sampler, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        sampler.sample()
        time.sleep(1.0)
    sampler.sample()


def bare_field(channels: int, hz: float, seconds: float, vibration: bool,
               mode: str = "select") -> tuple[float, float]:
    """(CPU share, median RSS MB) of a bare reader process under the same load, reading the
    ports as ``BARE_MODES[mode]`` says."""
    ptys = [Pty.open() for _ in range(channels)]
    vib = Pty.open() if vibration else None
    paths = [p.path for p in ptys] + ([f"bin:{vib.path}"] if vib else [])
    reader = subprocess.Popen([sys.executable, "-c", BARE_READERS, mode, *paths],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    halt = threading.Event()
    try:
        assert reader.stdout is not None
        reader.stdout.readline()
        threading.Thread(target=feed, args=(ptys, hz, halt, vib), daemon=True).start()
        time.sleep(2)
        sampler = Sampler(reader.pid)
        sample_for(sampler, seconds)
        return sampler.cpu_share(), statistics.median(s[2] for s in sampler.samples)
    finally:
        halt.set()
        stop(reader)
        for pty in ptys + ([vib] if vib else []):
            pty.close()


def task_cpu(pid: int) -> dict[int, float]:
    """CPU seconds (user + system) of each thread of ``pid``, from /proc/<pid>/task/*/stat."""
    tick = os.sysconf("SC_CLK_TCK")
    out: dict[int, float] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # the thread ended meanwhile
            continue
        out[int(task.name)] = (int(fields[11]) + int(fields[12])) / tick
    return out


def thread_names(pid: int) -> dict[int, str]:
    """Python thread names by native thread id, from ``py-spy dump`` (empty without py-spy:
    Python 3.11 does not give its threads' names to the OS)."""
    import re

    try:
        dump = subprocess.run([console_script("py-spy"), "dump", "--pid", str(pid)],
                              capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.TimeoutExpired):
        return {}
    return {int(m[1]): m[2] for m in re.finditer(r'^Thread (\d+) \(\w+\): "([^"]*)"', dump, re.M)}


def thread_split(before: dict[int, float], after: dict[int, float], seconds: float,
                 names: dict[int, str]) -> list[tuple[str, float]]:
    """(thread name, CPU share) over a window, busiest first; threads under 0.01% left out."""
    shares = [(names.get(tid, f"thread {tid}"), (cpu - before.get(tid, 0.0)) / seconds)
              for tid, cpu in after.items()]
    return sorted((x for x in shares if x[1] >= 0.0001), key=lambda x: -x[1])


def agent_field(channels: int, hz: float, seconds: float, vibration: bool,
                sample_every: float = 1.0) -> dict[str, object]:
    """A real agent under field load for ``seconds``: READY time, CPU and RSS samples."""
    wd = workdir("edge-field")
    broker = start_broker(wd)
    ptys = [Pty.open() for _ in range(channels)]
    vib = Pty.open() if vibration else None
    sensors = [(f"s{i:02d}", p.path) for i, p in enumerate(ptys)]
    config = edge_toml(DEVICE, "bench", broker.port, wd / "state", sensors, high=LIMIT)
    process, notify, started, log_path = start_agent(
        wd, config + ("\n" + vibration_toml(vib.path) if vib else ""))
    halt = threading.Event()
    try:
        ready = notify.wait_ready(15)
        if ready is None:
            raise RuntimeError(f"the agent did not report READY; see {log_path}")
        threading.Thread(target=feed, args=(ptys, hz, halt, vib), daemon=True).start()
        time.sleep(2)
        pid = real_pid(process)
        sampler = Sampler(pid)
        tasks = task_cpu(pid)
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            sampler.sample()
            time.sleep(sample_every)
        sampler.sample()
        split = thread_split(tasks, task_cpu(pid), sampler.samples[-1][0] - sampler.samples[0][0],
                             thread_names(pid))
        if process.poll() is not None:
            raise RuntimeError(f"the agent exited during the run; see {log_path}")
        return {"startup": ready - started, "sampler": sampler, "dropped": dropped_events(log_path),
                "threads": split}
    finally:
        halt.set()
        stop(process)
        notify.close()
        broker.stop()
        for pty in ptys + ([vib] if vib else []):
            pty.close()


BARE_START = "import serial, paho.mqtt.client"


def bench_field(field_s: float, channels: int = 16, hz: float = 10.0
                ) -> tuple[str, list[Target]]:
    vibration = has_vibration()
    log(f"field: bare reader, one select loop, {channels} channels at {hz:g} Hz for {field_s:g} s")
    bare_cpu, bare_rss = bare_field(channels, hz, field_s, vibration, "select")
    log(f"field: real agent for {field_s:g} s")
    got = agent_field(channels, hz, field_s, vibration)
    others = {}
    for mode in ("chunks", "readline"):
        log(f"field: bare readers, {mode}, for {field_s / 2:g} s")
        others[mode] = bare_field(channels, hz, field_s / 2, vibration, mode)[0]
    sampler = got["sampler"]
    assert isinstance(sampler, Sampler)
    startup = float(got["startup"])  # type: ignore[arg-type]
    cpu = sampler.cpu_share()
    rss = statistics.median(s[2] for s in sampler.samples)
    threads = got["threads"]
    assert isinstance(threads, list)
    split = ", ".join(f"{name} {100 * share:.2f}%" for name, share in threads)
    bare_start = statistics.median(_timed([sys.executable, "-c", BARE_START]) for _ in range(5))
    load = f"{channels} ch × {hz:g} Hz" + (" + 500 Hz triaxial accelerometer" if vibration else "")
    rows = [
        ["CPU, share of one core", f"{100 * cpu:.2f}%", f"{100 * bare_cpu:.2f}%",
         ratio(cpu, bare_cpu)],
        ["CPU per thread (agent)", split, "", ""],
        *([f"CPU of bare readers: {BARE_MODES[mode]} ({field_s / 2:g} s)", "",
           f"{100 * other:.2f}%", ratio(cpu, other)] for mode, other in others.items()),
        ["RSS, median over the window", f"{rss:.1f} MB", f"{bare_rss:.1f} MB",
         ratio(rss, bare_rss)],
        ["start-up: spawn → READY=1 (agent) / spawn → exit of "
         f"`python -c '{BARE_START}'` (bare)", f"{startup:.2f} s", f"{bare_start:.2f} s",
         ratio(startup, bare_start)],
    ]
    text = (f"### Field load: {load}, {field_s:g} s window\n\n"
            + table(["figure", "agent", "bare readers", "agent / bare"], rows)
            + "\n\nCPU and RSS from /proc/<pid>/stat and status, sampled each second; per "
            "thread from /proc/<pid>/task/*/stat over the same window, named by `py-spy dump`; "
            "READY timed from spawning `lifeline-edge run` to `READY=1` on a NOTIFY_SOCKET we "
            "own (broker already up). The bare baseline is the cheapest way to take the same "
            f"bytes off the same ports: {BARE_MODES['select']}, no decoding, no queue. The two "
            "other bare rows read as the agent used to, a pyserial thread per port; they run "
            "for half the window, after the agent. The feeder writes every port in one burst "
            "per tick, so readers wake about 10-20 times a second; sensors out of phase would "
            "wake them more often."
            + (f" The agent dropped {got['dropped']} readings." if got["dropped"] else ""))
    targets = [
        Target("field load CPU, share of one core", f"{100 * cpu:.2f}%",
               f"bare select loop {100 * bare_cpu:.2f}%; limit 2%",
               f"{ratio(cpu, bare_cpu)} bare; {ratio(cpu, 0.02)} limit", "≤ 2% (Pi 4: ≤ 15%)",
               cpu <= 0.02),
        Target("field load RSS (median)", f"{rss:.1f} MB",
               f"bare select loop {bare_rss:.1f} MB; limit 60 MB",
               f"{ratio(rss, bare_rss)} bare; {ratio(rss, 60)} limit", "≤ 60 MB", rss <= 60),
        Target("start-up to READY", f"{startup:.2f} s",
               f"bare interpreter + imports {bare_start:.2f} s; limit 1.5 s",
               f"{ratio(startup, bare_start)} bare; {ratio(startup, 1.5)} limit", "≤ 1.5 s",
               startup <= 1.5),
    ]
    return text, targets


def _timed(argv: Sequence[str]) -> float:
    started = time.monotonic()
    subprocess.run(argv, check=True)
    return time.monotonic() - started


# "No growth": RSS rising by at most 6 MB a day (10% of the 60 MB budget), i.e. ~4 kB/min. A
# one-page (4 kB) step at a later checkpoint moves a 10-minute fit by well under 1 kB/min.
SOAK_LIMIT_KB_MIN = 6000 / (24 * 60)
SOAK_MARGIN_S = 30.0  # after the first checkpoint save, before the steady part begins


def bench_soak(soak_s: float, channels: int = 16, hz: float = 10.0,
               concurrent: bool = False) -> tuple[str, list[Target]]:
    """RSS of the agent under field load for ``soak_s``: its slope over the whole run, and
    over the steady part after a warm-up that holds the first checkpoint save.

    The agent's first save (edge/agent.py ``CHECKPOINT_FIRST_S``) takes ~0.35 MB once, for
    good (the allocator keeps what encoding every detector's state used; Python's own
    allocations stay flat under tracemalloc). The verdict is on the steady part, which still
    holds the later saves (every ``CHECKPOINT_EVERY_S``); the raw slope is shown beside it.
    """
    from edge.agent import CHECKPOINT_EVERY_S, CHECKPOINT_FIRST_S

    vibration = has_vibration()
    log(f"soak: real agent under field load for {soak_s:g} s")
    got = agent_field(channels, hz, soak_s, vibration, sample_every=2.0)
    sampler = got["sampler"]
    assert isinstance(sampler, Sampler)
    samples = [(t, rss) for t, _, rss in sampler.samples]
    # Sampling starts ~2 s after READY, so the first save falls a little before this mark.
    warm = min(CHECKPOINT_FIRST_S + SOAK_MARGIN_S, soak_s / 2)
    after = [(t, rss) for t, rss in samples if t >= warm]
    raw_kb = 1000 * slope_per_minute(samples)
    slope_kb = 1000 * slope_per_minute(after)
    start = statistics.median(r for t, r in samples if t < min(30.0, warm))
    first = statistics.median(r for t, r in after if t < warm + 60)
    last = statistics.median(r for t, r in after if t >= after[-1][0] - 60)
    length = after[-1][0] - after[0][0]
    middle = after[0][0] + length / 2
    halves = [1000 * slope_per_minute([x for x in after if x[0] < middle]),
              1000 * slope_per_minute([x for x in after if x[0] >= middle])]
    saves = [CHECKPOINT_FIRST_S + k * CHECKPOINT_EVERY_S
             for k in range(int(soak_s // CHECKPOINT_EVERY_S) + 1)]
    steady_saves = [f"{x:.0f}" for x in saves if warm <= x <= soak_s]
    text = (f"### Soak: RSS over {soak_s:.0f} s under the field load\n\n"
            + table(["figure", "value"], [
                [f"RSS slope of the steady part, after the first {warm:g} s (least squares; "
                 "the verdict)", f"{slope_kb:+.1f} kB/min"],
                ["RSS slope, first half / second half of the steady part",
                 f"{halves[0]:+.1f} / {halves[1]:+.1f} kB/min"],
                ["RSS slope of the whole run, warm-up included (raw)", f"{raw_kb:+.1f} kB/min"],
                [f"RSS, median of the first {min(30.0, warm):g} s", f"{start:.2f} MB"],
                ["RSS, median of the first minute after warm-up", f"{first:.2f} MB"],
                ["RSS, median of the last minute", f"{last:.2f} MB"],
                ["peak RSS", f"{sampler.peak_rss():.2f} MB"],
                ["CPU share over the soak", f"{100 * sampler.cpu_share():.2f}%"]])
            + f"\n\nRSS sampled every 2 s. The warm-up holds the agent's first detector "
            f"checkpoint save ({CHECKPOINT_FIRST_S:g} s after start: it takes ~0.35 MB once, "
            "the allocator keeping what encoding the detectors' state used) and "
            f"{SOAK_MARGIN_S:g} s more; the steady part holds the later saves (every "
            f"{CHECKPOINT_EVERY_S:g} s: at {', '.join(steady_saves) or 'none'} s in this run). "
            "\"No growth\" is taken as a steady slope of at most "
            f"{SOAK_LIMIT_KB_MIN:.1f} kB/min (6 MB a day, a tenth of the RSS budget); the raw "
            "slope is shown so that nothing is hidden in the warm-up."
            + (" The soak ran alongside the hub and end-to-end benchmarks (to fit 10 minutes "
               "in `make bench`), so its CPU share is not a field-load figure; the quiet "
               "60 s field window above is." if concurrent else ""))
    targets = [Target(f"field load RSS slope over {length / 60:.1f} min (after a {warm:g} s "
                      "warm-up holding the first checkpoint save)",
                      f"{slope_kb:+.1f} kB/min (raw {raw_kb:+.1f})",
                      f"first minute {first:.1f} MB; last {last:.1f} MB",
                      ratio(last, first), f"no growth over 10 min (≤ {SOAK_LIMIT_KB_MIN:.1f} "
                      "kB/min)", slope_kb <= SOAK_LIMIT_KB_MIN,
                      "" if soak_s >= 600 else f"soak of {soak_s:g} s, shorter than the 600 s asked")]
    return text, targets


# -- imports ----------------------------------------------------------------------------
def import_cost() -> tuple[str, list[Target]]:
    wd = workdir("edge-imports")
    broker = start_broker(wd)
    pty = Pty.open()
    process, notify, _, log_path = start_agent(
        wd, edge_toml(DEVICE, "bench", broker.port, wd / "state", [("s0", pty.path)]),
        python_flags=("-X", "importtime"))
    try:
        if notify.wait_ready(20) is None:
            raise RuntimeError(f"the agent did not report READY; see {log_path}")
        time.sleep(1.0)
        rss = rss_mb(process.pid)
    finally:
        stop(process)
        notify.close()
        broker.stop()
        pty.close()
    modules = parse_importtime(log_path.read_text())
    base = subprocess.run([sys.executable, "-X", "importtime", "-c",
                           "import serial, sqlite3, paho.mqtt.client, time, os; "
                           "print(open(f'/proc/{os.getpid()}/status').read())"],
                          capture_output=True, text=True, check=True)
    base_modules = parse_importtime(base.stderr)
    base_rss = next(int(line.split()[1]) / 1000 * 1.024 for line in base.stdout.splitlines()
                    if line.startswith("VmRSS:"))
    tops = sorted({m.split(".")[0] for m in modules})
    heavy = [h for h in HEAVY_MODULES if h in tops]
    rows = [["`lifeline-edge run`, 1 `lines` sensor, at READY", len(modules), f"{rss:.1f} MB",
             ", ".join(heavy) or "none"],
            ["bare: `import serial, sqlite3, paho.mqtt.client`", len(base_modules),
             f"{base_rss:.1f} MB", ""],
            ["agent / bare", ratio(len(modules), len(base_modules)), ratio(rss, base_rss), ""]]
    text = table(["process", "modules imported", "RSS", f"heavy ({', '.join(HEAVY_MODULES)})"],
                 rows)
    outside = [t for t in tops if t not in sys.stdlib_module_names and not t.startswith("_")]
    text += (f"\n\nTop-level packages imported by the agent: {len(tops)}, of which outside "
             f"the standard library: {', '.join(f'`{t}`' for t in outside)}.")
    costly = sorted(modules.items(), key=lambda kv: -kv[1])[:8]
    text += ("\n\nLargest cumulative import times (µs, under `-X importtime`): "
             + ", ".join(f"`{m}` {us:,}" for m, us in costly) + ".")
    targets = [Target("agent imports and RSS at READY (1 `lines` sensor)",
                      f"{len(modules)} modules, {rss:.1f} MB",
                      f"bare {len(base_modules)} modules, {base_rss:.1f} MB",
                      f"{ratio(len(modules), len(base_modules))} modules; {ratio(rss, base_rss)} RSS",
                      "heavy optional modules only when configured", not heavy,
                      f"heavy: {', '.join(heavy)}" if heavy else "")]
    return text, targets


def parse_importtime(stderr: str) -> dict[str, int]:
    """``-X importtime`` lines → {module: cumulative µs} (the first time each is imported)."""
    found: dict[str, int] = {}
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "imported package" in line:
            continue
        parts = line.split("|")
        if len(parts) == 3:
            found.setdefault(parts[2].strip(), int(parts[1]))
    return found


# -- vibration ------------------------------------------------------------------------------
VIB_RATE = 500
VIB_FRAME = 50  # samples per axis per frame: 10 frames a second at 500 Hz


def vibration_toml(port: str) -> str:
    """A triaxial accelerometer section as hardware/profiles/accelerometer-triaxial.toml has it."""
    return (f'[[sensors]]\nid = "accel"\nkind = "structure.vibration"\ndriver = "vibration"\n'
            f'port = "{port}"\nbaudrate = 921600\nsample_rate_hz = {VIB_RATE}\n'
            'axes = ["x", "y", "z"]\nwindow_s = 1.0\nsample_scale = 0.001\n'
            "bands = [[1, 10], [10, 50], [50, 150]]\nsilence_s = 3600.0\n")


def vibration_frames(frames: int, first: int = 0) -> bytes:
    """``frames`` frames of a 12 Hz + 80 Hz triaxial vibration with a little noise."""
    from edge.drivers.frames import encode_frame

    out = []
    for f in range(first, first + frames):
        rows = []
        for j in range(VIB_FRAME):
            t = (f * VIB_FRAME + j) / VIB_RATE
            base = 200 * math.sin(2 * math.pi * 12 * t) + 40 * math.sin(2 * math.pi * 80 * t)
            rows.append((int(base) + j % 5, int(0.5 * base) - j % 3, 1000 + int(0.2 * base)))
        out.append(encode_frame(f, VIB_RATE, rows))
    return b"".join(out)


def has_vibration() -> bool:
    try:
        import edge.drivers.vibration  # noqa: F401
    except ImportError:
        return False
    return True


def bench_vibration(frames: int) -> tuple[str, list[Target]]:
    """Samples/s (one per axis value) through decode + features, and features alone."""
    import numpy as np

    from edge.config import load_edge_config
    from edge.drivers.features import window_features
    from edge.drivers.vibration import VibrationDecoder

    wd = workdir("edge-vibration")
    path = wd / "edge.toml"
    path.write_text(edge_toml(DEVICE, "bench", 1883, wd / "state", []) + "\n"
                    + vibration_toml("/dev/null"))
    settings = load_edge_config(path).sensors[0].vibration
    assert settings is not None
    data = vibration_frames(frames)
    samples = frames * VIB_FRAME * len(settings.axes)
    decoder = VibrationDecoder(settings)
    started = time.perf_counter()
    windows = 0
    for at in range(0, len(data), 4096):  # as the reader hands over what the port has
        windows += len(decoder.feed(data[at:at + 4096]))
    full = samples / (time.perf_counter() - started)
    counts = np.frombuffer(b"".join(  # the same samples, already decoded: numpy features only
        data[i + 12:i + 12 + 6 * VIB_FRAME] for i in range(0, len(data), 14 + 6 * VIB_FRAME)),
        dtype="<i2").reshape(-1, 3).astype(np.float64) * settings.sample_scale
    started = time.perf_counter()
    for at in range(0, counts.shape[0] - settings.window + 1, settings.window):
        window_features(counts[at:at + settings.window], VIB_RATE, settings.bands)
    bare = samples / (time.perf_counter() - started)
    rows = [
        ["numpy features only (`window_features` on decoded arrays)", f"{bare:,.0f}", "1.00×"],
        [f"`VibrationDecoder.feed`: frame decode + CRC + features ({windows} windows)",
         f"{full:,.0f}", ratio(full, bare)],
    ]
    text = (f"### Vibration: raw samples/s ({frames:,} frames of {VIB_FRAME} samples × 3 axes, "
            "500 Hz)\n\n" + table(["path", "samples/s", "vs features only"], rows)
            + "\n\nA sample is one axis value (a 500 Hz triaxial stream is 1,500/s); bytes are "
            "fed in 4 KiB chunks, in this process.")
    targets = [Target("vibration raw samples/s (decode + CRC + features)", f"{full:,.0f}/s",
                      f"features only {bare:,.0f}/s; limit 1,000,000/s",
                      f"{ratio(full, bare)} features only; {ratio(full, 1_000_000)} limit",
                      "≥ 1,000,000/s", full >= 1_000_000)]
    return text, targets


# -- main -----------------------------------------------------------------------------
PARTS = ("lines", "vibration", "field", "imports", "soak")
SOAK_BEGIN, SOAK_END = "<!-- perf:edge-soak:begin -->", "<!-- perf:edge-soak:end -->"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--readings", type=int, default=200_000, help="readings per throughput run")
    parser.add_argument("--field-seconds", type=float, default=60.0)
    parser.add_argument("--soak-seconds", type=float, default=600.0,
                        help="length of the RSS soak (issue: 600)")
    parser.add_argument("--frames", type=int, default=20_000, help="vibration frames to decode")
    parser.add_argument("--only", choices=PARTS, action="append",
                        help="run only these parts (repeatable)")
    parser.add_argument("--skip", choices=PARTS, action="append", default=[],
                        help="leave these parts out (repeatable)")
    parser.add_argument("--concurrent", action="store_true",
                        help="say in the soak's text that it ran alongside other benchmarks")
    parser.add_argument("--write-docs", action="store_true")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    parts = [p for p in (args.only or PARTS) if p not in args.skip]
    command = command_line(None if argv is None else ["benchmarks/bench_edge.py", *argv])
    if parts == ["soak"]:  # the soak alone fills its block inside the edge section
        text, targets = bench_soak(args.soak_seconds, concurrent=args.concurrent)
        body = (f"{text}\n\nCommand: `{command}`, finished {now_utc()}.\n\n"
                + targets_table(targets))
        print(body)
        if args.write_docs:
            write_section("edge-soak", body)
        return 0
    out = [header("Edge agent", command)]
    targets: list[Target] = []
    if "lines" in parts:
        text, found = bench_lines(args.readings)
        out.append(text)
        targets += found
    if "vibration" in parts:
        if has_vibration():
            log(f"vibration: {args.frames} frames of {VIB_FRAME} triaxial samples")
            text, found = bench_vibration(args.frames)
            out.append(text)
            targets += found
        else:
            out.append("### Vibration\n\n**Pending issue 3**: no vibration driver in edge/.")
    if "field" in parts:
        text, found = bench_field(args.field_seconds)
        out.append(text)
        targets += found
    if "imports" in parts:
        log("imports: -X importtime up to READY")
        text, found = import_cost()
        out.append("### Import cost\n\n" + text)
        targets += found
    if "soak" in parts:
        text, found = bench_soak(args.soak_seconds)
        soak = text + "\n\n" + targets_table(found)
    else:
        soak = ("### Soak\n\nRunning separately (`bench_edge.py --only soak`); its figures "
                "replace this paragraph when it ends.")
    out.insert(1, targets_table(targets))
    out.append(f"{SOAK_BEGIN}\n{soak}\n{SOAK_END}")
    body = "\n\n".join(out)
    print(body)
    if args.write_docs:
        write_section("edge", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
