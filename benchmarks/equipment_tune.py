"""Pick the multichannel detector's settings on the equipment benchmark's TUNING split only.

``python benchmarks/equipment_tune.py [--jobs N]``: runs the device pipeline over the tuning
runs once per candidate setting and prints, for each, the multichannel alarm alone and the
product (per-channel default + multichannel). Not part of ``make bench-detect``: it is how the
shipped defaults were chosen, and the held-out split is never looked at here.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.equipment import TUNING_KINDS  # noqa: E402
from benchmarks.equipment_runners import run_device  # noqa: E402
from benchmarks.equipment_scoring import Tally, score_run  # noqa: E402
from benchmarks.pump_sim import ABRUPT, CHANNELS, simulate  # noqa: E402

CANDIDATES: dict[str, dict[str, Any]] = {
    "T² and Q, run of 3": {},
    "Q only, run of 3": {"use_t2": False},
    "T² and Q, run of 8": {"min_readings": 8},
    "Q only, run of 8": {"use_t2": False, "min_readings": 8},
    "T² and Q, 90 % variance": {"variance": 0.9},
    "T² and Q, z = 5": {"z": 5.0},
}


def one(task: tuple[str, str, int]) -> tuple[str, str, Tally, Tally]:
    label, kind, seed = task
    run = simulate(kind, seed, "tuning")
    out = run_device(run.ts, run.values, run.restart, CANDIDATES[label], CHANNELS)
    events = [(e.start, e.end, e.occurrence) for e in run.events]
    return (label, kind, score_run(run.labels, out["multichannel"], events, kind in ABRUPT),
            score_run(run.labels, out["device"], events, kind in ABRUPT))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--only", default=None, help="candidate labels separated by ;")
    args = parser.parse_args(argv)
    labels = args.only.split(";") if args.only else list(CANDIDATES)
    tasks = [(label, kind, seed) for label in labels for kind in TUNING_KINDS for seed in (1, 2)]
    mc: dict[str, Tally] = {label: Tally() for label in labels}
    dev: dict[str, Tally] = {label: Tally() for label in labels}
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        for label, _kind, m, d in pool.map(one, tasks):
            mc[label].add(m)
            dev[label].add(d)
    print("| setting | multichannel F1 | FAR | events | recurrences | median delay abrupt (s) "
          "| false episodes/day | product F1 | product FAR | product episodes/day |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for label in labels:
        m, d = mc[label], dev[label]
        delay = statistics.median(m.abrupt_delays) if m.abrupt_delays else float("nan")
        print(f"| {label} | {m.f1:.3f} | {100 * m.far:.2f} % | {m.detected}/{m.events} "
              f"| {m.recurrences_detected}/{m.recurrences} | {delay:.0f} | {m.episodes_per_day:.2f} "
              f"| {d.f1:.3f} | {100 * d.far:.2f} % | {d.episodes_per_day:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
