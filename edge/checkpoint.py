"""Detector checkpoints in the state directory, so a reboot neither re-learns nor alarms in warm-up.

One JSON file per device, ``detectors.json``: for each ``sensor/channel`` the
detector's name, params and learned state. A checkpoint is restored only when
the configured detector and params are unchanged; otherwise it learns afresh.
A file that cannot be read or parsed, or one detector's state that does not
load, is logged and ignored: a bad checkpoint costs a warm-up, never a start.

A checkpoint holds only what the detectors learned, and they learn only normal readings
(edge/pipeline.py): readings held back before an alarm and the alarm's own readings are not
in it, so a restart does not smuggle a hazard into the model. ``forget`` drops one sensor's
entries (``lifeline-edge relearn``).
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from edge.detectors import Detector

log = logging.getLogger(__name__)


def save(path: Path, detectors: dict[str, Detector]) -> None:
    """Write every detector's state to ``path`` atomically, durable before it replaces the old one.

    The data reaches the disk (fsync) before the rename, and the rename before we return
    (fsync of the directory): after a power cut the file is the old checkpoint or the new
    one, never an empty or partial one.
    """
    data = {key: {"name": d.name, "params": d.params(), "state": d.state()}
            for key, d in detectors.items()}
    _write(path, json.dumps(data, allow_nan=False))
    log.info("saved %d detector checkpoint(s) to %s", len(data), path)


def forget(path: Path, prefix: str) -> int:
    """Remove every entry whose key starts with ``prefix`` (``sensor/``) from the checkpoint at
    ``path``, atomically; return how many were removed (0 when there is no such file)."""
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return 0
    except ValueError:  # unreadable: restore() ignores it anyway
        return 0
    if not isinstance(data, dict):
        return 0
    kept = {k: v for k, v in data.items() if not k.startswith(prefix)}
    if len(kept) != len(data):
        _write(path, json.dumps(kept, allow_nan=False))
    return len(data) - len(kept)


def _write(path: Path, text: str) -> None:
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def restore(path: Path, detectors: dict[str, Detector]) -> int:
    """Load matching checkpoints into ``detectors``; return how many were restored."""
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return 0
    except (OSError, ValueError) as exc:
        log.warning("ignoring unreadable detector checkpoint %s: %s", path, exc)
        return 0
    if not isinstance(data, dict):
        log.warning("ignoring detector checkpoint %s: expected a JSON object, found %s",
                    path, type(data).__name__)
        return 0
    restored = 0
    for key, detector in detectors.items():
        saved = data.get(key)
        if not isinstance(saved, dict):
            continue
        params = json.loads(json.dumps(detector.params()))  # tuples become lists, as saved
        if saved.get("name") != detector.name or saved.get("params") != params:
            log.info("detector of %s changed since its checkpoint; learning afresh", key)
            continue
        before = detector.state()
        try:
            detector.restore(saved["state"])
        except (LookupError, TypeError, ValueError, AttributeError) as exc:
            detector.restore(before)  # a state that failed half-way must not stay half-loaded
            log.warning("ignoring bad checkpoint of %s in %s: %s", key, path, exc)
            continue
        restored += 1
    return restored
