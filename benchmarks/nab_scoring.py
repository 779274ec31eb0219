"""NAB scoring, faithful to Numenta's ``nab/sweeper.py`` (NAB v1.1), vectorised with numpy.

How NAB scores (Lavin & Ahmad 2015; the code is the reference where the paper is vague):

* The first ``min(floor(0.15 * n), 0.15 * 5000)`` rows of a file are probationary and never
  scored; a window with no row after probation is not counted at all.
* A row inside a window, at index ``i`` of a window ``[s, e]`` of width ``w = e - s + 1``, is
  worth ``tpWeight * S(-(e - i + 1) / w) / S(-1)`` if it is the window's first detection, where
  ``S(x) = 2 * sigmoid(-5 x) - 1`` (and ``S(x) = -1`` for ``x >= 3``). Detecting the first row
  of a window earns exactly ``tpWeight``. A window with no detection costs ``-fnWeight``.
* A detection outside every window costs ``fpWeight * S(|i - e_prev| / (w_prev - 1))`` where
  ``e_prev``, ``w_prev`` are the end and width of the preceding window, and ``-fpWeight`` (the
  full cost) before the first window. Right after a window the cost is near 0; three window
  widths later it is the full ``-fpWeight``.
* One threshold per profile is chosen for the whole corpus by sweeping every distinct score
  (a row detects when ``score >= threshold``; a threshold of 1.1 detects nothing).
* ``normalized = 100 * (raw - null) / (perfect - null)``: ``null`` is the optimized raw score
  of NAB's null detector (constant 0.5, so in effect every counted window missed) and
  ``perfect = tpWeight * number_of_windows`` (every labelled window, as NAB's runner counts).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

PROBATION_PERCENT = 0.15
NO_DETECTION_THRESHOLD = 1.1  # NAB's first sweep threshold: nothing detects
OUTSIDE = -1  # window id of a row outside every window
PROBATION = -2  # window id of a probationary row

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Profile:
    """One NAB application profile (a cost matrix)."""

    name: str
    tp_weight: float
    fp_weight: float
    fn_weight: float


def load_profiles(path: Path) -> dict[str, Profile]:
    """Read NAB's ``config/profiles.json``."""
    raw = json.loads(path.read_text())
    return {name: Profile(name, float(p["CostMatrix"]["tpWeight"]), float(p["CostMatrix"]["fpWeight"]),
                          float(p["CostMatrix"]["fnWeight"]))
            for name, p in raw.items()}


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def scaled_sigmoid(relative_position: float) -> float:
    """NAB's ``scaledSigmoid``: +0.987 at a window's left edge, 0 at its right, -1 far past it."""
    if relative_position >= 3.0:
        return -1.0
    return 2.0 * sigmoid(-5.0 * relative_position) - 1.0


def probationary_length(rows: int, percent: float = PROBATION_PERCENT) -> float:
    """Rows never scored at the start of a file (NAB caps the period at 15% of 5000 rows)."""
    return min(math.floor(percent * rows), percent * 5000)


@dataclass(frozen=True)
class LabelledFile:
    """A data file's length and its anomaly windows as inclusive row-index ranges, in time order."""

    name: str
    rows: int
    windows: tuple[tuple[int, int], ...]


def window_indices(timestamps: Sequence[float], limits: Sequence[tuple[float, float]]) -> tuple[
        tuple[int, int], ...]:
    """Map window time limits to inclusive row ranges (first row >= start, last row <= end)."""
    ts = np.asarray(timestamps, dtype=np.float64)
    out = []
    for start, end in sorted(limits):
        s = int(np.searchsorted(ts, start, side="left"))
        e = int(np.searchsorted(ts, end, side="right")) - 1
        if s <= e:
            out.append((s, e))
    return tuple(out)


def sweep_weights(file: LabelledFile, profile: Profile,
                  probation_percent: float = PROBATION_PERCENT) -> tuple[FloatArray, IntArray]:
    """Per-row ``sweepScore`` and window id (``OUTSIDE``, ``PROBATION`` or the window's index).

    Mirrors ``Sweeper.calcSweepScore`` row by row.
    """
    n = file.rows
    weights = np.empty(n, dtype=np.float64)
    ids = np.full(n, OUTSIDE, dtype=np.int64)
    max_tp = scaled_sigmoid(-1.0)
    prev_end: int | None = None
    prev_width = 0.0
    windows = list(file.windows)
    k = 0
    i = 0
    while i < n:
        if k < len(windows) and i == windows[k][0]:
            s, e = windows[k]
            width = float(e - s + 1)
            for j in range(s, e + 1):
                weights[j] = scaled_sigmoid(-(e - j + 1) / width) * profile.tp_weight / max_tp
                ids[j] = k
            prev_end, prev_width = e, width
            k += 1
            i = e + 1
            continue
        position = 3.0 if prev_end is None else abs(prev_end - i) / max(prev_width - 1.0, 1e-12)
        weights[i] = scaled_sigmoid(position) * profile.fp_weight
        i += 1
    probation = int(math.ceil(probationary_length(n, probation_percent)))
    ids[:probation] = PROBATION
    return weights, ids


@dataclass(frozen=True)
class SweepResult:
    """The best threshold of a corpus sweep and the raw score there."""

    threshold: float
    raw: float


class CorpusSweep:
    """All scorable rows of a corpus under one profile, sorted by anomaly score, ready to sweep.

    ``raw_at(t)`` is the corpus raw score when every row with ``score >= t`` detects;
    ``best()`` is the optimum over every distinct score, as NAB's optimizer finds it.
    """

    def __init__(self, files: Sequence[LabelledFile], scores: Mapping[str, Sequence[float]],
                 profile: Profile, probation_percent: float = PROBATION_PERCENT) -> None:
        all_scores: list[FloatArray] = []
        all_weights: list[FloatArray] = []
        all_ids: list[IntArray] = []
        offset = 0
        for file in files:
            file_scores = np.asarray(scores[file.name], dtype=np.float64)
            if len(file_scores) != file.rows:
                raise ValueError(f"{file.name}: {len(file_scores)} scores for {file.rows} rows")
            weights, ids = sweep_weights(file, profile, probation_percent)
            keep = ids != PROBATION
            ids = np.where(ids >= 0, ids + offset, ids)
            offset += len(file.windows)
            all_scores.append(file_scores[keep])
            all_weights.append(weights[keep])
            all_ids.append(ids[keep])
        score = np.concatenate(all_scores) if all_scores else np.empty(0)
        weight = np.concatenate(all_weights) if all_weights else np.empty(0)
        ids = np.concatenate(all_ids) if all_ids else np.empty(0, dtype=np.int64)
        order = np.argsort(-score, kind="stable")
        self.scores: FloatArray = score[order]
        weight, ids = weight[order], ids[order]
        counted = np.unique(ids[ids >= 0])
        self.base = -profile.fn_weight * len(counted)  # every counted window missed
        # Running total as the threshold falls: FPs add up, a window keeps its best (earliest) row.
        delta = np.where(ids == OUTSIDE, weight, 0.0)
        best: dict[int, float] = {}
        for pos in np.flatnonzero(ids >= 0):
            window = int(ids[pos])
            previous = best.get(window, -profile.fn_weight)
            if weight[pos] > previous:
                delta[pos] += weight[pos] - previous
                best[window] = float(weight[pos])
        self.totals: FloatArray = self.base + np.cumsum(delta)

    def raw_at(self, threshold: float) -> float:
        """Raw corpus score when rows with ``score >= threshold`` detect."""
        detected = int(np.searchsorted(-self.scores, -threshold, side="right"))
        return self.base if detected == 0 else float(self.totals[detected - 1])

    def best(self) -> SweepResult:
        """The optimal threshold (the highest one among equal scores, like NAB's stable sort)."""
        if len(self.scores) == 0:
            return SweepResult(NO_DETECTION_THRESHOLD, self.base)
        last_of_group = np.append(self.scores[1:] != self.scores[:-1], True)
        candidates = np.flatnonzero(last_of_group)
        totals = self.totals[candidates]
        k = int(np.argmax(totals))
        if totals[k] <= self.base:
            return SweepResult(NO_DETECTION_THRESHOLD, self.base)
        return SweepResult(float(self.scores[candidates[k]]), float(totals[k]))


def normalize(raw: float, null: float, perfect: float) -> float:
    """NAB's normalized score: null detector 0, perfect detector 100."""
    return 100.0 * (raw - null) / (perfect - null)


@dataclass(frozen=True)
class ProfileScore:
    """A detector's result under one profile."""

    profile: str
    threshold: float
    raw: float
    normalized: float


def score_corpus(files: Sequence[LabelledFile], scores: Mapping[str, Sequence[float]],
                 profile: Profile, fixed_threshold: float | None = None,
                 probation_percent: float = PROBATION_PERCENT) -> ProfileScore:
    """Score a detector's output over the corpus: optimized threshold, or ``fixed_threshold``."""
    sweep = CorpusSweep(files, scores, profile, probation_percent)
    if fixed_threshold is None:
        result = sweep.best()
    else:
        result = SweepResult(fixed_threshold, sweep.raw_at(fixed_threshold))
    null_scores = {f.name: [0.5] * f.rows for f in files}
    null = CorpusSweep(files, null_scores, profile, probation_percent).best().raw
    perfect = profile.tp_weight * sum(len(f.windows) for f in files)
    return ProfileScore(profile.name, result.threshold, result.raw, normalize(result.raw, null, perfect))


class DetectionScorer:
    """The raw NAB score of 0/1 detections (every row that detects), a file at a time.

    The same arithmetic as ``CorpusSweep(...).raw_at(0.5)`` over detections, without sorting
    the corpus again for every set of detections: each file's row weights are computed once
    per profile, so a sweep over many thresholds costs a few numpy operations per file.
    """

    def __init__(self, files: Sequence[LabelledFile], profile: Profile,
                 probation_percent: float = PROBATION_PERCENT) -> None:
        self.profile = profile
        self._files: dict[str, tuple[FloatArray, IntArray, int]] = {}
        for file in files:
            weights, ids = sweep_weights(file, profile, probation_percent)
            counted = len(np.unique(ids[ids >= 0]))
            self._files[file.name] = (weights, ids, counted)

    def file_raw(self, name: str, detections: npt.NDArray[np.bool_]) -> float:
        """Raw score of one file: its FPs' weights, each counted window's first detection (or
        ``-fnWeight``)."""
        weights, ids, counted = self._files[name]
        if len(detections) != len(ids):
            raise ValueError(f"{name}: {len(detections)} detections for {len(ids)} rows")
        rows = np.flatnonzero(detections)
        where = ids[rows]
        raw = float(weights[rows[where == OUTSIDE]].sum())
        inside = rows[where >= 0]
        _, first = np.unique(ids[inside], return_index=True)
        raw += float(weights[inside[first]].sum())
        return raw - self.profile.fn_weight * (counted - len(first))

    def raw(self, detections: Mapping[str, npt.NDArray[np.bool_]]) -> float:
        """Raw score of the corpus (every file of the scorer must have detections)."""
        return sum(self.file_raw(name, detections[name]) for name in self._files)
