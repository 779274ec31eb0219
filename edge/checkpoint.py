"""Detector checkpoints in the state directory, so a reboot neither re-learns nor alarms in warm-up.

One JSON file per device, ``detectors.json``: for each ``sensor/channel`` the
detector's name, params and learned state. A checkpoint is restored only when
the configured detector and params are unchanged; otherwise it learns afresh.
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
    data = {key: {"name": d.name, "params": d.params(), "state": d.state()}
            for key, d in detectors.items()}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, allow_nan=False))
    os.replace(tmp, path)


def restore(path: Path, detectors: dict[str, Detector]) -> int:
    """Load matching checkpoints into ``detectors``; return how many were restored."""
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except FileNotFoundError:
        return 0
    except (OSError, ValueError) as exc:
        log.warning("ignoring unreadable detector checkpoint %s: %s", path, exc)
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
        try:
            detector.restore(saved["state"])
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("ignoring bad checkpoint of %s: %s", key, exc)
            continue
        restored += 1
    return restored
