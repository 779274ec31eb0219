"""NAB benchmark of the edge detectors: ``python benchmarks/nab.py [--write-docs]``.

Runs each detector over every NAB series (one fresh detector per file, rows in order, the
detector sees only the past), scores the output exactly as NAB v1.1 does (see
``benchmarks/nab_scoring.py``) and prints one table: the three profiles with the corpus-optimal
threshold, the standard profile at the detector's shipped alert threshold, and the median CPU
microseconds per reading, with ratios against the baselines run alongside. Progress goes to
stderr; the table to stdout and, with ``--write-docs``, into ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from a clean clone: make the repo importable
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import numpy.typing as npt  # noqa: E402

from benchmarks.nab_corpus import Corpus, Series, load_corpus  # noqa: E402
from benchmarks.nab_scoring import OUTSIDE, CorpusSweep, DetectionScorer, normalize  # noqa: E402
from edge.detectors import DEFAULT_DETECTOR, REGISTRY, make_detector  # noqa: E402

DEFAULT_DATA = next((p for p in (ROOT.parent / "shared" / "data" / "nab",
                                  ROOT.parent.parent / "shared" / "data" / "nab") if p.exists()),
                    ROOT.parent / "shared" / "data" / "nab")  # a clone, or a worktree beside one
BASELINES = ("half_space_trees", "windowed_gaussian")
DOCS = ROOT / "docs" / "benchmarks.md"
BEGIN, END = "<!-- nab:begin -->", "<!-- nab:end -->"
PROFILES = ("standard", "reward_low_FP_rate", "reward_low_FN_rate")
# Configurations worth a row of their own: (label, detector, params, [detection] settings).
VARIANTS: tuple[tuple[str, str, dict[str, Any], dict[str, Any]], ...] = (
    ("profile_novelty with min_readings = 1 (the default before 3 Dec 2026)", "profile_novelty", {},
     {"min_readings": 1}),
)
TIMING_FILES = 8  # series timed per detector, in this process, after the scoring run


@dataclass(frozen=True)
class Row:
    """One detector's line of the table."""

    detector: str
    scores: dict[str, float]
    thresholds: dict[str, float]
    at_default: float
    default_threshold: float
    via_decider: float
    micros: float
    alerts: dict[str, float]


def run_series(task: tuple[str, dict[str, Any], Series, dict[str, Any]]
               ) -> tuple[str, tuple[list[float], list[float]]]:
    """Scores and alarm state (1.0 while an alert state is active) of the agent's pipeline with
    a fresh detector over one series (a worker process's unit of work): the same path as
    ``lifeline-edge replay``, learning only what is normal. ``decider``: DetectionConfig fields
    that differ from the defaults."""
    from edge.config import ChannelConfig, DetectionConfig
    from edge.replay import replay_pipeline

    name, params, series, decider = task
    detection = DetectionConfig(**decider)
    pipeline = replay_pipeline(detection, ChannelConfig(name="value"), make_detector(name, params))
    scores, alarm = [], []
    for v, t in zip(series.values, series.timestamps, strict=True):
        pipeline.process_value(t, v)
        scores.append(pipeline.last_score)
        alarm.append(1.0 if pipeline.alarming else 0.0)
    return series.label.name, (scores, alarm)


def run_detector(name: str, params: dict[str, Any], corpus: Corpus, jobs: int,
                 decider: dict[str, Any] | None = None) -> dict[str, tuple[list[float], list[float]]]:
    """Scores and alarm state of ``name`` for every file, files spread over ``jobs`` processes
    (the longest first, so the last one to finish is short)."""
    tasks = [(name, params, s, decider or {})
             for s in sorted(corpus.series, key=lambda s: -s.label.rows)]
    if jobs <= 1:
        return dict(map(run_series, tasks))
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        return dict(pool.map(run_series, tasks))


def onsets(values: Sequence[float] | npt.NDArray[np.float64], threshold: float) -> npt.NDArray[np.bool_]:
    """True where ``values`` reach ``threshold`` after a row below it: each alarm counts once,
    at its onset (an alarm that stays up is one detection, its repeats are not new ones)."""
    above = np.asarray(values, dtype=np.float64) >= threshold
    return above & ~np.concatenate(([False], above[:-1]))


class Scorer:
    """NAB's normalized score of onsets, per profile, for one corpus (weights computed once)."""

    def __init__(self, corpus: Corpus) -> None:
        self.corpus = corpus
        self.scorers = {p: DetectionScorer(corpus.files, corpus.profiles[p]) for p in PROFILES}
        windows = sum(len(f.windows) for f in corpus.files)
        self.nulls = {p: null_raw(corpus, p) for p in PROFILES}
        self.perfect = {p: corpus.profiles[p].tp_weight * windows for p in PROFILES}

    def normalized(self, profile: str, raw: float) -> float:
        return normalize(raw, self.nulls[profile], self.perfect[profile])

    def detections(self, detections: dict[str, npt.NDArray[np.bool_]], profile: str) -> float:
        """Normalized score of 0/1 detections."""
        return self.normalized(profile, self.scorers[profile].raw(detections))

    def sweep(self, scores: dict[str, npt.NDArray[np.float64]], profile: str) -> tuple[float, float]:
        """(best normalized score, its threshold) of the score onsets over THRESHOLDS: NAB's
        sweep, with a detection at each rising crossing instead of at every row above it."""
        best = (-math.inf, 1.1)
        for t in THRESHOLDS:
            value = self.detections({k: onsets(v, t) for k, v in scores.items()}, profile)
            if value > best[0]:
                best = (value, t)
        return best


    def breakdown(self, name: str, detections: npt.NDArray[np.bool_], profile: str = "standard"
                  ) -> tuple[float, int, float, int, int]:
        """One file's (raw score, detections outside every window, their cost, windows
        detected, windows counted)."""
        scorer = self.scorers[profile]
        weights, ids, counted = scorer._files[name]
        rows = np.flatnonzero(detections)
        where = ids[rows]
        outside = rows[where == OUTSIDE]
        detected = len(np.unique(where[where >= 0]))
        return (scorer.file_raw(name, detections), len(outside), float(weights[outside].sum()),
                detected, counted)


def print_per_file(scorer: Scorer, scores: dict[str, npt.NDArray[np.float64]],
                   alarms: dict[str, npt.NDArray[np.bool_]], threshold: float) -> None:
    """Per file, worst first (stderr): raw standard score, detections outside every window and
    their cost, windows detected of those counted; for the score onsets at ``threshold`` and for
    the alarm onsets. Where a detector loses its points."""
    lines = []
    for name in scores:
        s = scorer.breakdown(name, onsets(scores[name], threshold))
        a = scorer.breakdown(name, alarms[name])
        lines.append((s[0], f"{s[0]:+6.2f} {s[1]:4d} {s[2]:+6.2f} {s[3]:2d}/{s[4]:<2d} | "
                            f"{a[0]:+6.2f} {a[1]:4d} {a[2]:+6.2f} {a[3]:2d}/{a[4]:<2d} | {name}"))
    print(f"  per file, score onsets at t={threshold:g} | alarm onsets: raw, FPs, FP cost, "
          "windows detected/counted", file=sys.stderr)
    for _, line in sorted(lines):
        print("  " + line, file=sys.stderr)


def null_raw(corpus: Corpus, profile: str) -> float:
    return CorpusSweep(corpus.files, {f.name: [0.5] * f.rows for f in corpus.files},
                       corpus.profiles[profile]).best().raw


THRESHOLDS = tuple(round(0.5 + 0.01 * i, 2) for i in range(50)) + (0.995, 0.999)


def micros_per_reading(name: str, params: dict[str, Any], corpus: Corpus,
                       files: int = TIMING_FILES) -> float:
    """Median over ``files`` series (evenly spread over the corpus) of the CPU µs per reading of a
    whole-file run, timed in this one process so every detector gets the same conditions."""
    per_file = []
    for series in corpus.series[:: max(1, len(corpus.series) // files)][:files]:
        detector = make_detector(name, params)
        score, learn = detector.score, detector.learn
        start = time.process_time()
        for v, t in zip(series.values, series.timestamps, strict=True):
            score(v, t)
            learn(v, t)
        per_file.append((time.process_time() - start) / max(len(series.values), 1) * 1e6)
    return statistics.median(per_file)


def default_threshold(name: str, params: dict[str, Any]) -> float:
    """The alert threshold operators get: the detector's own ``alert_threshold`` if it has one
    (its hold and refractory period key on it), else the agent's default ``[detection] threshold``."""
    from edge.config import DetectionConfig

    return float(getattr(make_detector(name, params), "alert_threshold", DetectionConfig().threshold))


def evaluate(name: str, params: dict[str, Any], corpus: Corpus, jobs: int, label: str | None = None,
             decider: dict[str, Any] | None = None, scorer: Scorer | None = None,
             timing: bool = True, per_file: bool = False) -> Row:
    t0 = time.monotonic()
    scorer = scorer or Scorer(corpus)
    runs = run_detector(name, params, corpus, jobs, decider)
    scores = {k: np.asarray(v[0]) for k, v in runs.items()}
    results = {p: scorer.sweep(scores, p) for p in PROFILES}
    threshold = default_threshold(name, params)
    fixed = scorer.detections({k: onsets(v, threshold) for k, v in scores.items()}, "standard")
    alarm_onsets = {k: onsets(v[1], 0.5) for k, v in runs.items()}
    via = {p: scorer.detections(alarm_onsets, p) for p in PROFILES}
    if per_file:
        print_per_file(scorer, scores, alarm_onsets, results["standard"][1])
    micros = micros_per_reading(name, params, corpus) if timing else math.nan
    label = label or name
    print(f"  {label}: standard {results['standard'][0]:.1f} (t={results['standard'][1]:g}), "
          f"low_FP {results['reward_low_FP_rate'][0]:.1f}, low_FN {results['reward_low_FN_rate'][0]:.1f}; "
          f"alerts {via['standard']:.1f} / {via['reward_low_FP_rate']:.1f} / "
          f"{via['reward_low_FN_rate']:.1f} in {time.monotonic() - t0:.0f} s", file=sys.stderr)
    return Row(label, {p: r[0] for p, r in results.items()}, {p: r[1] for p, r in results.items()},
               fixed, threshold, via["standard"], micros, via)


def format_table(rows: Sequence[Row]) -> str:
    """A Markdown table with ratios against each baseline."""
    head = ("| detector | standard | reward_low_FP | reward_low_FN | standard @ default threshold "
            "| alerts: standard | alerts: reward_low_FP | alerts: reward_low_FN | µs/reading "
            "| standard vs " + " | standard vs ".join(BASELINES) + " |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    by_name = {r.detector: r for r in rows}
    for r in rows:
        ratios = []
        for b in BASELINES:
            base = by_name.get(b)
            ratios.append(f"{r.scores['standard'] / base.scores['standard']:.2f}×"
                          if base and base.scores["standard"] > 0 else "–")
        lines.append(
            f"| {r.detector} | {r.scores['standard']:.1f} (t={r.thresholds['standard']:.4g}) "
            f"| {r.scores['reward_low_FP_rate']:.1f} (t={r.thresholds['reward_low_FP_rate']:.4g}) "
            f"| {r.scores['reward_low_FN_rate']:.1f} (t={r.thresholds['reward_low_FN_rate']:.4g}) "
            f"| {r.at_default:.1f} (t={r.default_threshold:g}) | {r.alerts['standard']:.1f} "
            f"| {r.alerts['reward_low_FP_rate']:.1f} | {r.alerts['reward_low_FN_rate']:.1f} "
            f"| {r.micros:.1f} | " + " | ".join(ratios) + " |")
    return "\n".join(lines)


def machine() -> str:
    model = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} CPU(s) (nproc), {model}, Python {platform.python_version()}"


def write_docs(path: Path, command: str, table: str, files: int, rows: int,
               seconds: float | None = None, jobs: int | None = None) -> None:
    """Replace the section between the NAB markers of ``path``, keeping everything else."""
    from edge.config import DetectionConfig

    section = "\n".join([
        BEGIN,
        "## NAB (Numenta Anomaly Benchmark v1.1)",
        "",
        f"Command: `{command}`  ",
        f"Machine: {machine()}  ",
        f"Date: {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}  ",
        *([f"Run time: {seconds:.0f} s with {jobs} worker process(es) for the files  "]
          if seconds is not None else []),
        f"Corpus: {files} files, {rows} readings; scores normalized null = 0, perfect = 100; "
        "one threshold per profile optimized over the whole corpus (shown as t=...).",
        "",
        table,
        "",
        "Every series runs through the agent's pipeline (edge/pipeline.py, as `lifeline-edge replay` "
        "does): a fresh detector scores every reading and learns only normal ones (never an alarm's "
        "readings nor the run that led to one). Each alarm counts once, at its onset: an alarm that "
        "stays up is one detection, its repeats are not new ones. Columns: NAB normalized score per "
        "profile of the `anomaly_score` column, a detection where the score rises to the threshold t "
        "(best t of a grid 0.5..0.995 and 0.999); the standard profile at the detector's shipped "
        "alert threshold; the product's own alerts, a detection where the `alarm` column turns on "
        "(edge/decide.py defaults: threshold 0.9, clear_threshold 0.6, "
        f"min_readings {DetectionConfig().min_readings}, cool-down 30 s), per profile: what an "
        "operator gets; median CPU µs per reading (`score` + `learn`), timed in one process; ratios "
        "of the standard score against the baselines. See docs/detectors.md.",
        END,
    ])
    text = path.read_text() if path.exists() else "# Benchmarks\n\n"
    if BEGIN in text and END in text:
        before, rest = text.split(BEGIN, 1)
        after = rest.split(END, 1)[1]
        text = before + section + after
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help=f"NAB root (default: {DEFAULT_DATA})")
    parser.add_argument("--detectors", default=None,
                        help="comma-separated registry names (default: every registered detector)")
    parser.add_argument("--only", default=None, help="score only files whose name contains this")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="worker processes")
    parser.add_argument("--params", type=json.loads, default={}, metavar="JSON",
                        help='detector parameters for --detectors, e.g. \'{"tolerance": 0.05}\'')
    parser.add_argument("--decider", type=json.loads, default={}, metavar="JSON",
                        help='[detection] settings other than the defaults, e.g. \'{"min_readings": 3}\'')
    parser.add_argument("--no-baselines", action="store_true",
                        help=f"do not add the baselines ({', '.join(BASELINES)}) to --detectors")
    parser.add_argument("--no-timing", action="store_true", help="skip the µs/reading measurement")
    parser.add_argument("--per-file", action="store_true",
                        help="print each file's score, FPs and windows detected (stderr)")
    parser.add_argument("--write-docs", action="store_true", help=f"refresh the NAB section of {DOCS}")
    args = parser.parse_args(argv)
    if args.write_docs and (args.params or args.decider or args.no_baselines or args.no_timing):
        parser.error("--write-docs writes the shipped configuration: drop --params, --decider, "
                     "--no-baselines and --no-timing")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    names = args.detectors.split(",") if args.detectors else [
        DEFAULT_DETECTOR, *[n for n in REGISTRY if n not in (DEFAULT_DETECTOR, *BASELINES)], *BASELINES]
    for name in BASELINES:
        if name not in names and not args.no_baselines:
            names.append(name)
    t0 = time.monotonic()
    corpus = load_corpus(args.data, args.only)
    scorer = Scorer(corpus)
    rows_total = sum(s.label.rows for s in corpus.series)
    print(f"loaded {len(corpus.series)} files, {rows_total} readings from {args.data}", file=sys.stderr)
    given = set(args.detectors.split(",")) if args.detectors else set()
    runs: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = [
        (n, n, args.params if n in given else {}, args.decider) for n in names]
    if not args.detectors:
        runs[1:1] = [(label, n, p, d) for label, n, p, d in VARIANTS]
    rows = []
    for i, (label, name, params, decider) in enumerate(runs, 1):
        print(f"[{i}/{len(runs)}] {label} ...", file=sys.stderr)
        rows.append(evaluate(name, params, corpus, args.jobs, label, decider, scorer,
                             timing=not args.no_timing, per_file=args.per_file))
    table = format_table(rows)
    print(table)
    print(f"default detector: {DEFAULT_DETECTOR}; total {time.monotonic() - t0:.0f} s", file=sys.stderr)
    if args.write_docs:
        command = "python benchmarks/nab.py --write-docs" + (f" --only {args.only}" if args.only else "")
        write_docs(DOCS, command, table, len(corpus.series), rows_total,
                   time.monotonic() - t0, args.jobs)
        print(f"wrote {DOCS}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
