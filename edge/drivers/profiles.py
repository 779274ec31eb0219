"""Sensor profiles: a device's usual settings in one file, so a technician writes only what differs.

``profile = "methane-lel-modbus"`` in a ``[[sensors]]`` table loads
``methane-lel-modbus.toml`` from the first profile directory that has it; the
profile holds ordinary sensor keys (driver, registers, channels, limits ...)
and an optional ``[about]`` table (description, sources) that is not
configuration. The sensor's own keys override the profile's; tables
(``channels``, ``channels.<name>``, ``detection``) merge key by key, arrays
(``registers``, ``bands``) are replaced whole.

Where profiles are looked up: ``profiles_dir`` at the top of edge.toml when
set (relative to edge.toml); otherwise ``/etc/lifeline/profiles`` and then the
``hardware/profiles`` directory of the source tree this package runs from.
A problem in a key that came from a profile is reported against the profile file.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lifeline.tomlconfig import ConfigError, Section, load_toml

SOURCE_PROFILES = Path(__file__).resolve().parents[2] / "hardware" / "profiles"
SYSTEM_PROFILES = Path("/etc/lifeline/profiles")
NOT_IN_PROFILE = ("id", "port", "profile")


@dataclass(frozen=True)
class ProfileOrigin:
    name: str
    path: Path
    keys: frozenset[str] = field(default_factory=frozenset)  # top-level keys the profile supplied


def default_profile_dirs() -> tuple[Path, ...]:
    return (SYSTEM_PROFILES, SOURCE_PROFILES)


def available(dirs: tuple[Path, ...]) -> list[str]:
    names = {p.stem for d in dirs if d.is_dir() for p in d.glob("*.toml")}
    return sorted(names)


def find_profile(name: str, dirs: tuple[Path, ...]) -> Path | None:
    for directory in dirs:
        candidate = directory / f"{name}.toml"
        if candidate.is_file():
            return candidate
    return None


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """``override`` on top of ``base``: tables merge recursively, everything else is replaced."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def apply_profile(sec: Section, dirs: tuple[Path, ...]) -> tuple[Section, ProfileOrigin | None]:
    """The sensor table with its profile applied, and where the profile came from (if any)."""
    name = sec.data.get("profile")
    if name is None:
        return sec, None
    if not isinstance(name, str) or not name or "/" in name or name.startswith("."):
        sec.problem("profile", f"expected a profile name like 'methane-lel-modbus', found {name!r}")
        return sec, None
    path = find_profile(name, dirs)
    if path is None:
        names = available(dirs)
        close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
        sec.problem("profile", f"no profile {name!r} in {', '.join(str(d) for d in dirs)}"
                    + (f"; available: {', '.join(names)}" if names else "")
                    + (f"; did you mean {close[0]!r}?" if close else ""))
        return sec, None
    try:
        data = load_toml(path)
    except ConfigError as exc:
        sec.problems.extend(exc.problems)
        return sec, None
    data.pop("about", None)
    for key in NOT_IN_PROFILE:
        if key in data:
            sec.problems.append((str(path), key, "belongs in edge.toml, not in a profile"))
            data.pop(key)
    merged = Section(sec.file, sec.path, merge(data, sec.data), sec.problems)
    own = set(sec.data)
    return merged, ProfileOrigin(name, path, frozenset(k for k in data if k not in own))


def blame_profile(problems: list[tuple[str, str, str]], start: int, sensor_path: str,
                  origin: ProfileOrigin | None) -> None:
    """Point problems found since ``start`` in keys the profile supplied at the profile file."""
    if origin is None:
        return
    prefix = sensor_path + "."
    for index in range(start, len(problems)):
        file, key, problem = problems[index]
        if not key.startswith(prefix):
            continue
        rest = key[len(prefix):]
        top = rest.replace("[", ".").split(".", 1)[0]
        if top in origin.keys:
            problems[index] = (str(origin.path), rest, f"{problem} (profile used by {sensor_path})")
