#!/usr/bin/env python3
"""Several hubs on one PostgreSQL store (issue 17): alerts/s with 1, 2 and 3 hubs against
one SQLite hub in the same run, CPU per process, and failover time.

Each run replays one seeded city scenario (``benchmarks/city_scenario.py``, as
``bench_fusion``) through a private Mosquitto into ``lifeline-hub run`` subprocesses:
one hub on a SQLite file (the default deployment), or N hubs on one PostgreSQL
database sharing the alerts through ``[mqtt] share_group``. The publisher sends the
whole scenario as fast as the broker takes it; a run's rate is alerts stored per second
from the first publish to the last alert committed. Every run's incidents (zone,
hazard, member alerts, grade, status) are compared with the SQLite hub's: they must be
identical. The failover figure kills -9 the hub that holds the singleton lease in the
middle of a 3-hub run and times until another hub has taken it over (its log says so).

On a 2-core machine three hubs, PostgreSQL and Mosquitto share two cores: the CPU
seconds each process used are printed beside the rates, so the ratio is read honestly.

    .venv/bin/python benchmarks/bench_scale_out.py --districts 2 --hours 8   # ~1 min
    .venv/bin/python benchmarks/bench_scale_out.py --write-docs              # docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from a clean clone: make the repo importable
    sys.path.insert(0, str(ROOT))

from benchmarks.bench_fusion import scenario_stored  # noqa: E402
from benchmarks.city_scenario import Scenario, generate  # noqa: E402
from benchmarks.common import cpu_seconds  # noqa: E402
from benchmarks.loadgen import Publisher  # noqa: E402
from hub.config import StoreConfig  # noqa: E402
from hub.store import Store  # noqa: E402
from lifeline import wire  # noqa: E402
from lifeline.localbroker import Broker, stop_process  # noqa: E402

__all__ = ["GROUP", "HubRun", "IncidentKey", "hub_toml", "incident_set", "replay_hubs"]

GROUP = "lifeline-hubs"
# The shipped broker's queue limits (as bench_fusion), and no persistence: a test's broker
BROKER_CONFIG = "max_queued_messages 100000\nmax_queued_bytes 67108864\n"
TAKEOVER = re.compile(r"lease singleton taken")
STALL_S = 5.0  # failover: the store has not grown for this long, the rest died with the hub

# (zone, hazard, member alert ids, devices of a device incident, grade, status)
IncidentKey = tuple[str, str, tuple[str, ...], tuple[str, ...], str, str]


@dataclass
class HubRun:
    """What one replay produced."""

    hubs: int
    backend: str
    incidents: set[IncidentKey]
    alerts: int
    wall_s: float
    cpu_s: list[float] = field(default_factory=list)  # per hub process
    stored_by: list[int] = field(default_factory=list)  # alerts each hub committed
    takeover_s: float | None = None  # kill -9 of the lease holder -> another holds it
    resent: int = 0  # alerts the dead hub held uncommitted, published again (edges resend)

    @property
    def rate(self) -> float:
        return self.alerts / self.wall_s if self.wall_s > 0 else 0.0


def hub_toml(scenario: Scenario, port: int, client_id: str, store_url: str | None,
             workdir: Path, share: bool) -> str:
    """The city's hub.toml for one hub: its own client id, the store, the share group."""
    text = scenario.city.hub_toml(port, client_id, store=str(workdir / "hub.db"))
    if store_url is not None:
        text = text.replace(f'[store]\npath = "{workdir / "hub.db"}"\n',
                            f'[store]\nurl = "{store_url}"\n')
    if share:
        text = text.replace("[mqtt]\n", f'[mqtt]\nshare_group = "{GROUP}"\n', 1)
    return text


def incident_set(store: Store) -> set[IncidentKey]:
    """Every incident not merged away, as what must not depend on how many hubs made it."""
    found = set()
    for incident in store.incidents():
        devices = incident.devices if incident.hazard == "device" else ()
        found.add((incident.zone, incident.hazard, tuple(store.alert_ids(incident.id)),
                   tuple(devices), incident.grade.label, incident.status.value))
    return found


def _payloads(scenario: Scenario) -> list[tuple[str, bytes]]:
    out = []
    for m in scenario.messages:
        if m.alert is not None:
            out.append((wire.alert_topic(m.alert.device), wire.encode(m.alert)))
        elif m.status is not None:
            out.append((wire.status_topic(m.status.device), wire.encode(m.status)))
    return out


def _hub_script() -> str:
    found = Path(sys.executable).parent / "lifeline-hub"
    return str(found) if found.exists() else "lifeline-hub"


def _wait(probe: Callable[[], bool], timeout_s: float, what: str,
          hubs: Sequence[subprocess.Popen[bytes] | None]) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if probe():
            return
        for n, hub in enumerate(hubs):
            if hub is not None and hub.poll() is not None:
                raise RuntimeError(f"hub {n} exited with {hub.returncode} waiting for {what}")
        time.sleep(0.05)
    raise RuntimeError(f"timed out after {timeout_s:.0f} s waiting for {what}")


def replay_hubs(scenario: Scenario, workdir: Path, hubs: int = 1, store_url: str | None = None,
                timeout_s: float = 60.0, kill_holder_at: float | None = None) -> HubRun:
    """Replay ``scenario`` into ``hubs`` hub subprocesses on ``store_url`` (PostgreSQL; None:
    one hub on a SQLite file); ``kill_holder_at``: kill -9 the lease holder once this share
    of the scenario is published."""
    if store_url is None and hubs != 1:
        raise ValueError("several hubs need a PostgreSQL store")
    workdir.mkdir(parents=True, exist_ok=True)
    broker = Broker(workdir / "broker", extra_config=BROKER_CONFIG)
    broker.start()
    procs: list[subprocess.Popen[bytes] | None] = []
    logs = [workdir / f"hub-{n}.log" for n in range(hubs)]
    publisher = None
    store_config = StoreConfig(path=workdir / "hub.db", url=store_url)
    try:
        for n in range(hubs):
            config = workdir / f"hub-{n}.toml"
            config.write_text(hub_toml(scenario, broker.port, f"hub-{n}-{uuid.uuid4().hex[:6]}",
                                       store_url, workdir, share=store_url is not None))
            with open(logs[n], "ab") as out:
                procs.append(subprocess.Popen([_hub_script(), "run", "--config", str(config)],
                                              stdout=out, stderr=out, start_new_session=True))
        _wait(lambda: all(p.exists() and "subscribed to" in p.read_text() for p in logs),
              timeout_s, "every hub to subscribe", procs)
        _wait(lambda: any(TAKEOVER.search(p.read_text()) for p in logs) or store_url is None,
              timeout_s, "a hub to hold the lease", procs)
        items = _payloads(scenario)
        n_alerts = sum(1 for m in scenario.messages if m.alert is not None)
        offline = {m.device for m in scenario.messages
                   if m.status is not None and m.status.state == "offline"}
        publisher = Publisher(broker.port, f"bench-scale-{uuid.uuid4().hex[:8]}")
        started = time.time()
        killed_at: float | None = None
        resent = 0
        kill_index = None if kill_holder_at is None else int(len(items) * kill_holder_at)
        watcher: threading.Thread | None = None
        took_over: list[float] = []
        for i, (topic, payload) in enumerate(items):
            if i == kill_index:
                holder = next(n for n, p in enumerate(logs) if TAKEOVER.search(p.read_text()))
                process = procs[holder]
                assert process is not None
                os.killpg(process.pid, signal.SIGKILL)
                killed_at = time.monotonic()
                process.wait()
                procs[holder] = None
                survivors = [p for n, p in enumerate(logs) if n != holder]
                watcher = threading.Thread(target=_watch_takeover,
                                           args=(survivors, killed_at, timeout_s, took_over),
                                           daemon=True)
                watcher.start()
            publisher.publish(topic, payload)
        if not publisher.wait_acked(publisher.published, timeout=timeout_s):
            raise RuntimeError("the broker did not acknowledge the whole scenario")
        reader = Store.reader(store_config) if store_url is not None else None

        def settled() -> bool:
            store = reader if reader is not None else Store.reader(store_config)
            if store is None or not store.has_schema():
                return False
            try:
                return scenario_stored(store, n_alerts, offline)
            finally:
                if reader is None:
                    store.close()

        try:
            if killed_at is not None:  # what the dead hub held: resent, as its edges would
                resent = _resend_missing(scenario, store_config, publisher, procs)
            _wait(settled, timeout_s, f"the hubs to store {n_alerts} alerts", procs)
            wall = time.time() - started
            cpu = [cpu_seconds(p.pid) if p is not None else float("nan") for p in procs]
            store = reader if reader is not None else Store.reader(store_config)
            assert store is not None
            incidents = incident_set(store)
            if reader is None:
                store.close()
        finally:
            if reader is not None:
                reader.close()
        if watcher is not None:
            watcher.join(timeout_s)
        takeover = took_over[0] if took_over else None
        run = HubRun(hubs, "sqlite" if store_url is None else "postgresql", incidents,
                     n_alerts, wall, cpu, [], takeover, resent)
    finally:
        if publisher is not None:
            publisher.close()
        for process in procs:
            if process is not None:
                stop_process(process, timeout=10)
        broker.stop()
    run.stored_by = [_stored(p) for p in logs]  # from their last stats lines, once stopped
    return run


def _resend_missing(scenario: Scenario, config: StoreConfig, publisher: Publisher,
                    procs: Sequence[subprocess.Popen[bytes] | None]) -> int:
    """Once the store stops growing (STALL_S), publish again every alert it lacks: what the
    dead hub had received but not committed, which the broker dropped with its session and
    an edge would resend after its ack timeout (30 s; tests/faults/test_scale_out.py has
    real edges do it). How many were resent."""
    store = Store.reader(config)
    assert store is not None
    try:
        last, since = -1, time.monotonic()
        while time.monotonic() - since < STALL_S:
            count = store.count_alerts()
            if count != last:
                last, since = count, time.monotonic()
            _wait(lambda: True, 1, "", procs)
            time.sleep(0.1)
        stored = {r[0] for r in store.db.execute("SELECT id FROM alerts")}
    finally:
        store.close()
    missing = [m.alert for m in scenario.messages
               if m.alert is not None and m.alert.id not in stored]
    for alert in missing:
        publisher.publish(wire.alert_topic(alert.device), wire.encode(alert))
    return len(missing)


def _stored(log: Path) -> int:
    """Alerts a hub says it stored (its last stats line, written as it stops)."""
    found = re.findall(r"stored=(\d+)", log.read_text()) if log.exists() else []
    return int(found[-1]) if found else 0


def _watch_takeover(logs: Sequence[Path], killed_at: float, timeout_s: float,
                    out: list[float]) -> None:
    """Append the seconds from ``killed_at`` (monotonic) until one of ``logs`` says its hub
    took the lease."""
    deadline = killed_at + timeout_s
    while time.monotonic() < deadline:
        if any(TAKEOVER.search(p.read_text()) for p in logs if p.exists()):
            out.append(time.monotonic() - killed_at)
            return
        time.sleep(0.02)


NOTE = ("Each run replays one seeded city scenario (benchmarks/city_scenario.py) through a "
        "private Mosquitto into `lifeline-hub run` subprocesses: one hub on a SQLite file, or "
        "N hubs on one PostgreSQL database (fsync on) sharing the alerts through `[mqtt] "
        "share_group`. Rate: alerts stored per second from the first publish to the last "
        "commit, one Python publisher at QoS 1. CPU: seconds each hub process used in the "
        "run; the hubs, PostgreSQL, Mosquitto and the publisher share the machine's cores, "
        "so a rate that does not grow with hubs is the machine's bound, not the design's. "
        "Identical: the incident set (zone, hazard, member alerts, grade, status) equals the "
        "SQLite hub's. Failover: the hub holding the singleton lease is killed -9 half-way; "
        "the time is from the kill to another hub's log line saying it took the lease.")


def _cpu(run: HubRun) -> str:
    return " + ".join(f"{c:.1f}" for c in run.cpu_s)


def main(argv: Sequence[str] | None = None) -> int:
    from tests.support.postgres import new_cluster

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--districts", type=int, default=4)
    parser.add_argument("--hours", type=float, default=12.0)
    parser.add_argument("--density", type=int, default=4)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--hubs", type=int, default=3, help="up to this many PostgreSQL hubs")
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args(argv)
    import tempfile

    scenario = generate(seed=args.seed, districts=args.districts, hours=args.hours,
                        base=time.time() - args.hours * 3600 - 900, density=args.density)
    work = Path(tempfile.mkdtemp(prefix="bench-scale-out-"))
    cluster = new_cluster(durable=True)
    try:
        runs = [replay_hubs(scenario, work / "sqlite", 1, None, timeout_s=600)]
        for n in range(1, args.hubs + 1):
            url = cluster.new_database(f"bench_{n}")
            runs.append(replay_hubs(scenario, work / f"pg-{n}", n, url, timeout_s=600))
        url = cluster.new_database("bench_failover")
        failover = replay_hubs(scenario, work / "failover", args.hubs, url, timeout_s=600,
                               kill_holder_at=0.5)
    finally:
        cluster.stop()
    base = runs[0]
    lines = [f"scenario: seed {args.seed}, {args.districts} districts, {args.hours:g} h, density "
             f"{args.density}: {base.alerts} alerts, {len(base.incidents)} incidents", "",
             "| store | hubs | alerts/s | vs SQLite | CPU s per hub | identical incidents |",
             "|---|---:|---:|---:|---|---|"]
    for run in runs:
        lines.append(f"| {run.backend} | {run.hubs} | {run.rate:.0f} | {run.rate / base.rate:.2f} "
                     f"| {_cpu(run)} | {'yes' if run.incidents == base.incidents else 'NO'} |")
    took = failover.takeover_s if failover.takeover_s is not None else float("nan")
    lines.append("")
    lines.append(f"failover ({args.hubs} hubs, the lease holder killed -9 half-way): lease taken "
                 f"over after {took:.2f} s; {failover.resent} alerts it held uncommitted "
                 "resent (as edges do after their ack timeout) and stored once; "
                 f"incidents identical: {'yes' if failover.incidents == base.incidents else 'NO'}")
    print("\n".join(lines))
    if args.write_docs:
        from benchmarks.common import command_line, header, write_section

        write_section("scale-out", header("Scale-out: several hubs on one PostgreSQL store",
                                          command_line(None if argv is None else
                                                       [__file__, *argv]))
                      + "\n" + NOTE + "\n\n" + "\n".join(lines))
    ok = all(run.incidents == base.incidents for run in runs) and failover.incidents == base.incidents
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
