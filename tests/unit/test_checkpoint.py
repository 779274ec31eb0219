"""edge/checkpoint.py on real files: what is saved comes back, what does not fit is ignored."""

from __future__ import annotations

import json
import logging
import math
import re
from pathlib import Path

import pytest

from edge import checkpoint
from edge.detectors import Detector, make_detector

NAMES = ["profile_novelty", "robust_z"]  # the default, and the cheapest


def readings(count: int, start: int = 0) -> list[tuple[float, float]]:
    """A slow daily wave with some ripple, one reading a minute (deterministic)."""
    return [(300.0 + 20.0 * math.sin(i / 240.0) + 3.0 * math.sin(i * 1.7), 1.7e9 + 60.0 * i)
            for i in range(start, start + count)]


def fed(name: str, count: int = 400, **params: object) -> Detector:
    detector = make_detector(name, dict(params))
    for value, ts in readings(count):
        detector.update(value, ts)
    return detector


def scores(detector: Detector, start: int = 400) -> list[float]:
    # Scored the same way whichever detector: normal readings, then a spike and a step.
    tail = readings(100, start)
    tail[50] = (tail[50][0] + 500.0, tail[50][1])
    tail[80:] = [(v + 60.0, ts) for v, ts in tail[80:]]
    return [detector.update(value, ts) for value, ts in tail]


@pytest.mark.parametrize("name", NAMES)
def test_a_saved_checkpoint_restores_identical_state(tmp_path: Path, name: str) -> None:
    # Given a warm detector saved to the state directory
    path = tmp_path / "detectors.json"
    original = fed(name)
    assert original.warm
    checkpoint.save(path, {"s/p": original})
    # When a fresh detector of the same params restores it
    fresh = make_detector(name, original.params())
    assert not fresh.warm
    assert checkpoint.restore(path, {"s/p": fresh}) == 1
    # Then it is warm at once and scores what follows exactly as the original does
    assert fresh.warm and fresh.state() == original.state()
    expected = scores(original)
    assert scores(fresh) == expected
    assert max(expected) > 0.5  # the comparison covers an alerting score, not only zeros
    assert not path.with_suffix(".tmp").exists()


def test_save_replaces_the_previous_checkpoint_and_logs(tmp_path: Path,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "detectors.json"
    checkpoint.save(path, {"a/p": fed("robust_z", 10)})
    caplog.set_level(logging.INFO, logger="edge.checkpoint")
    checkpoint.save(path, {"a/p": fed("robust_z", 50), "b/q": fed("robust_z", 5)})
    saved = json.loads(path.read_text())
    assert set(saved) == {"a/p", "b/q"} and saved["a/p"]["state"]["n"] == 50
    assert f"saved 2 detector checkpoint(s) to {path}" in caplog.text


def test_a_state_json_cannot_hold_leaves_the_old_checkpoint(tmp_path: Path) -> None:
    # Given a good checkpoint on disk
    path = tmp_path / "detectors.json"
    checkpoint.save(path, {"s/p": fed("robust_z", 50)})
    before = path.read_bytes()
    # When a detector's state holds a NaN (not JSON), Then saving fails and the old file stays
    broken = fed("robust_z", 50)
    broken._loc = math.nan  # type: ignore[attr-defined]  # a detector can no longer learn one
    with pytest.raises(ValueError, match="Out of range float"):
        checkpoint.save(path, {"s/p": broken})
    assert path.read_bytes() == before


@pytest.mark.parametrize("changed", [{"warmup": 31}, {"alpha": 0.05}])
def test_changed_params_are_not_restored(tmp_path: Path, changed: dict[str, float],
                                         caplog: pytest.LogCaptureFixture) -> None:
    # Given a checkpoint of a robust_z with the default params
    path = tmp_path / "detectors.json"
    checkpoint.save(path, {"s/p": fed("robust_z", 200)})
    # When the configured detector's params changed
    caplog.set_level(logging.INFO, logger="edge.checkpoint")
    fresh = make_detector("robust_z", changed)
    # Then nothing is restored: it learns afresh, and says why
    assert checkpoint.restore(path, {"s/p": fresh}) == 0
    assert not fresh.warm and fresh.state() == make_detector("robust_z", changed).state()
    assert "detector of s/p changed since its checkpoint; learning afresh" in caplog.text


def test_another_detector_or_another_channel_is_not_restored(tmp_path: Path) -> None:
    path = tmp_path / "detectors.json"
    checkpoint.save(path, {"s/p": fed("robust_z", 200)})
    other = make_detector("profile_novelty")
    elsewhere = make_detector("robust_z")
    assert checkpoint.restore(path, {"s/p": other, "s/q": elsewhere}) == 0
    assert not other.warm and not elsewhere.warm


def test_a_missing_file_restores_nothing_quietly(tmp_path: Path,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="edge.checkpoint")
    assert checkpoint.restore(tmp_path / "detectors.json", {"s/p": make_detector("robust_z")}) == 0
    assert caplog.records == []


def _truncated(tmp_path: Path) -> bytes:
    whole = tmp_path / "whole.json"
    checkpoint.save(whole, {"s/p": fed("profile_novelty")})
    data = whole.read_bytes()
    return data[: len(data) // 2]  # a write cut short, as a power loss without fsync leaves it


@pytest.mark.parametrize(("content", "reason"), [
    (lambda _: b"", "unreadable detector checkpoint .*Expecting value"),
    (_truncated, "unreadable detector checkpoint .*line 1"),
    (lambda _: b"\xff\xfe\x00garbage", "unreadable detector checkpoint .*codec can't decode"),
    (lambda _: b"[1, 2]", "expected a JSON object, found list"),
    (lambda _: b'{"s/p": {"name": "profile_novelty"}}', "changed since its checkpoint"),
], ids=["empty", "truncated", "not-utf8", "not-an-object", "no-params"])
def test_a_corrupt_or_partial_file_is_ignored_with_a_logged_reason(
        tmp_path: Path, caplog: pytest.LogCaptureFixture, content: object, reason: str) -> None:
    # Given a checkpoint file damaged on disk
    path = tmp_path / "detectors.json"
    assert callable(content)
    path.write_bytes(content(tmp_path))
    detector = make_detector("profile_novelty")
    caplog.set_level(logging.INFO, logger="edge.checkpoint")
    # When the agent restores from it, Then nothing is restored, nothing raised, the reason logged
    assert checkpoint.restore(path, {"s/p": detector}) == 0
    assert not detector.warm
    assert re.search(reason, caplog.text), caplog.text


@pytest.mark.parametrize("state", [
    {"n": 500, "loc": "not a number", "spread": 1.0},  # fails after n was set
    {"n": 500, "loc": 300.0},                           # a key missing
    "a string, not a state",
    None,
], ids=["bad-value", "missing-key", "string", "null"])
def test_one_bad_state_is_ignored_and_does_not_half_load(
        tmp_path: Path, caplog: pytest.LogCaptureFixture, state: object) -> None:
    # Given a checkpoint whose s/p state is damaged but whose s/q state is good
    path = tmp_path / "detectors.json"
    good = fed("robust_z", 200)
    checkpoint.save(path, {"s/p": fed("robust_z", 200), "s/q": good})
    data = json.loads(path.read_text())
    data["s/p"]["state"] = state
    path.write_text(json.dumps(data))
    damaged, intact = make_detector("robust_z"), make_detector("robust_z")
    caplog.set_level(logging.INFO, logger="edge.checkpoint")
    # When both are restored
    assert checkpoint.restore(path, {"s/p": damaged, "s/q": intact}) == 1
    # Then the good one is warm, and the damaged one is as fresh as a new detector: not warm
    assert intact.state() == good.state()
    assert damaged.state() == make_detector("robust_z").state() and not damaged.warm
    assert f"ignoring bad checkpoint of s/p in {path}" in caplog.text
