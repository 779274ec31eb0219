"""The hub's ingest on its two stores: SQLite (the default) against PostgreSQL (issue 17).

``python benchmarks/bench_store_backends.py [--batches 30] [--batch 500]`` ingests the same
kind of batches through ``hub.service.ingest.Ingest`` (validate, store once, fuse, route,
commit) on a SQLite file (``synchronous=FULL``, as the hub runs) and on a PostgreSQL
database of a private cluster started for the run (unix socket, fsync and synchronous
commit on, as a real server), alternating batch by batch in one run. Prints, per store, the
median milliseconds per batch, alerts/s, and the CPU seconds spent by this process and (for
PostgreSQL) by the server's processes, and the ratio of the medians. On a 2-core machine the
PostgreSQL server competes with the hub for the cores: the CPU figures say where time went.
Needs Debian's postgresql package (as ``make test`` installs it).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.bench_ingest_savepoint import batch  # noqa: E402
from hub.config import load_hub_config  # noqa: E402
from hub.service.ingest import Ingest  # noqa: E402
from hub.store import Store  # noqa: E402
from tests.support.postgres import Postgres, new_cluster  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def server_cpu_s(cluster: Postgres) -> float:
    """CPU seconds (user + system) of the cluster's postmaster and its children so far."""
    first = (cluster.directory / "data" / "postmaster.pid").read_text().split()[0]
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if entry.name == first or fields[1] == first:  # fields[1]: the parent's pid
            total += int(fields[11]) + int(fields[12])
    return total / TICKS


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=30, help="batches per store")
    parser.add_argument("--batch", type=int, default=500, help="alerts per batch (the hub's max)")
    args = parser.parse_args()
    timings: dict[str, list[float]] = {"sqlite": [], "postgresql": []}
    cpu = {"sqlite": 0.0, "postgresql": 0.0}
    server = 0.0
    cluster = new_cluster(durable=True)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            ingests = {}
            for name in timings:
                path = Path(tmp) / f"{name}.toml"
                path.write_text('[store]\npath = "hub.db"\n' if name == "sqlite"
                                else f'[store]\nurl = "{cluster.url}"\n')
                config = load_hub_config(path)
                ingests[name] = Ingest(Store.writer(config.store), config, time.time())
            for _ in range(args.batches):
                for name, ingest in ingests.items():
                    messages = batch(args.batch, time.time())
                    before_server = server_cpu_s(cluster) if name == "postgresql" else 0.0
                    cpu_started, started = time.process_time(), time.perf_counter()
                    ingest.batch(messages, time.time())
                    timings[name].append((time.perf_counter() - started) * 1000)
                    cpu[name] += time.process_time() - cpu_started
                    if name == "postgresql":
                        server += server_cpu_s(cluster) - before_server
            stored = {name: ingest.store.count_alerts() for name, ingest in ingests.items()}
            for ingest in ingests.values():
                ingest.store.close()
    finally:
        cluster.stop(mode="fast")
        shutil.rmtree(cluster.directory, ignore_errors=True)
    medians = {name: statistics.median(t) for name, t in timings.items()}
    print(f"ingest of {args.batches} batches of {args.batch} alerts per store, alternating "
          "batch by batch")
    for name, median in medians.items():
        extra = f", server CPU {server:.1f} s" if name == "postgresql" else ""
        print(f"  {name:<10} median {median:6.1f} ms per batch, {args.batch / median * 1000:7.0f} "
              f"alerts/s; hub process CPU {cpu[name]:.1f} s{extra}; {stored[name]} alerts stored")
    print(f"  ratio postgresql/sqlite (median per batch): "
          f"{medians['postgresql'] / medians['sqlite']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
