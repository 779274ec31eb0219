"""The NAB scorer against cases worked out by hand from the definition (nab/sweeper.py, NAB v1.1)."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.nab_scoring import (
    NO_DETECTION_THRESHOLD,
    CorpusSweep,
    DetectionScorer,
    LabelledFile,
    Profile,
    probationary_length,
    scaled_sigmoid,
    score_corpus,
    window_indices,
)

STANDARD = Profile("standard", tp_weight=1.0, fp_weight=0.11, fn_weight=1.0)
LOW_FN = Profile("reward_low_FN_rate", tp_weight=1.0, fp_weight=0.11, fn_weight=2.0)
# 100 rows: probation covers rows 0..14; one window over rows 40..49 (width 10).
FILE = LabelledFile("synthetic/one_window.csv", rows=100, windows=((40, 49),))

# By hand: S(x) = 2 / (1 + exp(5x)) - 1.
S_HALF_IN = 0.8482836399575129  # S(-0.5): detection at row 45, -(49 - 45 + 1) / 10 = -0.5
S_LEFT_EDGE = 0.9866142981514305  # S(-1): the best possible detection, at row 40
S_ONE_PAST = -0.9866142981514303  # S(+1): an FP at row 58, |49 - 58| / (10 - 1) = 1


def scores_with(points: dict[int, float], rows: int = 100) -> list[float]:
    return [points.get(i, 0.0) for i in range(rows)]


def test_scaled_sigmoid_matches_the_hand_values() -> None:
    assert scaled_sigmoid(-0.5) == pytest.approx(S_HALF_IN, abs=1e-15)
    assert scaled_sigmoid(-1.0) == pytest.approx(S_LEFT_EDGE, abs=1e-15)
    assert scaled_sigmoid(1.0) == pytest.approx(S_ONE_PAST, abs=1e-15)
    assert scaled_sigmoid(0.0) == 0.0
    assert scaled_sigmoid(3.0) == -1.0  # three widths past a window: full FP cost


def test_probation_is_15_percent_capped_at_750_rows() -> None:
    assert probationary_length(100) == 15
    assert probationary_length(4032) == 604
    assert probationary_length(22695) == 750


def test_one_tp_mid_window_and_one_fp_one_width_later() -> None:
    # Given a detection mid-window (row 45) and one 9 rows (one width - 1) after its end (row 58)
    scores = {FILE.name: scores_with({45: 1.0, 58: 1.0})}
    # When scored with the optimized threshold
    result = score_corpus([FILE], scores, STANDARD)
    # Then raw = S(-0.5) / S(-1) * tpWeight + S(1) * fpWeight = 0.859793 - 0.108528
    tp = S_HALF_IN / S_LEFT_EDGE
    raw = tp + 0.11 * S_ONE_PAST
    assert tp == pytest.approx(0.8597926, abs=1e-6)
    assert result.threshold == 1.0
    assert result.raw == pytest.approx(raw, abs=1e-12)
    assert raw == pytest.approx(0.7512650, abs=1e-6)
    # and normalized with null = -1 (the window missed) and perfect = +1: 100 * (raw + 1) / 2
    assert result.normalized == pytest.approx(87.56325, abs=1e-4)


def test_only_the_first_detection_in_a_window_counts() -> None:
    early_and_late = score_corpus([FILE], {FILE.name: scores_with({40: 1.0, 45: 1.0, 49: 1.0})}, STANDARD)
    assert early_and_late.raw == pytest.approx(1.0, abs=1e-12)  # row 40 earns exactly tpWeight


def test_fp_before_any_window_costs_full_weight_and_probation_is_free() -> None:
    result = score_corpus([FILE], {FILE.name: scores_with({5: 1.0, 20: 1.0, 45: 1.0})}, STANDARD)
    assert result.raw == pytest.approx(S_HALF_IN / S_LEFT_EDGE - 0.11, abs=1e-12)


def test_far_fp_costs_full_weight_and_the_threshold_is_swept() -> None:
    # Row 45 at 0.9 (TP), row 90 at 0.7: 41 rows past, > 3 widths -> full cost.
    scores = {FILE.name: scores_with({45: 0.9, 90: 0.7})}
    sweep = CorpusSweep([FILE], scores, STANDARD)
    assert sweep.raw_at(NO_DETECTION_THRESHOLD) == -1.0
    assert sweep.raw_at(0.8) == pytest.approx(S_HALF_IN / S_LEFT_EDGE, abs=1e-12)
    assert sweep.raw_at(0.7) == pytest.approx(S_HALF_IN / S_LEFT_EDGE - 0.11, abs=1e-12)
    assert sweep.best().threshold == 0.9
    fixed = score_corpus([FILE], scores, STANDARD, fixed_threshold=0.5)
    assert fixed.raw == pytest.approx(S_HALF_IN / S_LEFT_EDGE - 0.11, abs=1e-12)


def test_low_fn_profile_normalizes_against_a_costlier_null() -> None:
    result = score_corpus([FILE], {FILE.name: scores_with({40: 1.0})}, LOW_FN)
    assert result.raw == pytest.approx(1.0)
    assert result.normalized == pytest.approx(100.0)
    missed = score_corpus([FILE], {FILE.name: scores_with({})}, LOW_FN)
    assert missed.raw == -2.0 and missed.normalized == 0.0


def test_the_detection_scorer_agrees_with_the_sweep() -> None:
    # Given a file with two windows and detections in probation, in and between the windows
    import numpy as np

    two = LabelledFile("synthetic/two_windows.csv", rows=200, windows=((40, 49), (120, 139)))
    rng = np.random.default_rng(7)
    for profile in (STANDARD, LOW_FN):
        scorer = DetectionScorer([two], profile)
        for _ in range(20):
            detections = rng.random(200) < 0.05
            scores = {two.name: [1.0 if d else 0.0 for d in detections]}
            # Then its raw score is the sweep's at a threshold that takes exactly those rows
            expected = CorpusSweep([two], scores, profile).raw_at(0.5)
            assert scorer.raw({two.name: detections}) == pytest.approx(expected, abs=1e-12)
    # And a window that is never detected costs fnWeight
    assert DetectionScorer([FILE], STANDARD).raw({FILE.name: np.zeros(100, dtype=bool)}) == -1.0


def test_windows_map_to_rows_by_timestamp() -> None:
    stamps = [float(60 * i) for i in range(10)]
    assert window_indices(stamps, [(120.0, 300.0)]) == ((2, 5),)


def test_score_count_mismatch_is_an_error() -> None:
    with pytest.raises(ValueError, match="99 scores for 100 rows"):
        score_corpus([FILE], {FILE.name: [0.0] * 99}, STANDARD)


def test_write_docs_replaces_only_the_marked_section(tmp_path: Path) -> None:
    from benchmarks.nab import BEGIN, END, write_docs

    doc = tmp_path / "benchmarks.md"
    doc.write_text(f"# Benchmarks\n\nintro\n\n{BEGIN}\nold table\n{END}\n\n## Other\nkept\n")
    write_docs(doc, "python benchmarks/nab.py --write-docs", "| new | table |", files=1, rows=100)
    text = doc.read_text()
    assert "old table" not in text and "| new | table |" in text
    assert text.startswith("# Benchmarks\n\nintro\n\n") and text.endswith("## Other\nkept\n")
    assert text.count(BEGIN) == 1 and text.count(END) == 1


def test_write_docs_appends_a_section_to_a_new_file(tmp_path: Path) -> None:
    from benchmarks.nab import BEGIN, write_docs

    doc = tmp_path / "docs" / "benchmarks.md"
    write_docs(doc, "cmd", "| t |", files=1, rows=1)
    assert doc.read_text().startswith("# Benchmarks\n\n" + BEGIN)
