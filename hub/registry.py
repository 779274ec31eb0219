"""The device registry: which devices the hub accepts messages from, and in which zone.

A TOML file beside ``hub.toml`` (``[security] registry = "devices.toml"``),
written by ``lifeline-hub provision-device``::

    [devices.edge-north-1]
    zone = "north"
    auth = "password"
    provisioned = "2026-11-21T20:15:03.120Z"

``check_message`` is the pure rule the hub applies to every decoded alert and
status: the device in the payload must be the device of the topic, must be in
the registry, and must claim the zone it was registered in. A rejection is a
security event (counted, shown in ``tail``), never fused into an incident.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from lifeline.tomlconfig import ConfigError, Section, load_toml, raise_if_problems

__all__ = ["AUTH_KINDS", "RESERVED_IDS", "DeviceEntry", "Registry", "RegistryGuard", "Rejection",
           "add_device", "check_message", "load_registry", "name_problem"]

AUTH_KINDS = ("password", "certificate", "both")
# "hub" is the hub's own topic level (lifeline/v1/hub/incident); the hub's broker user
# must never be a device, or the ACL's device patterns would apply to the hub's name.
RESERVED_IDS = frozenset({"hub", "lifeline-hub"})
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True, slots=True)
class DeviceEntry:
    zone: str
    auth: str = "password"
    provisioned: str = ""


@dataclass(frozen=True)
class Registry:
    """Known devices by id. ``path`` is where it was read from (for messages)."""

    devices: Mapping[str, DeviceEntry]
    path: Path | None = None


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a message is refused: a stable ``reason`` token for counters and a sentence."""

    reason: str
    detail: str


def check_message(registry: Registry | None, topic_device: str, device: str,
                  zone: str) -> Rejection | None:
    """None if a message on ``topic_device``'s topic claiming ``device`` in ``zone`` is
    acceptable; otherwise the Rejection. Pure.

    ``registry`` None means no registry is configured: only the topic check applies.

    >>> registry = Registry({"edge-1": DeviceEntry(zone="north")})
    >>> check_message(registry, "edge-1", "edge-1", "north") is None
    True
    >>> check_message(registry, "edge-1", "edge-2", "north").reason
    'device_mismatch'
    >>> check_message(registry, "edge-9", "edge-9", "north").reason
    'unknown_device'
    >>> check_message(registry, "edge-1", "edge-1", "south").reason
    'zone_mismatch'
    """
    if device != topic_device:
        return Rejection("device_mismatch", f"payload claims device {device!r} but arrived on "
                         f"the topic of device {topic_device!r}")
    if registry is None:
        return None
    entry = registry.devices.get(device)
    if entry is None:
        return Rejection("unknown_device", f"device {device!r} is not in the device registry")
    if entry.zone != zone:
        return Rejection("zone_mismatch", f"device {device!r} claims zone {zone!r} but is "
                         f"registered in zone {entry.zone!r}")
    return None


class RegistryGuard:
    """The hub's view of the registry: ``check_message`` against it, re-reading the file
    when it changed (a device provisioned while the hub runs needs no restart).

    The file is looked at only when a message would be refused for being unknown or in
    the wrong zone, and at most once per ``recheck_s`` of message time, so a flood of
    forged messages cannot turn into a flood of file reads. A file that became broken
    keeps the last good registry (logged by the caller via ``last_error``).
    """

    def __init__(self, registry: Registry | None, recheck_s: float = 1.0) -> None:
        self.registry = registry
        self.recheck_s = recheck_s
        self.last_error: str | None = None
        self._checked_at = float("-inf")
        self._mtime = _mtime(registry.path) if registry and registry.path else None

    def check(self, topic_device: str, device: str, zone: str, now: float) -> Rejection | None:
        rejection = check_message(self.registry, topic_device, device, zone)
        if (rejection is None or rejection.reason == "device_mismatch" or self.registry is None
                or now - self._checked_at < self.recheck_s):
            return rejection
        self._checked_at = now
        path = self.registry.path
        if path is None or (mtime := _mtime(path)) == self._mtime:
            return rejection
        try:
            self.registry = load_registry(path)
        except ConfigError as exc:
            self.last_error = str(exc)
            return rejection
        self._mtime, self.last_error = mtime, None
        return check_message(self.registry, topic_device, device, zone)


def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except OSError:
        return None


def name_problem(text: str) -> str | None:
    return None if _NAME.match(text) else f"{text!r} is not a valid name"


def load_registry(path: Path) -> Registry:
    """Read the registry; a missing file is an empty registry (every device refused).

    Raises ConfigError with ``file: key: problem`` lines for a broken file.
    """
    if not path.exists():
        return Registry({}, path)
    top = Section(str(path), "", load_toml(path), [])
    table = top.section("devices", required=False)
    devices: dict[str, DeviceEntry] = {}
    for device in list(table.data):
        table.read.add(device)
        if (problem := name_problem(device)) is not None:
            table.problem(device, problem)
            continue
        entry = table.section(device)
        zone = entry.str("zone", check=name_problem)
        auth = entry.str("auth", "password", choices=AUTH_KINDS)
        provisioned = entry.str("provisioned", "")
        entry.finish()
        if zone is not None:
            devices[device] = DeviceEntry(zone=zone, auth=auth, provisioned=provisioned)
    table.finish()
    top.finish()
    raise_if_problems(top)
    return Registry(devices, path)


def add_device(path: Path, device: str, entry: DeviceEntry, *, replace: bool = False) -> None:
    """Add ``device`` to the registry file (atomically: write a temporary file, then rename).

    Raises ValueError if the device is already registered and ``replace`` is false.
    """
    if name_problem(device) or name_problem(entry.zone):
        raise ValueError(f"invalid device id {device!r} or zone {entry.zone!r}")
    registry = load_registry(path)
    if device in registry.devices and not replace:
        raise ValueError(f"device {device!r} is already in {path} (zone "
                         f"{registry.devices[device].zone!r}); use --force to provision it again")
    devices = {**registry.devices, device: entry}
    lines = ["# Lifeline device registry: written by `lifeline-hub provision-device`.",
             "# The hub accepts messages only from these devices, in these zones.", ""]
    for name in sorted(devices):
        item = devices[name]
        # names match _NAME and auth/provisioned are ours, so plain quoting is exact TOML
        lines += [f'[devices."{name}"]', f'zone = "{item.zone}"', f'auth = "{item.auth}"']
        if item.provisioned:
            lines.append(f'provisioned = "{item.provisioned}"')
        lines.append("")
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=".devices-", dir=path.parent)
    try:
        with os.fdopen(handle, "w") as out:
            out.write("\n".join(lines))
            out.flush()
            os.fsync(out.fileno())
        if path.exists():
            os.chmod(temporary, path.stat().st_mode & 0o777)
        else:
            os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise

