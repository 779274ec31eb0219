"""BATADAL (C-Town's SCADA, 43 channels, hourly) replayed as one device, as the agent would run it.

Every method learns from ``dataset03.csv`` (a normal year, unscored), then carries on through
``dataset04.csv`` (six months with attacks), which is scored point-wise against ``ATT_FLAG`` and
per labelled attack (a contiguous run of flagged rows). Nothing is tuned to it: the product runs
with its shipped settings and HalfSpaceTrees with the threshold it got on the simulator's tuning
split. What the labels can and cannot tell: some attacks in dataset04 were left unlabelled on
purpose in the release, so an alarm outside the flagged rows is "not labelled", not always false;
the flags also cover only the attack's manipulation window, not its aftermath.
"""

from __future__ import annotations

import csv
import statistics
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.equipment_runners import run_device, run_hst, run_zscore
from benchmarks.equipment_scoring import episodes, score_run

ROOT = Path(__file__).resolve().parent.parent
# ../shared/data from the checkout (from a worktree under wt/, one level further up)
DATA = next((p / "shared" / "data" / "batadal" for p in (ROOT.parent, ROOT.parent.parent)
             if (p / "shared" / "data" / "batadal").is_dir()), ROOT.parent / "shared" / "data" / "batadal")
HOUR = 3600.0


def load(path: Path) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """Columns, epoch seconds, values (rows x columns) and ATT_FLAG of one BATADAL file."""
    with path.open(newline="") as handle:
        reader = csv.reader(handle)
        header = [h.strip() for h in next(reader)]
        rows = list(reader)
    columns = [h for h in header if h not in ("DATETIME", "ATT_FLAG")]
    idx = [header.index(c) for c in columns]
    flag_at = header.index("ATT_FLAG")
    ts = np.array([datetime.strptime(r[0].strip(), "%d/%m/%y %H").replace(tzinfo=UTC).timestamp()
                   for r in rows])
    values = np.array([[float(r[i]) for i in idx] for r in rows])
    flags = np.array([1 if float(r[flag_at]) == 1 else 0 for r in rows], dtype=np.int8)
    return columns, ts, values, flags


def replay_batadal(data: Path = DATA) -> dict[str, Any] | None:
    """Every method over dataset03 then dataset04 (a worker process's unit of work; None without
    the data): the product's, multichannel and channel alarms, the z-score's, HalfSpaceTrees'
    scores, and what scoring needs."""
    train_path, test_path = data / "dataset03.csv", data / "dataset04.csv"
    if not train_path.exists() or not test_path.exists():
        return None
    columns, ts_a, train, _ = load(train_path)
    columns_b, ts_b, test, flags = load(test_path)
    assert columns == columns_b, "dataset03 and dataset04 have different columns"
    ts = np.concatenate([ts_a, ts_b])
    values = np.vstack([train, test])
    out: dict[str, Any] = dict(run_device(ts, values, None, columns=columns))
    out.update(run_zscore(values, None))
    out["hst_score"] = run_hst(values, None)["hst"]
    out.update(columns=columns, train_rows=len(train), test_rows=len(test), flags=flags)
    return out


def evaluate_batadal(hst_threshold: float, jobs: int = 1, data: Path = DATA,
                     replayed: dict[str, Any] | None = None) -> list[str]:
    """Markdown lines: the table of every method on dataset04 after learning dataset03
    (``replayed``: the output of ``replay_batadal`` if it already ran, in a worker)."""
    out = replayed if replayed is not None else replay_batadal(data)
    if out is None:
        return ["## BATADAL", "", f"Skipped: {data} does not hold dataset03.csv and dataset04.csv.", ""]
    columns, flags, skip = out["columns"], out["flags"], out["train_rows"]
    labels = np.concatenate([np.zeros(skip, dtype=np.int8), flags])
    out = dict(out)
    out["hst"] = (out["hst_score"] >= hst_threshold).astype(np.int8)
    attacks = [(s + skip, e + skip, "attack") for s, e in episodes(flags)]
    lines = [
        "## BATADAL: a real water network's SCADA as one device",
        "",
        f"{len(columns)} channels, hourly; learned from dataset03.csv ({skip} rows, a normal year, "
        f"unscored), scored on dataset04.csv ({out['test_rows']} rows, {int(flags.sum())} flagged in "
        f"{len(attacks)} labelled attacks). Shipped settings, nothing tuned to it.",
        "",
        "| method | point-wise F1 | false-alarm rate | missed-alarm rate | attacks alarmed | "
        "median delay (h) | alarm episodes outside the labels / day |",
        "|---|---|---|---|---|---|---|",
    ]
    names = {"device": "**product** (per-channel default + multichannel)",
             "multichannel": "multichannel alarm alone", "channels": "shipped single-channel default",
             "zscore": "6-sigma z-score (unflagged only)", "hst": "HalfSpaceTrees over the vector"}
    per_attack: dict[str, list[str]] = {}
    for method, label in names.items():
        t = score_run(labels, out[method], attacks, abrupt=False, step_s=HOUR, skip=skip, grace=24)
        delay = f"{statistics.median(t.delays) / HOUR:.0f}" if t.delays else "–"
        lines.append(f"| {label} | {t.f1:.3f} | {100 * t.far:.1f} % | {100 * t.mar:.1f} % | "
                     f"{t.detected}/{t.events} | {delay} | {t.episodes_per_day:.2f} |")
        per_attack[method] = ["yes" if out[method][s:e].any() else "no" for s, e, _ in attacks]
    lines += ["", "| attack (dataset04 rows) | hours | " + " | ".join(names) + " |",
              "|---|---|" + "---|" * len(names)]
    for i, (s, e, _) in enumerate(attacks):
        cells = " | ".join(per_attack[m][i] for m in names)
        lines.append(f"| {s - skip + 1}-{e - skip} | {e - s} | {cells} |")
    lines += [
        "",
        "What the labels can and cannot tell: `ATT_FLAG` marks the rows of the labelled attacks "
        "only; the release left some attacks in dataset04 unlabelled on purpose, so alarm episodes "
        "outside the labels are a mix of false alarms and unlabelled attacks (an upper bound on "
        "false alarms, not a count of them), and the false-alarm rate above is likewise an upper "
        "bound. dataset04 is rounded to 2 decimals where dataset03 is not, and is 2 years later.",
        "",
    ]
    return lines
