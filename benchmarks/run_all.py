"""Every performance benchmark of issue 8: ``python benchmarks/run_all.py`` (``make bench``).

Each benchmark is its own process and they run one after another (the machine is small and
the figures are noisy enough), except the edge agent's 10-minute RSS soak: it only measures
the agent's memory, so it runs in the background from the end of the edge benchmark until
the hub and end-to-end benchmarks are done, which is how the whole run fits in under 20
minutes. Each benchmark prints its figures and rewrites its own section of
``docs/benchmarks.md``; this script then writes the ``summary`` section, every target's row
collected from the sections' targets tables.

Defaults are the issue's figures except:

* the hub's live stream is ``--stream-seconds`` (60 s, as asked): since issue 16 it lasts
  that long whatever the publisher's speed (before, it published rate × seconds alerts,
  600,000, which took ~227 s at the ~2,650/s one paho connection offers here);
* the store holds ``--store-alerts`` (10 million, as asked; ~7 GB on disk, deleted
  afterwards). Its secondary indexes are built once after the copy, not row by row (3 M
  alerts: 144 s -> 97 s in one run; the last full run's 10 M took 388 s before this).

The run at 06f0094 took 20.1 min on a quiet machine; the two changes above cut about
4-5 min of it (estimated from their parts, not from a full run: the machine was shared
when they were made). Measured at 2026-12-03 20:26 UTC, load ~6.5: bench_hub.py --only
throughput --backlog 50000 --seconds 60 (three drains of 50,000 and the 60 s stream)
took 175 s in all, of which the stream and its 15 s wait 77 s.

``bench_scale_out.py`` (1, 2, 3 hubs on PostgreSQL against one SQLite hub, failover) runs
after the end-to-end benchmark; it has no targets table (reported figures).

``--with-nab`` also runs the NAB detector benchmark (``benchmarks/nab.py --write-docs``).
"""

from __future__ import annotations

import argparse
import re
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.common import (  # noqa: E402
    DOCS,
    TARGET_HEADERS,
    compile_product,
    now_utc,
    table,
    target_rows,
    write_section,
)

SECTIONS = ("edge", "hub", "e2e")


def script(name: str, *args: str) -> list[str]:
    return [sys.executable, str(HERE / name), *args, "--write-docs"]


# What limits each figure that can miss, from py-spy profiles of the product processes
# (``LIFELINE_BENCH_PROFILE=run/profiles python benchmarks/bench_hub.py --only throughput``;
# summarise a profile with ``benchmarks.common.top_frames``). Keyed by the start of the
# figure's name in the targets tables; a paragraph is printed only when that figure missed.
LIMITS = {
    "line sensor": (
        "**Line sensor readings/s.** The reader thread's `port.readline()` "
        "(edge/drivers/lines.py): pyserial's `readline` reads one byte per `read(1)`, each a "
        "`select` and an `os.read`. The agent runs at about one full core (its CPU s/s in "
        "the line table), and in a py-spy profile of it under this benchmark ~65% of the "
        "samples are that reader thread inside `serialposix.Serial.read`, while the main "
        "thread (parse, calibrate, detect, decide, outbox) mostly waits on its queue; the "
        "pure path alone runs at the \"pure path\" row's rate. Reader and pipeline share one "
        "interpreter lock, so the agent lands near half of the bare `readline` loop (a "
        "ratio that has measured 0.37 to 0.64 across runs on this shared machine) and the "
        "bare `readline` loop is itself below 50,000/s here: no agent that reads with "
        "`readline` can meet that target on this machine. *What would move it*: read what "
        "is waiting (`port.read(port.in_waiting or 1)`) and split lines in the driver, as "
        "the \"chunked\" baseline row does (two orders of magnitude more lines/s); the agent "
        "would then be bounded by its pipeline thread instead of system calls."),
    "field load CPU": (
        "**Field load CPU.** Where it goes, per thread (the field table's per-thread row, "
        "from /proc/<pid>/task): the one stream reader thread (select over the 17 ports, "
        "os.read, cut lines, parse, a SensorEvent each, one queue batch per wake-up; the "
        "accelerometer's frame decode and numpy features once a second) and the main "
        "thread (health, calibrate, detect, decide) in roughly equal parts, the MQTT "
        "thread ~0. Before e1f5e64 a thread per port did the reading: on a quiet machine "
        "(2026-11-21 23:01 UTC) the agent took 1.75% against 1.08% for bare pyserial "
        "`readline` threads, and 2.10% in a 30 s per-thread run, of which the 16 line "
        "readers ~1.1%, the accelerometer's 0.23%, the main thread 0.57%; after it, 1.27% "
        "(stream thread 0.73%, main 0.53%). The bare baseline is now the cheapest way to "
        "take the same bytes off the ports (one select loop, bytes dropped), so the ratio "
        "to it is the agent's whole cost of decoding and deciding; the per-port pyserial "
        "threads are extra rows. On this shared machine the figures move two- to "
        "fourfold with other engineers' load (5.08% against 4.35% for the readline "
        "threads at 22:24 UTC). *What would move it*: the rest is per-reading Python "
        "on cold caches at ~10-20 wake-ups a second: the profile detector's update "
        "(edge/detectors/profile.py) is the largest single part of the main thread's "
        "share, `parse_line` and the SensorEvent of the reader's. Sensors out of phase "
        "(not the bench's one burst per tick) would wake both threads up to 170 times "
        "a second; a short coalescing wait in the stream thread (a few ms) would bound "
        "that, at that cost in latency."),
    "field load RSS slope": (
        "**RSS over the soak.** The agent's RSS takes one step of ~0.35 MB at its first "
        "detector checkpoint save (60 s after start, `CHECKPOINT_FIRST_S`), inside the "
        "warm-up the verdict leaves out, and small steps at later saves (every 300 s; at "
        "360 s in a 600 s soak). Run of 2026-11-22 00:28 UTC: 43.07 MB in the first minute "
        "after the warm-up, 43.10 MB in the last (peak 43.10 MB), a steady slope of "
        "+4.4 kB/min against the 4.2 kB/min taken as flat, the first half +2.2 and the "
        "second +4.7 kB/min: the fit is the 360 s save's few kB over 8.5 minutes. The run "
        "before it (2026-11-21 23:55 UTC) measured +2.0 kB/min. An earlier 17-minute soak "
        "(RSS every 10 s) saw +4 kB at each of the 600 s and 900 s saves and nothing "
        "between, and under `tracemalloc` the agent's Python allocations stayed flat (13.45 "
        "to 13.42 MB over 8 minutes): the allocator keeping what encoding the state took, "
        "not objects that accumulate. *What would tell*: a soak of an hour or more (several "
        "saves), which `make bench`'s 20 minutes do not hold; *what would move it*: "
        "encoding the checkpoint in pieces so that each save reuses the same memory."),
    "hub drain rate": (
        "**Hub throughput.** The hub's main thread is saturated and it is Python's cost per "
        "alert. Issue 16 (branch throughput, 2026-12-03) cut the ingest's CPU per alert "
        "~2.3-2.5× (benchmarks/bench_ingest_cpu.py, the load generator's alerts through "
        "`Ingest.batch` on SQLite, this tree against main in one run: ~160-240 µs against "
        "~400-520 µs on the loaded 2-core machine): a run of alert messages is validated, "
        "looked up and inserted in one statement each (`Store.add_alerts`, no savepoint per "
        "alert), the canonical payload is stored as received (no second `wire.encode`), the "
        "alerts a batch joins to an incident are one `joined` event (`count`, `alert_ids`), "
        "the rule state and events are encoded by msgspec (json.dumps of a channel's 200 "
        "rows took ~630 µs, msgspec ~45 µs), and an alert that moves no grade or flag makes "
        "no copy of its incident. Bytes written per alert 2,036 -> ~950. A py-spy profile "
        "of that ingest after the changes: fusion (`Fusion.alert`: candidates, the "
        "alert's evidence, `assess`) ~35%; `Store.apply` ~17% (memberships, the folded "
        "events, incident rows, the touched channels' rule state); validation "
        "(`decode_alert_body`) ~12%; the alerts' look-up and insert ~9%; the commit with "
        "its fsync ~10%. *What would move it* to 10,000/s (100 µs per alert for "
        "everything, paho's receive included, which is itself ~46 µs of Python per "
        "message): (1) a second process that receives, validates and inserts the alert "
        "rows, handing fusion and the events feed to the first (the machine has 2 cores: "
        "at most ~2×); (2) fusion per incident and batch (one `assess` and one copy of the "
        "incident per batch, not per alert): a change to fusion's intermediate states "
        "(what a confirmed cause absorbs within a batch), to be shown order-independent "
        "first; (3) the rule state kept as rows appended per alert rather than each touched "
        "channel's 200 rows rewritten per batch. Since then (helper ingest3): a save "
        "looks only at the channels set since the last one (an alert in a 20,000-channel "
        "incident cost 2.2× one in a small incident, now the same), the unread index "
        "`alerts_device_ts` is gone, incident rows are encoded by msgspec."),
    "hub sustained rate": (
        "**Hub sustained rate.** The drain rate's limit, and the machine's: the live stream "
        "offers 10,000/s, the hub commits at its own rate and the rest waits at the "
        "broker. The throughput section gives each process's CPU while the stream is "
        "published: in the run of 2026-11-22 00:53 UTC the hub 0.84 s/s, the load "
        "generator (a paho connection in the benchmark's process) 0.93 s/s and the broker "
        "0.10 s/s, 1.87 of the machine's 2 cores, so the live figure is also bounded by "
        "sharing two cores with the generator; the drained backlog (nothing else running) "
        "is the hub's own capacity."),
    "latency at 1,000/s, publish → printed by `tail`": (
        "**Latency to `tail`.** `tail` wakes on inotify when SQLite writes beside the store "
        "and checks `PRAGMA data_version` every 5 ms for 0.25 s after (hub/desk/commitwatch.py), "
        "so it adds a few ms to the commit latency; see the commit rows for the rest."),
    "latency at 1,000/s, publish → committed": (
        "**Latency to commit at 1,000/s.** Below its capacity the hub commits what its "
        "inbox holds (no collection wait: `drain` takes what is there), ~9 alerts a batch "
        "at 1,000/s. A trace of every batch in the hub (issue 16, 2026-12-03) showed where "
        "the tail comes from: (1) each commit's WAL write and fsync, p50 2, p90 9, p99 19 "
        "ms: a commit of 20 alerts writes ~80 pages of 4 KB, most of them the touched "
        "channels' rule-state rows (each rewritten whole, ~30% of the pages), the events "
        "feed and its per-incident index, the membership index; SQLite's checkpoint every "
        "1,000 pages runs on the committing connection (a PASSIVE checkpoint from a second "
        "thread was tried: the WAL then never restarted and grew to the backstop, so it "
        "was dropped); (2) Python's full garbage collections, 12-29 ms about every 5 s; "
        "(3) paho's network thread, ~40% of the hub's CPU samples, half of it the PUBACKs "
        "of the hub's own QoS 1 Ack messages (one per device and batch); (4) on the shared "
        "machine, waiting for a core: batches whose wall time was twice the process's CPU "
        "time. The receive-maximum window (1,000) is not reached at 1,000/s. *What would "
        "move it*: rule state appended per alert rather than each touched channel "
        "rewritten (fewer pages per commit), checkpoints off the ingest thread with a WAL "
        "that still restarts, less CPU per alert (see the drain rate)."),
    "hub peak RSS": (
        "**Hub memory under overload.** What the hub holds is its incidents' rule state "
        "(at most 200 rows per channel: it fills as the backlog is drained, so a longer "
        "run peaks higher until every channel is full), the bounded inbox, and acks "
        "waiting for room in paho's bounded queue (ids, ~60 bytes an alert, bounded in "
        "the field by each edge's delivery window; the load generator has none). In the run "
        "of 2026-11-22 00:53 UTC the drain of 50,000 alerts filled the rule state to ~50 "
        "rows per channel and the live stream to ~170, with up to ~120,000 ack ids waiting "
        "by its end: 61.3 MB against 47.7 MB. Before 76a3b69 the acks queued inside paho without "
        "bound, up to paho's 65,535 message ids: 197.5 MB against 130.9 MB, so paho's "
        "queue held ~80 to ~140 MB. Since 7f7b6d4 at most 200,000 ack ids wait (~12 MB; "
        "past that the oldest are dropped and the edge resends those alerts). *What would "
        "move it*: a drained backlog large enough to fill every channel's rule state (200 "
        "× the load's 1,000 devices) before the comparison, so the criterion measures the "
        "backlog alone. Measured in process (issue 16, tracemalloc over `Ingest.batch` of "
        "the load generator's alerts): the Python objects fusion holds grew from 6.5 MB at "
        "50 evidence rows per channel to 11.3 MB at 100, ~95 bytes a row (evidence and "
        "readings, tuples of floats): at the cap of 200 about 21 MB, which a compact "
        "per-channel array (8 bytes a number) would cut to about a quarter."),
    "`incidents list": (
        "**`incidents list`.** Nearly all start-up: the \"without start-up\" row is the "
        "store's share (the table's newest 1,000 of 10,000 incidents, read without their "
        "rule state). The process floor (`lifeline-hub incidents` on an empty store) is "
        "itself at or above the limit on this machine when it is busy: the interpreter "
        "(`python -c pass`), then imports, of which `hub.core.incident` and `hub.config` "
        "defining ~28 dataclasses (each `@dataclass` compiles its methods with `exec`, "
        "~20 ms in all), `lifeline.wire`, `logging`, the setuptools editable-install "
        "finder (~15 ms in `python -X importtime`; an installed wheel has none), then "
        "loading and validating hub.toml. *What would move it*: fewer dataclasses on the "
        "desk's import path (the change classes in a module of their own), an installed "
        "(non-editable) package."),
    "`incidents show": (
        "**`incidents show`.** Start-up, as for `incidents list`: the warm call is the "
        "\"without start-up\" row."),
    "retention": (
        "**Retention.** Pruning shares the hub's one writer connection: each step is one "
        "write transaction of at most 1,000 deletes between two ingest batches "
        "(hub/store/retention.py `STEP_ROWS`), so a batch can wait for a step. *What would move "
        "it*: smaller steps (`STEP_ROWS`), or steps only when the inbox is empty."),
    "end to end": (
        "**End to end.** See the section: the share of each stage is the difference between "
        "its rows (edge to broker, hub commit, `tail`)."),
}


def limits(rows: Sequence[Sequence[str]]) -> str:
    """The paragraphs of LIMITS whose figure missed in ``rows`` (section, figure, ..., verdict)."""
    missed = [r[1] for r in rows if r[-1].startswith("**missed**")]
    said = [text for key, text in LIMITS.items()
            if text and any(figure.startswith(key) for figure in missed)]
    others = [figure for figure in missed
              if not any(figure.startswith(key) and LIMITS[key] for key in LIMITS)]
    out = "### What limits the missed figures\n\n" + ("\n\n".join(said) or "Nothing missed.")
    if others:
        out += "\n\nNot analysed yet: " + "; ".join(others) + "."
    return out


def summary(text: str) -> str:
    """Every targets-table row in the perf sections of the docs, one table."""
    rows = []
    for name in SECTIONS:
        found = re.search(rf"<!-- perf:{name}:begin -->(.*?)<!-- perf:{name}:end -->", text, re.S)
        if not found:
            rows.append([name, "not run", "", "", "", "", ""])
            continue
        date = re.search(r"^Date: (.*?)\s*$", found.group(1), re.M)
        for row in target_rows(found.group(1)):
            rows.append([name, *row])
        if date:
            rows.append([name, f"*(section dated {date.group(1)})*", "", "", "", "", ""])
    verdicts = [r[-1] for r in rows]
    met = sum(v.startswith("**met**") for v in verdicts)
    missed = sum(v.startswith("**missed**") for v in verdicts)
    return ("## Performance targets at a glance (issue 8)\n\n"
            f"Collected by `benchmarks/run_all.py` ({now_utc()}) from the targets tables of the "
            f"sections below: **{met} met, {missed} missed**; the other rows are reported "
            "figures without a target, or diagnostics. Each value is beside its baseline or "
            "limit measured in the same run, with the ratio; see each section for how it was "
            "measured, and [What limits the missed figures](#what-limits-the-missed-figures) "
            "for the misses.\n\n"
            + table(["section", *TARGET_HEADERS], rows) + "\n\n" + limits(rows))


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--soak-seconds", type=float, default=600)
    parser.add_argument("--readings", type=int, default=200_000)
    parser.add_argument("--backlog", type=int, default=50_000)
    parser.add_argument("--stream-seconds", type=float, default=60)
    parser.add_argument("--store-alerts", type=int, default=10_000_000)
    parser.add_argument("--devices", type=int, default=5000)
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--with-nab", action="store_true")
    parser.add_argument("--summary-only", action="store_true",
                        help="run nothing: rewrite the summary section from the sections "
                             "docs/benchmarks.md holds (after editing LIMITS, say)")
    return parser.parse_args(argv)


def step(argv: list[str], failed: list[str]) -> None:
    name = Path(argv[1]).name
    print(f"=== {name} ({' '.join(argv[2:])})", file=sys.stderr, flush=True)
    started = time.monotonic()
    code = subprocess.call(argv)
    print(f"=== {name}: exit {code} after {time.monotonic() - started:.0f} s", file=sys.stderr,
          flush=True)
    if code:
        failed.append(name)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.summary_only:
        write_section("summary", summary(DOCS.read_text()))
        return 0
    started = time.monotonic()
    compile_product()
    failed: list[str] = []
    step(script("bench_edge.py", "--skip", "soak", "--readings", str(args.readings)), failed)
    soak_argv = script("bench_edge.py", "--only", "soak", "--soak-seconds",
                       str(args.soak_seconds), "--concurrent")
    print(f"=== bench_edge.py soak in the background ({' '.join(soak_argv[2:])})",
          file=sys.stderr, flush=True)
    soak = subprocess.Popen(soak_argv)
    try:
        step(script("bench_wire.py"), failed)
        step(script("bench_hub.py", "--backlog", str(args.backlog), "--seconds",
                    str(args.stream_seconds), "--store-alerts", str(args.store_alerts),
                    "--devices", str(args.devices)), failed)
        step(script("bench_e2e.py", "--events", str(args.events)), failed)
        # several hubs on one PostgreSQL store against one SQLite hub (issue 17), ~3 min
        step(script("bench_scale_out.py", "--districts", "4", "--hours", "12", "--density", "4"),
             failed)
        if args.with_nab:
            step(script("nab.py"), failed)
        print("=== waiting for the soak", file=sys.stderr, flush=True)
        if soak.wait():
            failed.append("bench_edge.py soak")
    finally:
        if soak.poll() is None:
            soak.send_signal(signal.SIGINT)  # its finally blocks stop its agent and broker
            soak.wait()
    if DOCS.exists():
        write_section("summary", summary(DOCS.read_text()))
    total = time.monotonic() - started
    print(f"=== all benchmarks: {total / 60:.1f} min"
          + (f"; FAILED: {', '.join(failed)}" if failed else ""), file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
