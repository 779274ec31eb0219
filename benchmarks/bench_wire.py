"""The wire contract's decoder (issue 16): ``python benchmarks/bench_wire.py [--write-docs]``.

The hub decodes every alert it receives. ``lifeline.wire.decode_alert`` takes msgspec's C
decoder for well-formed alerts and falls back to the field-by-field checking decoder for
anything unusual (which then gives the counted reason). This measures both on the same
payloads in one process, with ``json.loads`` alone as the floor of the checking path.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import command_line, header, ratio, table, write_section  # noqa: E402
from lifeline import wire  # noqa: E402
from lifeline.grades import Grade  # noqa: E402

NOW = 1_790_000_000.0


def payloads(count: int, context_values: int) -> list[bytes]:
    """Alerts as edges send them: distinct ids, devices and values, a context window."""
    grades = list(Grade)
    return [wire.encode(wire.Alert(
        id=f"edge-{i % 500}:{i}", device=f"edge-{i % 500}", zone=f"zone-{i % 50}",
        sensor="main-pressure", channel="pressure_kpa", kind="water.pressure",
        ts=NOW + i * 0.001, value=200.0 + i % 97, score=0.9 + (i % 10) / 100,
        grade=grades[i % 4], reason=wire.Reason.ANOMALY, seq=i, unit="kPa",
        context=tuple(200.0 + (i + k) % 13 for k in range(context_values)),
        message=f"{200 + i % 97} kPa is unusual for this channel")) for i in range(count)]


def per_call_us(decode: Callable[[bytes], object], batch: list[bytes], rounds: int) -> float:
    """Median over rounds of the mean µs per payload."""
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        for payload in batch:
            decode(payload)
        samples.append((time.perf_counter() - start) / len(batch) * 1e6)
    return statistics.median(samples)


def checking(payload: bytes) -> wire.Alert:
    return wire._decode_alert(payload, None, NOW, 30 * 86400, 3600)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=20_000, help="payloads per round")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args(argv)
    rows = []
    for context_values in (0, 30, 64):
        batch = payloads(args.count, context_values)
        assert all(wire.decode_alert(p, now=NOW) == checking(p) for p in batch[:1000])
        floor = per_call_us(json.loads, batch, args.rounds)
        slow = per_call_us(checking, batch, args.rounds)
        fast = per_call_us(lambda p: wire.decode_alert(p, now=NOW), batch, args.rounds)
        size = statistics.mean(len(p) for p in batch)
        rows.append([context_values, f"{size:.0f}", f"{floor:.1f}", f"{slow:.1f}", f"{fast:.1f}",
                     ratio(slow, fast)])
        print(f"context {context_values:2d}: json.loads {floor:.1f} µs, checking {slow:.1f} µs, "
              f"decode_alert {fast:.1f} µs ({ratio(slow, fast)} faster)", flush=True)
    body = (header("Wire decoding (issue 16)", command_line(argv))
            + f"\n{args.count:,} distinct alerts per round, median of {args.rounds} rounds, "
            "µs per alert in one process (decoding, validation and the `Alert` object):\n\n"
            + table(["context values", "bytes", "json.loads only (µs)",
                     "checking decoder (µs)", "decode_alert, msgspec path (µs)",
                     "checking / msgspec"], rows)
            + "\n\nThe checking decoder (`json.loads`, then each field's type and range in "
            "Python) now runs only for payloads the msgspec path does not take: anything "
            "malformed or unusual, so every refusal keeps its reason and text "
            "(tests/unit/test_wire.py checks the two agree on generated payloads).\n")
    if args.write_docs:
        write_section("wire", body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
