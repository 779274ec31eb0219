"""End to end (issue 8): ``python benchmarks/bench_e2e.py [--events N] [--write-docs]``.

A real ``lifeline-edge run`` reads a pseudo-terminal; a real ``lifeline-hub run`` stores and
fuses; both talk through a private Mosquitto. For each event the benchmark writes one reading
above the sensor's physical limit to the pty (after a normal one, so every crossing is a new
limit alert at once, whatever ``repeat_s``) and times until the alert is

* on the broker: received by a bare paho subscriber on the device's alert topic (the edge's
  share: pty → pyserial → parse → decide → outbox fsync → MQTT);
* committed in an incident: its incident change appears in the hub's events feed (store
  polled every 2 ms through ``Store.events_after``);
* printed by ``lifeline-hub tail --json``.

Each crossing carries its own value (1500 + i), which is how its alert is recognised.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.bench_edge import AlertWatch, start_agent  # noqa: E402
from benchmarks.bench_hub import HubProcess, follow_store, follow_tail  # noqa: E402
from benchmarks.common import (  # noqa: E402
    Pty,
    Target,
    command_line,
    console_script,
    edge_toml,
    header,
    log,
    percentile,
    ratio,
    start_broker,
    stop,
    table,
    targets_table,
    workdir,
    write_section,
)

DEVICE = "bench-e2e"
LIMIT = 1000.0
BASE = 1500


def _index(alert: object) -> int | None:
    """The event number a crossing's alert carries in its value, else None."""
    if not isinstance(alert, dict) or alert.get("device") != DEVICE:
        return None
    value = alert.get("value")
    return int(round(value)) - BASE if isinstance(value, int | float) and value >= BASE else None


def run(events: int, gap_s: float) -> str:
    wd = workdir("e2e")
    broker = start_broker(wd)
    hub = HubProcess(wd, broker.port)
    pty = Pty.open()
    watch = AlertWatch(broker.port, DEVICE)
    halt = threading.Event()
    agent = tail = None
    sent: dict[int, float] = {}
    via_store: dict[int, float] = {}
    via_tail: dict[int, float] = {}
    on_broker: dict[int, float] = {}
    try:
        hub.start()
        agent, notify, _, log_path = start_agent(
            wd, edge_toml(DEVICE, "e2e", broker.port, wd / "state", [("s0", pty.path)],
                          high=LIMIT))
        if notify.wait_ready(15) is None:
            raise RuntimeError(f"the agent did not report READY; see {log_path}")
        notify.close()
        tail = subprocess.Popen([console_script("lifeline-hub"), "tail", "--json", "--config",
                                 str(hub.config)], stdout=subprocess.PIPE)
        threading.Thread(target=follow_store, args=(hub.store_path, via_store, halt, _index),
                         daemon=True).start()
        threading.Thread(target=follow_tail, args=(tail, via_tail, _index), daemon=True).start()
        for i in range(50):  # warm up the detector on normal readings
            pty.write(f"{300 + i % 3}.0\n".encode())
        time.sleep(1.0)
        log(f"e2e: {events} limit crossings, {gap_s * 1000:.0f} ms apart after each is seen")
        for i in range(events):
            pty.write(b"300.0\n")
            time.sleep(gap_s)
            sent[i] = time.monotonic()
            pty.write(f"{BASE + i}.0\n".encode())
            deadline = time.monotonic() + 5
            while i not in via_store and time.monotonic() < deadline:
                time.sleep(0.001)
        time.sleep(0.5)
        for arrived, payload in watch.arrivals:
            index = _index(json.loads(payload))
            if index is not None:
                on_broker.setdefault(index, arrived)
    finally:
        halt.set()
        watch.close()
        if tail is not None:
            stop(tail)
        if agent is not None:
            stop(agent)
        hub.stop()
        broker.stop()
        pty.close()
    rows = []
    targets = []
    base = (0.0, 0.0)
    for label, seen, what in (
            ("alert on the broker (bare paho subscriber)", on_broker, ""),
            ("incident change committed (events feed, polled every 2 ms)", via_store,
             "committed"),
            ("line printed by `lifeline-hub tail --json`", via_tail, "printed by `tail`")):
        lat = [1000 * (seen[i] - t) for i, t in sent.items() if i in seen]
        p50, p99 = percentile(lat, 50), percentile(lat, 99)
        base = base if base[0] else (p50, p99)
        rows.append([label, f"{len(lat):,}/{len(sent):,}", f"{p50:.1f}", f"{p99:.1f}",
                     f"{max(lat, default=float('nan')):.1f}", ratio(p50, base[0]),
                     ratio(p99, base[1])])
        if what:
            complete = len(lat) == len(sent)
            targets += [
                Target(f"end to end, pty write → {what}, p50", f"{p50:.1f} ms",
                       f"pty → broker p50 {base[0]:.1f} ms", ratio(p50, base[0]),
                       "reported", None),
                Target(f"end to end, pty write → {what}, p99", f"{p99:.1f} ms",
                       f"pty → broker p99 {base[1]:.1f} ms; limit 250 ms",
                       f"{ratio(p99, base[1])} broker; {ratio(p99, 250)} limit", "≤ 250 ms",
                       p99 <= 250 and complete,
                       "" if complete else f"{len(sent) - len(lat):,} never seen")]
    text = (f"{events:,} limit crossings written to one sensor's pty; each timed from the write. "
            "The edge's share is the broker row; the hub's is the difference to the committed "
            "row; `tail` adds its 50 ms poll.\n\n"
            + targets_table(targets) + "\n\n"
            + table(["pty write →", "seen", "p50 ms", "p99 ms", "max ms", "p50 vs broker",
                     "p99 vs broker"], rows))
    return text


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--gap-ms", type=float, default=20.0,
                        help="pause between a normal reading and the next crossing")
    parser.add_argument("--write-docs", action="store_true")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    command = command_line(None if argv is None else ["benchmarks/bench_e2e.py", *argv])
    text = run(args.events, args.gap_ms / 1000)
    body = header("End to end: sensor reading to incident", command) + "\n" + text
    print(body)
    if args.write_docs:
        write_section("e2e", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
