"""What the per-message savepoint of issue 13 (item 1) costs the hub's ingest.

``python benchmarks/bench_ingest_savepoint.py [--batches 40] [--batch 500]`` ingests the same
kind of batches through ``hub.service.ingest.Ingest`` on a real SQLite store (``synchronous=FULL``, as
the hub runs) twice in one run, alternating batch by batch: with ``Store.savepoint`` as shipped,
and with it replaced by a no-op (the old behaviour, where one bad message could stop the
batch). Prints the median milliseconds per batch of each and their ratio.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from hub.config import load_hub_config  # noqa: E402
from hub.service.ingest import Ingest  # noqa: E402
from hub.store import Store  # noqa: E402
from lifeline import wire  # noqa: E402
from lifeline.grades import Grade  # noqa: E402


def batch(size: int, now: float, devices: int = 50) -> list[tuple[str, bytes]]:
    out = []
    for n in range(size):
        device = f"edge-{n % devices:03d}"
        alert = wire.Alert(id=uuid.uuid4().hex, device=device, zone=f"z{n % devices:03d}",
                           sensor=f"s{n % 7}", channel="pressure_kpa", kind="water.pressure",
                           ts=now, value=180.0, score=1.0, grade=Grade.ORANGE,
                           reason=wire.Reason.LIMIT, seq=n, unit="kPa", context=(300.0, 180.0))
        out.append((wire.alert_topic(device), wire.encode(alert)))
    return out


@contextlib.contextmanager
def _no_savepoint(self: Store) -> Iterator[None]:
    yield


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=40, help="batches per variant")
    parser.add_argument("--batch", type=int, default=500, help="alerts per batch (the hub's max)")
    args = parser.parse_args()
    shipped = Store.savepoint
    timings: dict[str, list[float]] = {"savepoint": [], "none": []}
    with tempfile.TemporaryDirectory() as tmp:
        ingests = {}
        for name in timings:
            config_path = Path(tmp) / f"{name}.toml"
            config_path.write_text(f'[store]\npath = "{name}.db"\n')
            config = load_hub_config(config_path)
            ingests[name] = Ingest(Store.open_writer(config.store.path), config, time.time())
        for _ in range(args.batches):
            for name, ingest in ingests.items():
                Store.savepoint = shipped if name == "savepoint" else _no_savepoint  # type: ignore[method-assign]
                messages = batch(args.batch, time.time())
                started = time.perf_counter()
                ingest.batch(messages, time.time())
                timings[name].append((time.perf_counter() - started) * 1000)
        Store.savepoint = shipped  # type: ignore[method-assign]
        for ingest in ingests.values():
            ingest.store.close()
    with_sp, without = (statistics.median(timings[k]) for k in ("savepoint", "none"))
    print(f"ingest of {args.batches} batches of {args.batch} alerts, median per batch: "
          f"with savepoints {with_sp:.1f} ms, without {without:.1f} ms, "
          f"ratio {with_sp / without:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
