"""Where NAB points went: the default detector of a past commit against today's, file by file.

``python benchmarks/nab_compare.py [--commit 3b5f6c2] [--threshold 0.9003]`` runs the
``profile_novelty`` of ``--commit`` (read with ``git show``, its ``update()`` learning every
reading, as NAB was run then; a detection at every row at or above ``--threshold``, its shipped
optimum) and today's default through the agent's pipeline (``benchmarks/nab.py``: score onsets at
their optimized threshold, and alarm onsets), and prints per file, worst first, the raw standard
score, the detections outside every window (FPs) with their cost and the windows detected, then
the corpus totals. Only for commits whose detector has ``update()`` and imports nothing but
``edge.detectors.base``.
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from benchmarks.nab import DEFAULT_DATA, Scorer, onsets, run_detector  # noqa: E402
from benchmarks.nab_corpus import Series, load_corpus  # noqa: E402
from edge.detectors import DEFAULT_DETECTOR  # noqa: E402

_OLD: ModuleType | None = None


def load_old(commit: str, into: Path) -> ModuleType:
    """The past commit's edge/detectors/profile.py as a module (its base class beside it)."""
    for name in ("base", "profile"):
        text = subprocess.run(["git", "-C", str(ROOT), "show", f"{commit}:edge/detectors/{name}.py"],
                              capture_output=True, text=True, check=True).stdout
        text = text.replace("from edge.detectors.base import", "from nab_old_base import")
        (into / f"nab_old_{name}.py").write_text(text)
    sys.path.insert(0, str(into))
    spec = importlib.util.spec_from_file_location("nab_old_profile", into / "nab_old_profile.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_old(series: Series) -> tuple[str, list[float]]:
    assert _OLD is not None
    detector = _OLD.ProfileNovelty()
    return series.label.name, [detector.update(v, t) for v, t in
                               zip(series.values, series.timestamps, strict=True)]


def main(argv: Sequence[str] | None = None) -> int:
    global _OLD
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commit", default="3b5f6c2", help="the past commit (default: 3b5f6c2, 69.8)")
    parser.add_argument("--threshold", type=float, default=0.9003, help="its detection threshold")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args(argv)
    corpus = load_corpus(args.data)
    scorer = Scorer(corpus)
    with tempfile.TemporaryDirectory() as tmp:
        _OLD = load_old(args.commit, Path(tmp))
        with ProcessPoolExecutor(args.jobs) as pool:  # forked workers inherit the module
            old = dict(pool.map(run_old, corpus.series))
    runs = run_detector(DEFAULT_DETECTOR, {}, corpus, args.jobs)
    scores = {k: np.asarray(v[0]) for k, v in runs.items()}
    best = scorer.sweep(scores, "standard")
    sets = {
        f"{args.commit} (rows >= {args.threshold:g})": {
            k: np.asarray(v) >= args.threshold for k, v in old.items()},
        f"now: score onsets (t={best[1]:g})": {k: onsets(v, best[1]) for k, v in scores.items()},
        "now: alarm onsets": {k: onsets(v[1], 0.5) for k, v in runs.items()},
    }
    labels = list(sets)
    rows = []
    for s in corpus.series:
        name = s.label.name
        parts = [scorer.breakdown(name, sets[label][name]) for label in labels]
        rows.append((parts[1][0] - parts[0][0], name, parts))
    print("change | " + " | ".join(f"{label}: raw FPs cost won/counted" for label in labels) + " | file")
    for change, name, parts in sorted(rows):
        cells = " | ".join(f"{p[0]:+6.2f} {p[1]:3d} {p[2]:+6.2f} {p[3]}/{p[4]}" for p in parts)
        print(f"{change:+6.2f} | {cells} | {name}")
    for i, label in enumerate(labels):
        fps = sum(r[2][i][1] for r in rows)
        cost = sum(r[2][i][2] for r in rows)
        won = sum(r[2][i][3] for r in rows)
        counted = sum(r[2][i][4] for r in rows)
        total = scorer.detections(sets[label], "standard")
        print(f"{label}: standard {total:.1f}; {fps} FPs costing {cost:.1f} raw "
              f"({cost * 100 / (scorer.perfect['standard'] - scorer.nulls['standard']):.1f} "
              f"normalized points); {won} of {counted} windows detected")
    return 0


if __name__ == "__main__":
    sys.exit(main())
