"""Fault-injection rig: a numbered alert stream through real processes, and the books kept on it.

One sensor on a pseudo-terminal reached through a symlink (as udev's
``/dev/lifeline/<name>``), ``lifeline-edge run`` and ``lifeline-hub run`` as
subprocesses, a real Mosquitto. The sensor alternates a reading above the
``high`` limit with a normal one, so the ``k``-th high reading raises exactly one
limit alert whose value encodes ``k`` (every tenth is red, the rest orange):
the stream is numbered, and a lost or doubled reading shows.

What the edge *accepted* is read from its log (``alert id=... seq=...``, written
right after the outbox commit) plus, after a kill -9, the outbox itself; what the
hub *stored* is read from its SQLite store, read-only. Incidents are compared
in a canonical form (zone, hazard, grade, set of alert ids) with a fault-free
reference: the same stored alerts fused in sequence order by ``hub.core.fusion``
(sensor-fault alerts only as far as ``split_incidents`` says).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hub.config import FusionConfig
from hub.core.fusion import Fusion, Joined, Merged, Opened
from hub.core.incident import DEVICE_HAZARD, MAINTENANCE_HAZARD
from lifeline import wire
from lifeline.grades import Grade
from lifeline.localbroker import Broker, stop_process
from lifeline.mqtt_security import is_loopback
from tests.support import edgetoml
from tests.support.processes import script, wait_for
from tests.support.pty import PtySensor as Pty  # the test writes its master, the agent opens path

DEVICE = "edge-fault-1"
ZONE = "fault-zone"
SENSOR = "main-pressure"
HIGH = 600.0
HIGH_CRITICAL = 100_000.0
ORANGE_BASE = 1000.0
RED_BASE = 200_000.0
FUSION = FusionConfig(window_s=300.0, quiet_s=3600.0, max_span_s=21600.0)
FIGURES_ENV = "LIFELINE_RELIABILITY_JSON"
_ALERT_LINE = re.compile(rb"alert id=([0-9a-f]{32}) seq=(\d+)")

Canonical = frozenset[tuple[str, str, str, frozenset[str]]]


# -- the numbered stream ---------------------------------------------------------------------

def numbered_line(n: int) -> bytes:
    """Line ``n`` of the stream: even lines are the k-th breach (k = n // 2), odd ones normal."""
    if n % 2:
        return b"300.0\n"
    k = n // 2
    return f"{(RED_BASE if k % 10 == 0 else ORANGE_BASE) + k:.1f}\n".encode()


def breach_number(value: float) -> int:
    """The ``k`` a limit alert's value encodes (inverse of ``numbered_line``)."""
    return int(round(value - (RED_BASE if value >= RED_BASE else ORANGE_BASE)))


class NumberedStream:
    """Writes ``numbered_line(n)`` at ``rate_hz`` to whichever pty is current (None: unplugged)."""

    def __init__(self, link: Path, rate_hz: float = 20.0) -> None:
        self.link = link
        self.rate_hz = rate_hz
        self.pty: Pty | None = None
        self.lines = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.plug(Pty())

    def plug(self, pty: Pty) -> None:
        """Point the symlink at ``pty`` (atomically, as udev re-creating /dev/lifeline/x)."""
        tmp = self.link.with_name(self.link.name + ".new")
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(pty.path)
        os.replace(tmp, self.link)
        with self._lock:
            self.pty = pty

    def unplug(self) -> None:
        """The device vanishes: udev removes its link, its pty closes. (A link left dangling
        could meet another process's new pty under the same /dev/pts number, and the agent
        would read that one: tests run side by side in xdist workers.)"""
        self.link.unlink(missing_ok=True)
        with self._lock:
            pty, self.pty = self.pty, None
        if pty is not None:
            pty.close()

    def start(self) -> None:
        def loop() -> None:
            period = 1.0 / self.rate_hz
            next_at = time.monotonic()
            while not self._stop.is_set():
                with self._lock:
                    if self.pty is not None:
                        try:
                            os.write(self.pty.master, numbered_line(self.lines))
                            self.lines += 1
                        except OSError:  # buffer full or unplugged: the line is lost upstream
                            pass
                next_at += period
                self._stop.wait(max(0.0, next_at - time.monotonic()))
        self._thread = threading.Thread(target=loop, name="numbered-stream", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)

    def close(self) -> None:
        self.stop()
        self.unplug()


# -- configs ---------------------------------------------------------------------------------

def edge_toml(state_dir: Path, port: int,
              sensors: str | Mapping[str, Any] | Sequence[Mapping[str, Any]],
              host: str = "127.0.0.1", max_alerts: int = 100_000, keepalive: int = 5) -> str:
    """An edge.toml whose detector never alerts (limits only), repeating every second.

    ``sensors``: one sensor's table or several (``numbered_sensor``, ``lines_sensor``), or
    TOML text to append (a test of how the edge reads a sensor's keys). Plain TCP everywhere: a broker outside
    loopback (the partition's veth address) needs the explicit opt-in, or the agent tries
    TLS against the test broker's plain listener.
    """
    mqtt: dict[str, Any] = {"host": host, "port": port, "keepalive": keepalive}
    if not is_loopback(host):
        mqtt["insecure_plain_tcp"] = True
    head = edgetoml.edge_toml(
        device=DEVICE, zone=ZONE, state_dir=state_dir, mqtt=mqtt,
        outbox={"max_alerts": max_alerts},
        detection={"threshold": 1.0, "clear_threshold": 0.0, "min_readings": 10000,
                   "repeat_s": 1.0},
        sensors=() if isinstance(sensors, str) else [sensors] if isinstance(sensors, Mapping)
        else sensors)
    return head + sensors if isinstance(sensors, str) else head


def numbered_sensor(port: str) -> dict[str, Any]:
    return edgetoml.lines_sensor(SENSOR, port, columns=["pressure_kpa"], baudrate=115200,
                                 unit="kPa", high=HIGH, high_critical=HIGH_CRITICAL,
                                 silence_s=3.0)


def hub_toml(port: int, store: Path, host: str = "127.0.0.1") -> str:
    return (f'[mqtt]\nhost = "{host}"\nport = {port}\nkeepalive = 5\n\n[store]\npath = "{store}"\n\n'
            f"[fusion]\nwindow_s = {FUSION.window_s}\nquiet_s = {FUSION.quiet_s}\n"
            f"max_span_s = {FUSION.max_span_s}\n")


# -- reading the books -----------------------------------------------------------------------

def wait_for_log(log: Path, text: str, timeout: float, after: int = 0) -> int:
    """Wait until ``text`` appears in ``log`` past byte ``after``; return where it ends."""
    needle = text.encode()

    def probe() -> int | None:
        data = log.read_bytes() if log.exists() else b""
        at = data.find(needle, after)
        return at + len(needle) if at >= 0 else None
    return wait_for(probe, timeout, f"{text!r} in {log.name}")


def logged_alert_ids(*logs: Path) -> dict[str, int]:
    """Alert id -> seq from the edge's ``alert id=... seq=...`` lines (outbox commit done)."""
    found: dict[str, int] = {}
    for log in logs:
        if log.exists():
            for match in _ALERT_LINE.finditer(log.read_bytes()):
                found[match.group(1).decode()] = int(match.group(2))
    return found


def _read_only(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)


def outbox_ids(state_dir: Path) -> dict[str, int]:
    """Alert id -> seq of what the edge's outbox holds (read-only; the agent may be dead)."""
    path = state_dir / "outbox.db"
    if not path.exists():
        return {}
    db = _read_only(path)
    try:
        return {str(i): int(s) for i, s in db.execute("SELECT id, seq FROM outbox")}
    finally:
        db.close()


@dataclass(frozen=True)
class StoredAlert:
    id: str
    seq: int
    reason: str
    grade: int
    value: float | None
    message: str
    body: str


def stored_alerts(store: Path) -> list[StoredAlert]:
    if not store.exists():
        return []
    db = _read_only(store)
    try:
        rows = db.execute("SELECT id, seq, reason, grade, value, message, body FROM alerts "
                          "ORDER BY seq").fetchall()
    except sqlite3.OperationalError:  # the hub has not created its schema yet
        return []
    finally:
        db.close()
    return [StoredAlert(*row) for row in rows]


def store_incidents(store: Path) -> Canonical:
    """The store's incidents with alerts, canonical: (zone, hazard, grade, alert ids)."""
    db = _read_only(store)
    try:
        rows = db.execute("SELECT i.id, i.zone, i.hazard, i.grade, a.alert_id FROM incidents i "
                          "JOIN incident_alerts a ON a.incident_id = i.id "
                          "WHERE i.status != 'merged'").fetchall()
    finally:
        db.close()
    groups: dict[int, tuple[str, str, int, set[str]]] = {}
    for incident, zone, hazard, grade, alert_id in rows:
        groups.setdefault(incident, (zone, hazard, grade, set()))[3].add(alert_id)
    return frozenset((z, h, Grade(g).label, frozenset(ids)) for z, h, g, ids in groups.values())


def reference_incidents(bodies: Iterable[str]) -> Canonical:
    """The incidents a fault-free hub makes of these alerts, fed once each in sequence order."""
    alerts = sorted((wire.decode_alert(b.encode()) for b in bodies), key=lambda a: a.seq)
    fusion = Fusion(FUSION)
    member: dict[str, int] = {}
    for alert in alerts:
        for change in fusion.alert(alert, now=alert.ts):
            if isinstance(change, Merged) and change.absorbed is not None:
                for key, incident in member.items():
                    if incident == change.absorbed.id:
                        member[key] = change.incident.id
            if isinstance(change, Opened | Joined) and change.alert is not None:
                member[change.alert.id] = change.incident.id
    by_id = {i.id: i for i in fusion.incidents}
    groups: dict[int, set[str]] = {}
    for alert_id, incident in member.items():
        groups.setdefault(incident, set()).add(alert_id)
    return frozenset((by_id[i].zone, by_id[i].hazard, by_id[i].grade.label, frozenset(ids))
                     for i, ids in groups.items())


# Figures wait here until the test's verdict is known (tests/faults/conftest.py flushes them),
# so the table never shows the figures of a failed scenario as if it had passed.
_pending: dict[str, dict[str, Any]] = {}


def split_incidents(incidents: Canonical) -> tuple[Canonical, frozenset[str]]:
    """Hazard incidents as they are, and the ids of the alerts in device or maintenance ones.

    Which of the two hosts a sensor-fault alert depends on device statuses (a fault the
    device logged while the hub saw it offline joins the device incident); statuses are
    not part of the numbered stream the reference replays, and a fault-free run has no
    outage, so only membership in one of them is compared for those.
    """
    hazards = frozenset(i for i in incidents if i[1] not in (DEVICE_HAZARD, MAINTENANCE_HAZARD))
    faults = frozenset(a for i in incidents - hazards for a in i[3])
    return hazards, faults


def record_figures(scenario: str, figures: dict[str, Any]) -> None:
    """Keep one scenario's figures until ``flush_figures`` learns whether its test passed."""
    _pending[scenario] = figures


def flush_figures(verdict: str) -> None:
    """Merge the pending figures, with ``verdict``, into the JSON file $LIFELINE_RELIABILITY_JSON."""
    pending = dict(_pending)
    _pending.clear()
    target = os.environ.get(FIGURES_ENV)
    if not target or not pending:
        return
    path = Path(target)
    data = json.loads(path.read_text()) if path.exists() else {}
    for scenario, figures in pending.items():
        data[scenario] = {**figures, "verdict": verdict}
    path.write_text(json.dumps(data, indent=2) + "\n")


_COLUMNS = (("accepted", "accepted at edge"), ("stored", "stored at hub"),
            ("duplicated_in_store", "duplicated"), ("redeliveries_absorbed", "redeliveries absorbed"),
            ("dropped", "dropped by outbox bound"), ("lost", "lost"),
            ("recovery_s", "recovery (s)"), ("verdict", "verdict"))


def render_table(data: dict[str, dict[str, Any]]) -> str:
    """The figures as a Markdown table, one row per scenario (in the order they ran)."""
    lines = ["| scenario | fault | " + " | ".join(title for _, title in _COLUMNS) + " |",
             "|---|---|" + "---:|" * (len(_COLUMNS) - 1) + "---|"]
    for scenario, figures in data.items():
        cells = ["-" if figures.get(key) is None else str(figures[key]) for key, _ in _COLUMNS]
        lines.append(f"| {scenario} | {figures['fault']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


# -- the rig ---------------------------------------------------------------------------------

@dataclass
class Rig:
    """Broker, hub, edge and a numbered sensor in ``workdir``; every process killed at exit."""

    workdir: Path
    persistence: bool = True
    max_alerts: int = 100_000
    edge_host: str = "127.0.0.1"
    edge_port: int = 0  # default: the broker's port
    broker_extra: str = ""
    edge_prefix: list[str] = field(default_factory=list)  # e.g. ["ip", "netns", "exec", ns]
    broker: Broker = field(init=False)
    stream: NumberedStream = field(init=False)
    hub: subprocess.Popen[bytes] | None = None
    edge: subprocess.Popen[bytes] | None = None
    edge_runs: int = 0
    killed_outbox: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        # As root, Mosquitto drops to user "mosquitto", which cannot write its persistence file
        # in our work directory ("Error: Permission denied" in mosquitto.log, and persistence
        # silently off): keep root for the test broker.
        user = "user root\n" if os.geteuid() == 0 else ""
        self.broker = Broker(self.workdir / "broker", persistence=self.persistence,
                             extra_config=user + self.broker_extra)
        if self.edge_host != "127.0.0.1":  # a second listener where the edge can reach it
            self.broker.extra_config += f"\nlistener {self.broker.port} {self.edge_host}\n"
        self.store = self.workdir / "hub.db"
        self.state_dir = self.workdir / "edge-state"
        self.hub_log = self.workdir / "hub.log"
        self.hub_config = self.workdir / "hub.toml"
        self.edge_config = self.workdir / "edge.toml"
        self.port_link = self.workdir / "ttyLifeline0"
        self.stream = NumberedStream(self.port_link)

    def __enter__(self) -> Rig:
        self.broker.start()
        self.hub_config.write_text(hub_toml(self.broker.port, self.store))
        self.edge_config.write_text(edge_toml(self.state_dir, self.edge_port or self.broker.port,
                                              [numbered_sensor(str(self.port_link))],
                                              host=self.edge_host, max_alerts=self.max_alerts))
        return self

    def __exit__(self, *exc: object) -> None:
        self.stream.close()
        for proc in (self.edge, self.hub):
            _stop(proc)
        self.broker.stop()

    # processes
    def _spawn(self, argv: list[str], log: Path,
               env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        with open(log, "ab") as out:
            return subprocess.Popen(argv, stdout=out, stderr=out, start_new_session=True,
                                    env=None if env is None else {**os.environ, **env})

    def start_hub(self) -> None:
        offset = _size(self.hub_log)
        self.hub = self._spawn([script("lifeline-hub"), "run", "--config", str(self.hub_config),
                                "--log-level", "DEBUG"], self.hub_log)
        wait_for_log(self.hub_log, "subscribed to", 15, after=offset)

    @property
    def edge_logs(self) -> list[Path]:
        return [self.workdir / f"edge-{n}.log" for n in range(1, self.edge_runs + 1)]

    def start_edge(self, wait_connected: bool = True, env: dict[str, str] | None = None) -> None:
        """Start ``lifeline-edge run``; ``env`` adds variables (systemd's NOTIFY_SOCKET ...)."""
        self.edge_runs += 1
        log = self.edge_logs[-1]
        self.edge = self._spawn([*self.edge_prefix, script("lifeline-edge"), "run", "--config",
                                 str(self.edge_config)], log, env)
        if wait_connected:
            wait_for_log(log, "connected to broker", 20)

    def kill_hub(self) -> None:
        _kill9(self.hub)
        self.hub = None

    def kill_edge(self) -> None:
        """kill -9 (power-loss analogue), then note what its outbox held."""
        _kill9(self.edge)
        self.edge = None
        self.killed_outbox.update(outbox_ids(self.state_dir))

    def stop_edge(self) -> None:
        _stop(self.edge)
        self.edge = None

    def stop_hub(self) -> None:
        _stop(self.hub)
        self.hub = None

    # books
    def accepted(self) -> dict[str, int]:
        return {**self.killed_outbox, **logged_alert_ids(*self.edge_logs)}

    def stored_ids(self) -> set[str]:
        return {a.id for a in stored_alerts(self.store)}

    def wait_stored(self, count: int, timeout: float) -> None:
        wait_for(lambda: len(self.stored_ids()) >= count or None, timeout,
                 f"{count} alerts in the hub store")

    def mark(self) -> tuple[float, set[str]]:
        """The moment a fault ends, and what the edge had accepted by then."""
        return time.monotonic(), set(self.accepted())

    def recovery_s(self, mark: tuple[float, set[str]], timeout: float) -> float:
        """Seconds from ``mark`` until the store holds everything accepted by then."""
        since, wanted = mark
        wait_for(lambda: not (wanted - self.stored_ids()), timeout,
                 f"the {len(wanted)} alerts accepted before the fault ended to be stored",
                 every=0.1)
        return time.monotonic() - since

    def settle(self, timeout: float, dropped: Callable[[], int] = lambda: 0) -> None:
        """Stop the sensor, then wait until the store holds everything accepted (but the
        ``dropped()`` the outbox bound threw away) and the outbox is empty."""
        self.stream.stop()
        time.sleep(0.5)

        def done() -> bool:
            missing = set(self.accepted()) - self.stored_ids()
            return len(missing) <= dropped() and not outbox_ids(self.state_dir)
        wait_for(done, timeout, "the hub store to hold every accepted alert and an empty outbox")

    def edge_dropped_ids(self) -> set[str]:
        """Alerts the edge's outbox bound dropped, from its ``outbox full ... ids=`` warnings."""
        return {i.decode() for log in self.edge_logs if log.exists()
                for ids in re.findall(rb"lower-grade alert\(s\): ids=([0-9a-f,]+)", log.read_bytes())
                for i in ids.split(b",")}

    def edge_drops(self) -> int:
        """Dropped alerts the hub never got (some are dropped while already in flight)."""
        return len(self.edge_dropped_ids() - self.stored_ids())

    def hub_duplicates(self) -> int:
        """Redeliveries the hub recognised and stored nothing for (DEBUG lines, all runs)."""
        return self.hub_log.read_bytes().count(b"duplicate alert id=")

    def check(self, scenario: str, fault: str, recovery_s: float | None,
              **extra: Any) -> dict[str, Any]:
        """Assert the guarantee and return (and record) the figures."""
        accepted = self.accepted()
        stored = stored_alerts(self.store)
        ids = [a.id for a in stored]
        seqs = [a.seq for a in stored]
        breaches = Counter(breach_number(a.value) for a in stored
                           if a.reason == "limit" and a.value is not None)
        doubled_breaches = sorted(k for k, n in breaches.items() if n > 1)
        missing = set(accepted) - set(ids)
        dropped = missing & self.edge_dropped_ids()  # by the outbox bound, logged with ids
        lost = missing - dropped
        unexpected = set(ids) - set(accepted)
        figures = {
            "fault": fault, "accepted": len(accepted), "stored": len(stored), "dropped": len(dropped),
            "lost": len(lost), "unexpected": len(unexpected),
            "duplicated_in_store": (len(ids) - len(set(ids))) + (len(seqs) - len(set(seqs)))
            + len(doubled_breaches),
            "redeliveries_absorbed": self.hub_duplicates(),
            "recovery_s": None if recovery_s is None else round(recovery_s, 1),
            "lines_written": self.stream.lines, **extra,
        }
        record_figures(scenario, figures)
        assert not unexpected, f"alerts in the store the edge never accepted: {sorted(unexpected)[:5]}"
        assert len(ids) == len(set(ids)) and len(seqs) == len(set(seqs)), "duplicates in the store"
        assert not doubled_breaches, f"readings alerted twice: {doubled_breaches[:10]}"
        assert not lost, (f"{len(lost)} accepted alerts neither stored nor dropped by the "
                          f"outbox bound: {sorted(lost)[:5]}")
        hazards, faults = split_incidents(store_incidents(self.store))
        want_hazards, want_faults = split_incidents(reference_incidents(a.body for a in stored))
        assert hazards == want_hazards, ("hazard incidents differ from the fault-free reference: "
                                         f"{len(hazards - want_hazards)} only in the store, "
                                         f"{len(want_hazards - hazards)} only in the reference")
        assert faults == want_faults, "sensor-fault alerts outside device/maintenance incidents"
        return figures


def _size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def _kill9(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is not None and proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def _stop(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is not None:
        stop_process(proc, timeout=10)


def have_netns() -> bool:
    """True when this process may create network namespaces (root with iproute2)."""
    return os.geteuid() == 0 and shutil.which("ip") is not None


# -- network partition -----------------------------------------------------------------------

@dataclass
class Netns:
    """A network namespace joined to the host by a veth pair in a /30 of 10.x addresses.

    The broker listens on ``host_ip``; a process started with ``prefix`` lives in the
    namespace and reaches the broker only over the pair. ``cut()`` takes the host end
    down (a silent partition: packets vanish, nothing is refused); ``heal()`` brings it back.
    """

    name: str
    host_ip: str = "10.213.0.1"
    ns_ip: str = "10.213.0.2"

    @property
    def host_if(self) -> str:
        return f"{self.name[:10]}-h"

    @property
    def prefix(self) -> list[str]:
        return ["ip", "netns", "exec", self.name]

    def _ip(self, *args: str) -> None:
        subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)

    def __enter__(self) -> Netns:
        ns_if = f"{self.name[:10]}-n"
        try:
            self._ip("netns", "add", self.name)
            self._ip("link", "add", self.host_if, "type", "veth", "peer", "name", ns_if)
            self._ip("link", "set", ns_if, "netns", self.name)
            self._ip("addr", "add", f"{self.host_ip}/30", "dev", self.host_if)
            self._ip("link", "set", self.host_if, "up")
            self._ip("netns", "exec", self.name, "ip", "addr", "add", f"{self.ns_ip}/30", "dev",
                     ns_if)
            self._ip("netns", "exec", self.name, "ip", "link", "set", ns_if, "up")
            self._ip("netns", "exec", self.name, "ip", "link", "set", "lo", "up")
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        for args in (("link", "del", self.host_if), ("netns", "del", self.name)):
            subprocess.run(["ip", *args], capture_output=True, timeout=10)

    def cut(self) -> None:
        self._ip("link", "set", self.host_if, "down")

    def heal(self) -> None:
        self._ip("link", "set", self.host_if, "up")


def netns_available() -> str | None:
    """None if this process can create network namespaces, else why not."""
    if os.geteuid() != 0:
        return "not root"
    if shutil.which("ip") is None:
        return "iproute2 (ip) is not installed"
    probe = f"llprobe{os.getpid()}"
    done = subprocess.run(["ip", "netns", "add", probe], capture_output=True, timeout=10)
    subprocess.run(["ip", "netns", "del", probe], capture_output=True, timeout=10)
    return None if done.returncode == 0 else done.stderr.decode(errors="replace").strip()


class TcpProxy:
    """Fallback partition when namespaces are unavailable: a TCP relay the test can cut.

    ``cut()`` stops relaying bytes both ways but keeps the sockets open (packets vanish,
    like a partition) and refuses nothing; ``heal()`` closes the stale connections so
    the client notices and reconnects through the proxy.
    """

    def __init__(self, target_port: int) -> None:
        import socket
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.open = threading.Event()
        self.open.set()
        self.pairs: list[tuple[Any, Any]] = []
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        import socket
        self.listener.settimeout(0.2)
        while not self._stop.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=2)
            except OSError:
                client.close()
                continue
            self.pairs.append((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, src: Any, dst: Any) -> None:
        while not self._stop.is_set():
            try:
                data = src.recv(65536)
            except OSError:
                break
            if not data:
                break
            self.open.wait()
            try:
                dst.sendall(data)
            except OSError:
                break
        for sock in (src, dst):
            try:
                sock.close()
            except OSError:
                pass

    def cut(self) -> None:
        self.open.clear()

    def heal(self) -> None:
        for pair in self.pairs:
            for sock in pair:
                try:
                    sock.close()
                except OSError:
                    pass
        self.pairs.clear()
        self.open.set()

    def close(self) -> None:
        self._stop.set()
        self.heal()
        self.listener.close()


if __name__ == "__main__":  # python -m tests.support.faults figures.json: print the table
    import sys
    print(render_table(json.loads(Path(sys.argv[1]).read_text())))
