"""Load the NAB corpus: the series, their windows and the scoring profiles.

The corpus is read in place (``--data``), never copied into the repository.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.nab_scoring import LabelledFile, Profile, load_profiles, window_indices


def parse_time(text: str) -> float:
    """NAB timestamps (``2014-02-19 10:50:00`` or with ``.000000``) as epoch seconds, taken as UTC."""
    return datetime.fromisoformat(text.strip()).replace(tzinfo=UTC).timestamp()


@dataclass(frozen=True)
class Series:
    """One NAB data file: its rows and its labelled windows."""

    label: LabelledFile
    timestamps: tuple[float, ...]
    values: tuple[float, ...]


@dataclass(frozen=True)
class Corpus:
    series: tuple[Series, ...]
    profiles: dict[str, Profile]

    @property
    def files(self) -> tuple[LabelledFile, ...]:
        return tuple(s.label for s in self.series)


def read_series(path: Path) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Read ``timestamp,value`` rows of one file."""
    timestamps: list[float] = []
    values: list[float] = []
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            timestamps.append(parse_time(row["timestamp"]))
            values.append(float(row["value"]))
    return tuple(timestamps), tuple(values)


def load_corpus(root: Path, only: str | None = None) -> Corpus:
    """Load every file named in ``labels/combined_windows.json`` (optionally those containing ``only``)."""
    windows = json.loads((root / "labels" / "combined_windows.json").read_text())
    series = []
    for name in sorted(windows):
        if only and only not in name:
            continue
        timestamps, values = read_series(root / "data" / name)
        limits = [(parse_time(a), parse_time(b)) for a, b in windows[name]]
        label = LabelledFile(name, len(values), window_indices(timestamps, limits))
        if len(label.windows) != len(limits):
            raise ValueError(f"{name}: a window does not match any row")
        series.append(Series(label, timestamps, values))
    if not series:
        raise FileNotFoundError(f"no NAB data files under {root}")
    return Corpus(tuple(series), load_profiles(root / "config" / "profiles.json"))
