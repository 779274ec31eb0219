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

import numpy as np  # noqa: E402

from benchmarks.equipment import DOCS, TUNING_KINDS, write_docs  # noqa: E402
from benchmarks.equipment_runners import device_sensor, new_device, restart_device, run_device  # noqa: E402
from benchmarks.equipment_scoring import Tally, score_run  # noqa: E402
from benchmarks.pump_sim import ABRUPT, CHANNELS, simulate  # noqa: E402

# Every candidate names z and the run it needs in full, so the labels hold whatever the defaults are.
CANDIDATES: dict[str, dict[str, Any]] = {
    "T² and Q, z = 4.26, run of 3": {"z": 4.26, "min_readings": 3},
    "Q only, z = 4.26, run of 3": {"z": 4.26, "min_readings": 3, "use_t2": False},
    "T² and Q, z = 4.26, run of 6": {"z": 4.26, "min_readings": 6},
    "T² and Q, z = 4.26, run of 8": {"z": 4.26, "min_readings": 8},
    "Q only, z = 4.26, run of 8": {"z": 4.26, "min_readings": 8, "use_t2": False},
    "T² and Q, z = 4.26, run of 3, 90 % variance": {"z": 4.26, "min_readings": 3, "variance": 0.9},
    "T² and Q, z = 5, run of 3": {"z": 5.0, "min_readings": 3},
    "T² and Q, z = 5, run of 6 (shipped)": {"z": 5.0, "min_readings": 6},
    "T² and Q, z = 5, run of 8": {"z": 5.0, "min_readings": 8},
    "T² and Q, z = 6, run of 5": {"z": 6.0, "min_readings": 5},
}


def one(task: tuple[str, int, tuple[str, ...]]) -> list[tuple[str, Tally, Tally]]:
    """One tuning run: the channels once (they never look at the multichannel detector), then
    each candidate's multichannel step over the recorded channel alarms, restart included."""
    kind, seed, labels = task
    run = simulate(kind, seed, "tuning")
    channels = run_device(run.ts, run.values, run.restart, {"use_t2": True, "warmup_s": 1e12},
                          CHANNELS)["channels"]
    events = [(e.start, e.end, e.occurrence) for e in run.events]
    sensor = device_sensor(CHANNELS)
    out = []
    for label in labels:
        device = new_device(sensor, CANDIDATES[label])
        alarm = np.zeros(len(run.values), dtype=np.int8)
        rows, stamps, active = run.values.tolist(), run.ts.tolist(), channels.tolist()
        for i in range(len(rows)):
            if i == run.restart:
                device = restart_device(device, CANDIDATES[label])
            device.process_whole(stamps[i], rows[i], bool(active[i]))
            alarm[i] = device.decider.active
        out.append((label, score_run(run.labels, alarm, events, kind in ABRUPT),
                    score_run(run.labels, alarm | channels, events, kind in ABRUPT)))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--only", default=None, help="candidate labels separated by ;")
    parser.add_argument("--write-docs", action="store_true",
                        help="put the table in docs/benchmarks.md (after the equipment section)")
    args = parser.parse_args(argv)
    labels = args.only.split(";") if args.only else list(CANDIDATES)
    tasks = [(kind, seed, tuple(labels)) for kind in TUNING_KINDS for seed in (1, 2)]
    mc: dict[str, Tally] = {label: Tally() for label in labels}
    dev: dict[str, Tally] = {label: Tally() for label in labels}
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        for results in pool.map(one, tasks):
            for label, m, d in results:
                mc[label].add(m)
                dev[label].add(d)
    lines = ["| setting | multichannel F1 | FAR | events | recurrences | median delay abrupt (s) "
             "| false episodes/day | product F1 | product FAR | product episodes/day |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for label in labels:
        m, d = mc[label], dev[label]
        delay = statistics.median(m.abrupt_delays) if m.abrupt_delays else float("nan")
        lines.append(f"| {label} | {m.f1:.3f} | {100 * m.far:.2f} % | {m.detected}/{m.events} "
                     f"| {m.recurrences_detected}/{m.recurrences} | {delay:.0f} | {m.episodes_per_day:.2f} "
                     f"| {d.f1:.3f} | {100 * d.far:.2f} % | {d.episodes_per_day:.2f} |")
    table = "\n".join(lines)
    print(table)
    if args.write_docs:
        body = "\n".join([
            "### How the multichannel defaults were picked (tuning split only)",
            "",
            f"Command: `python benchmarks/equipment_tune.py --write-docs"
            f"{' --only ...' if args.only else ''}`. "
            "The tuning split's 10 runs, the per-channel pipelines run once per run and each "
            "candidate's multichannel step over their recorded alarms; the held-out split is never "
            "looked at here.",
            "",
            table,
        ])
        write_docs(DOCS, body, "<!-- equipment-tuning:begin -->", "<!-- equipment-tuning:end -->",
                   after="<!-- equipment:end -->")
    return 0


if __name__ == "__main__":
    sys.exit(main())
