"""A storm in one incident (issue 13 item 4): ``python benchmarks/bench_storm.py [--skip hub]``.

Prints three tables:

* **fusion**: microseconds per alert joining one incident that already holds 1k .. 10k
  channels (one device with that many sensors in one zone, and that many devices),
  with fusion's running summaries, against the same fusion grading by reading every
  channel (``grading.tally``, what ``assess`` did before) in the same run: the ratio;
* **queue**: in-process through ``hub.service.ingest.Ingest`` on a real SQLite store, a storm of
  yellow alerts then one red alarm of another zone, drained in the hub's batches from its
  priority inbox and, in the same run, in arrival order: how many storm alerts and how
  long before the red alarm is committed;
* **hub**: ``lifeline-hub run`` against a private Mosquitto, 10,000 storm alerts then the
  red alarm published: seconds from its publish to its incident in the store, to the
  storm fully fused, and the hub's peak RSS; with ``--baseline GIT_REF`` the same with
  that commit's hub (``git archive`` on PYTHONPATH) in the same run.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from contextlib import closing
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from a clean clone: make the repo importable
    sys.path.insert(0, str(ROOT))

import paho.mqtt.client as mqtt  # noqa: E402
from paho.mqtt.enums import CallbackAPIVersion  # noqa: E402

from benchmarks.common import (  # noqa: E402
    Sampler,
    console_script,
    hub_toml,
    log,
    start_broker,
    table,
)
from hub.config import FusionConfig, HubConfig, RuleConfig  # noqa: E402
from hub.core import grading  # noqa: E402
from hub.core.fusion import Fusion, Incident  # noqa: E402
from hub.core.priority import PriorityInbox, priority_of  # noqa: E402
from hub.service.ingest import Ingest  # noqa: E402
from hub.service.run import Inbound, drain  # noqa: E402
from hub.store import Store  # noqa: E402
from lifeline import wire  # noqa: E402
from lifeline.grades import Grade  # noqa: E402

T0 = 1_800_000_000.0
WAIT_S = 180.0  # the hub table's bound per run (--wait)
CONFIG = FusionConfig(rules={"structure": RuleConfig(reach="parent", growth_devices=50)})


class Recomputing(Fusion):
    """The same fusion grading from every channel of the incident at each alert."""

    def _tally(self, incident: Incident, rule: RuleConfig) -> grading.Tally:
        return grading.tally(incident, rule)


def storm_alert(n: int, devices: bool, ts: float = T0, grade: Grade = Grade.YELLOW
                ) -> wire.Alert:
    device = f"tilt-{n:05d}" if devices else "tilt-grid-1"
    return wire.Alert(id=f"quake-{n}-{uuid.uuid4().hex[:6]}", device=device, zone="old-town",
                      sensor=f"tilt-{n}", channel="deg", kind="structure.tilt",
                      ts=ts + n * 0.0001, value=2.5, score=0.9, grade=grade,
                      reason=wire.Reason.LIMIT, seq=n)


def red_alarm(ts: float) -> wire.Alert:
    return wire.Alert(id=f"gas-red-{uuid.uuid4().hex[:6]}", device="gas-harbour-3",
                      zone="harbour", sensor="methane", channel="lel", kind="gas.methane",
                      ts=ts, value=62.0, score=1.0, grade=Grade.RED, reason=wire.Reason.LIMIT,
                      seq=1)


def per_alert_us(make: Callable[[FusionConfig, list[Incident]], Fusion], incidents: list[Incident],
                 size: int, probe: int, devices: bool) -> float:
    """The median over 5 rounds of ``probe / 5`` alerts (the machine is shared)."""
    fusion = make(CONFIG, incidents)
    alerts = [storm_alert(size + n, devices, T0 + 0.5) for n in range(probe)]
    rounds = []
    for start in range(0, probe, probe // 5):
        started = time.perf_counter()
        for alert in alerts[start:start + probe // 5]:
            fusion.alert(alert, T0 + 2)
        rounds.append((time.perf_counter() - started) / (probe // 5) * 1e6)
    return statistics.median(rounds)


def bench_fusion(sizes: Sequence[int], probe: int) -> str:
    rows = []
    for devices in (False, True):
        for size in sizes:
            fusion = Fusion(CONFIG)
            for n in range(size):
                fusion.alert(storm_alert(n, devices), T0 + 1)
            incidents = fusion.incidents
            running = per_alert_us(lambda c, i: Fusion(c, i), incidents, size, probe, devices)
            full = per_alert_us(lambda c, i: Recomputing(c, i), incidents, size, probe, devices)
            rows.append([f"{size:,}", "one device, a sensor each" if not devices
                         else "a device each", f"{running:.0f}", f"{full:.0f}",
                         f"{full / running:.1f}x"])
            log(f"fusion {size} devices={devices}: {running:.0f} vs {full:.0f} us/alert")
    return table(["channels in the incident", "storm", "running summaries (µs/alert)",
                  "grading from every channel (µs/alert)", "ratio"], rows)


def bench_queue(sizes: Sequence[int]) -> str:
    rows = []
    for size in sizes:
        for ordered in ("priority", "arrival"):
            with tempfile.TemporaryDirectory() as tmp:
                store = Store.open_writer(Path(tmp) / "hub.db")
                now = time.time()
                ingest = Ingest(store, HubConfig(), now)
                inbox: PriorityInbox[Inbound] = PriorityInbox(size + 1)
                alerts = [*(storm_alert(n, False, now) for n in range(size)), red_alarm(now)]
                for n, alert in enumerate(alerts):
                    message = Inbound(wire.alert_topic(alert.device), wire.encode(alert), n, 1, 1)
                    inbox.put(message, priority_of(message.topic, message.payload)
                              if ordered == "priority" else 0)
                started = time.perf_counter()
                fused = red_after = 0
                red_s = 0.0
                while batch := drain(inbox, 0.01):
                    ingest.batch([(m.topic, m.payload) for m in batch], time.time())
                    if not red_s and any(m.topic.endswith("gas-harbour-3/alert") for m in batch):
                        red_s, red_after = time.perf_counter() - started, fused
                    fused += len(batch)
                total = time.perf_counter() - started
                store.close()
            rows.append([f"{size:,}", ordered, f"{red_after:,}", f"{red_s:.2f}", f"{total:.2f}"])
            log(f"queue {size} {ordered}: red after {red_after} ({red_s:.2f} s), all {total:.2f} s")
    return table(["storm alerts", "inbox order", "storm alerts committed before the red one",
                  "red alarm committed after (s)", "storm fully committed after (s)"], rows)


def count(db: Path, sql: str) -> int:
    try:
        with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)) as conn:
            return int(conn.execute(sql).fetchone()[0] or 0)
    except sqlite3.OperationalError:  # not created yet
        return 0


def bench_hub(size: int, baseline: str | None, wait_s: float) -> str:
    rows = [hub_row(size, None, "this tree", wait_s)]
    if baseline:
        with tempfile.TemporaryDirectory() as old:
            archive = subprocess.run(["git", "-C", str(ROOT), "archive", baseline],
                                     capture_output=True, check=True).stdout
            subprocess.run(["tar", "-x", "-C", old], input=archive, check=True)
            rows.append(hub_row(size, Path(old), f"baseline {baseline}", wait_s))
    return table(["code", "storm alerts", "red alarm's incident stored after its publish (s)",
                  "storm fully fused after the red publish (s)", "hub peak RSS (MB)"], rows)


def hub_row(size: int, code: Path | None, label: str, wait_s: float) -> list[str]:
    """One run of ``lifeline-hub run`` (the code of ``code`` when given: PYTHONPATH)."""
    env = dict(os.environ, PYTHONPATH=str(code)) if code is not None else None
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        broker = start_broker(work)
        config, db, logfile = work / "hub.toml", work / "hub.db", work / "hub.log"
        config.write_text(hub_toml(broker.port, db, f"hub-storm-{uuid.uuid4().hex[:6]}"))
        edge = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"edge-{uuid.uuid4().hex}",
                           protocol=mqtt.MQTTv5)
        edge.max_inflight_messages_set(1000)
        edge.max_queued_messages_set(0)
        with open(logfile, "wb") as out:
            hub = subprocess.Popen([console_script("lifeline-hub"), "run", "--config",
                                    str(config)], stdout=out, stderr=out, env=env)
        try:
            deadline = time.monotonic() + 30
            while "subscribed to" not in logfile.read_text():
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the hub did not subscribe: {logfile.read_text()}")
                time.sleep(0.05)
            sampler = Sampler(hub.pid)
            sampler.sample()
            edge.connect("127.0.0.1", broker.port)
            edge.loop_start()
            now = time.time()
            sent = [edge.publish(wire.alert_topic("tilt-grid-1"),
                                 wire.encode(storm_alert(n, False, now)), qos=1)
                    for n in range(size)]
            for info in sent:
                info.wait_for_publish(timeout=60)
            red = red_alarm(now)
            published = time.monotonic()
            edge.publish(wire.alert_topic(red.device), wire.encode(red), qos=1)
            red_s = storm_s = 0.0
            deadline = published + wait_s
            while time.monotonic() < deadline and not storm_s:
                sampler.sample()
                if not red_s and count(db, "SELECT count(*) FROM incident_alerts WHERE "
                                           f"alert_id = '{red.id}'"):
                    red_s = time.monotonic() - published
                if count(db, "SELECT count(*) FROM incident_alerts") >= size + 1:
                    storm_s = time.monotonic() - published
                time.sleep(0.02)
            sampler.sample()
        finally:
            edge.loop_stop()
            edge.disconnect()
            hub.terminate()
            hub.wait(10)
            broker.stop()
    log(f"hub {label} {size}: red {red_s:.2f} s, storm {storm_s:.2f} s, "
        f"rss {sampler.peak_rss():.0f} MB")
    return [label, f"{size:,}", f"{red_s:.2f}" if red_s else f"not within {wait_s:g} s",
            f"{storm_s:.2f}" if storm_s else f"not within {wait_s:g} s",
            f"{sampler.peak_rss():.0f}"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000,2000,4000,10000",
                        help="channels in the incident for the fusion table")
    parser.add_argument("--probe", type=int, default=500, help="alerts timed at each size")
    parser.add_argument("--queue-sizes", default="4000,10000", help="storm sizes, queue table")
    parser.add_argument("--hub-size", type=int, default=10000, help="storm size, hub table")
    parser.add_argument("--wait", type=float, default=WAIT_S,
                        help="seconds the hub table waits for each run")
    parser.add_argument("--baseline", metavar="GIT_REF",
                        help="also run the hub table with the hub of this commit (git archive)")
    parser.add_argument("--skip", action="append", default=[], choices=["fusion", "queue", "hub"])
    args = parser.parse_args(argv)
    if "fusion" not in args.skip:
        print("## fusion: cost per alert in one incident\n")
        print(bench_fusion([int(s) for s in args.sizes.split(",")], args.probe), "\n")
    if "queue" not in args.skip:
        print("## queue: a red alarm behind a storm, in-process (Ingest, real store)\n")
        print(bench_queue([int(s) for s in args.queue_sizes.split(",")]), "\n")
    if "hub" not in args.skip:
        print("## hub: lifeline-hub run and Mosquitto\n")
        print(bench_hub(args.hub_size, args.baseline, args.wait), "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
