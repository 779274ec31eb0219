"""CPU per alert of the hub's ingest, without MQTT (issue 16):
``python benchmarks/bench_ingest_cpu.py [--alerts 60000] [--batch 500] [--baseline GIT_REF]``.

The load generator's alerts (benchmarks/loadgen.py: 1,000 devices in 50 zones, one channel
each) go through ``hub.service.ingest.Ingest`` on a real SQLite store (``synchronous=FULL``,
as the hub runs) in batches of ``--batch``, in a child process per code tree; each child
reports the CPU seconds (``time.process_time``) and wall seconds its batches took. With
``--baseline`` the same is run on that commit's code (``git archive`` on PYTHONPATH) in the
same run, alternating rounds, so a loaded machine slows both alike: the ratio is the figure.
CPU per alert is what one core's capacity is (10,000 alerts/s is 100 µs); the wall time
includes the fsync of each commit.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.common import command_line, header, write_section  # noqa: E402

CHILD = """
import json, sys, tempfile, time
from pathlib import Path
from benchmarks.loadgen import alert_payloads
from hub.config import load_hub_config
from hub.service.ingest import Ingest
from hub.store import Store
alerts, batch, devices, zones = (int(a) for a in sys.argv[1:5])
now = time.time()
payloads = [(topic, payload) for _, topic, payload in alert_payloads(alerts, devices, zones,
                                                                      ts=now - 5)]
with tempfile.TemporaryDirectory() as tmp:
    (Path(tmp) / "hub.toml").write_text('[store]\\npath = "hub.db"\\n')
    config = load_hub_config(Path(tmp) / "hub.toml")
    ingest = Ingest(Store.writer(config.store), config, now)
    cpu, wall = time.process_time(), time.perf_counter()
    for start in range(0, alerts, batch):
        ingest.batch(payloads[start:start + batch], now)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    size = sum(p.stat().st_size for p in Path(tmp).glob("hub.db*"))
    assert ingest.counters.stored == alerts, ingest.counters.line()
    ingest.store.close()
print(json.dumps({"cpu": cpu, "wall": wall, "bytes": size / alerts}))
"""


def run_child(code: Path, alerts: int, batch: int, devices: int, zones: int
              ) -> dict[str, float]:
    # the benchmarks package always from this tree (the load generator), the product from code
    env = dict(os.environ, PYTHONPATH=f"{code}{os.pathsep}{ROOT}")
    out = subprocess.run([sys.executable, "-c", CHILD, str(alerts), str(batch), str(devices),
                          str(zones)], env=env,
                         capture_output=True, text=True, check=True, cwd=code).stdout
    return dict(json.loads(out.splitlines()[-1]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--alerts", type=int, default=60_000)
    parser.add_argument("--batch", type=int, default=500, help="alerts per batch (the hub's max)")
    parser.add_argument("--rounds", type=int, default=3, help="runs per code tree (median)")
    parser.add_argument("--devices", type=int, default=1000,
                        help="devices (one channel each) the alerts come from, round-robin")
    parser.add_argument("--zones", type=int, default=50,
                        help="zones of the devices: one incident per zone (--zones 1 --devices "
                             "20000: one incident of 20,000 channels, an earthquake's)")
    parser.add_argument("--baseline", metavar="GIT_REF")
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args(argv)
    trees = {"this tree": ROOT}
    with tempfile.TemporaryDirectory() as old:
        if args.baseline:
            archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.baseline],
                                     capture_output=True, check=True).stdout
            subprocess.run(["tar", "-x", "-C", old], input=archive, check=True)
            trees[f"baseline {args.baseline}"] = Path(old)
        runs: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
        for _ in range(args.rounds):
            for name, code in trees.items():
                runs[name].append(run_child(code, args.alerts, args.batch, args.devices,
                                            args.zones))
    load = os.getloadavg()
    lines = [f"{args.alerts:,} alerts of the load generator ({args.devices:,} devices, "
             f"{args.zones} zones) through "
             f"`Ingest.batch` in batches of {args.batch} on a SQLite store, median of "
             f"{args.rounds} runs per code tree, alternating; load average at the end "
             f"{load[0]:.2f}, {load[1]:.2f}, {load[2]:.2f} (2 cores, shared).", "",
             "| code | CPU µs per alert | alerts per CPU second | wall alerts/s | bytes per "
             "alert | CPU per alert vs this tree |", "|---|---|---|---|---|---|"]
    mine = statistics.median(r["cpu"] for r in runs["this tree"])
    for name, rs in runs.items():
        cpu = statistics.median(r["cpu"] for r in rs)
        wall = statistics.median(r["wall"] for r in rs)
        size = statistics.median(r["bytes"] for r in rs)
        lines.append(f"| {name} | {1e6 * cpu / args.alerts:,.0f} | {args.alerts / cpu:,.0f} | "
                     f"{args.alerts / wall:,.0f} | {size:,.0f} | {cpu / mine:.2f}× |")
    body = "\n".join(lines)
    print(body)
    if args.write_docs:
        write_section("ingest-cpu", header("Hub ingest without MQTT: CPU per alert (issue 16)",
                                           command_line(None)) + "\n\n" + body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
