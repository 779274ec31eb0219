"""The device registry: which devices the hub accepts messages from, and in which zone.

A TOML file beside ``hub.toml`` (``[security] registry = "devices.toml"``),
written by ``lifeline-hub provision-device``::

    [devices.edge-north-1]
    zone = "north"
    auth = "password"
    provisioned = "2026-11-21T20:15:03.120Z"
    certificate_serial = "5f1c..."   # with --auth certificate/both: the serial, in hex

    [revoked.edge-old-3]              # written by `lifeline-hub revoke-device`
    revoked = "2026-12-01T08:00:00.000Z"
    why = "board stolen from cabinet 12"
    certificate_serial = "2a07..."   # listed in the broker's CRL (hub/desk/provision.py)

``check_message`` is the pure rule the hub applies to every decoded alert and
status: the device in the payload must be the device of the topic, must not be
revoked, must be in the registry, and must claim the zone it was registered in.
A rejection is a security event (counted, shown in ``tail``), never fused into
an incident. The hub sees a change of the file within ``recheck_s`` (a stat at
most that often, on the message clock and from the hub's once-a-second tick) and
at once on SIGHUP (``RegistryGuard``).
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from lifeline.tomlconfig import ConfigError, Section, load_toml, raise_if_problems

__all__ = ["AUTH_KINDS", "RESERVED_IDS", "DeviceEntry", "Registry", "RegistryGuard", "Rejection",
           "RevokedEntry", "add_device", "check_message", "load_registry", "name_problem",
           "revoke_device"]

log = logging.getLogger(__name__)

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
    certificate_serial: str = ""  # hex, of the client certificate provisioning issued


@dataclass(frozen=True, slots=True)
class RevokedEntry:
    """A device whose messages are refused for good, and why; its certificate's serial goes
    into the broker's certificate revocation list."""

    revoked: str = ""
    why: str = ""
    certificate_serial: str = ""


@dataclass(frozen=True)
class Registry:
    """Known devices by id, and revoked ones. ``path`` is where it was read from."""

    devices: Mapping[str, DeviceEntry]
    path: Path | None = None
    revoked: Mapping[str, RevokedEntry] = field(default_factory=dict)


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
    >>> revoked = Registry(registry.devices, revoked={"edge-1": RevokedEntry()})
    >>> check_message(revoked, "edge-1", "edge-1", "north").reason
    'revoked_device'
    """
    if device != topic_device:
        return Rejection("device_mismatch", f"payload claims device {device!r} but arrived on "
                         f"the topic of device {topic_device!r}")
    if registry is None:
        return None
    if device in registry.revoked:
        return Rejection("revoked_device", f"device {device!r} is revoked "
                         f"({registry.revoked[device].revoked or 'date unknown'})")
    entry = registry.devices.get(device)
    if entry is None:
        return Rejection("unknown_device", f"device {device!r} is not in the device registry")
    if entry.zone != zone:
        return Rejection("zone_mismatch", f"device {device!r} claims zone {zone!r} but is "
                         f"registered in zone {entry.zone!r}")
    return None


class RegistryGuard:
    """The hub's view of the registry: ``check_message`` against it, re-reading the file
    when it changed -- a device provisioned, removed or revoked while the hub runs needs no
    restart, and a revocation takes effect within ``recheck_s``.

    The file is stat()ed at most once per ``recheck_s`` of message time (``now``, passed
    in), and once more per ``recheck_s`` when a message would be refused as unknown or in
    the wrong zone (a device provisioned a moment ago is accepted at once), so a flood of
    messages cannot turn into a flood of system calls; it is re-read
    only when its modification time, size or inode changed (``provision-device`` and
    ``revoke-device`` replace it atomically: a new inode). ``reload`` (SIGHUP) re-reads it
    at once. A file that became broken keeps the last good registry (``last_error``, logged).
    """

    def __init__(self, registry: Registry | None, recheck_s: float = 1.0) -> None:
        self.registry = registry
        self.recheck_s = recheck_s
        self.last_error: str | None = None
        self._checked_at = float("-inf")
        self._refused_at = float("-inf")
        self._stamp = _stamp(registry.path) if registry and registry.path else None

    def check(self, topic_device: str, device: str, zone: str, now: float) -> Rejection | None:
        if device != topic_device:  # a device_mismatch needs no registry
            return check_message(self.registry, topic_device, device, zone)
        self.refresh(now)
        rejection = check_message(self.registry, topic_device, device, zone)
        if (rejection is not None and rejection.reason in ("unknown_device", "zone_mismatch")
                and now - self._refused_at >= self.recheck_s):
            # a device provisioned a moment ago: look now rather than at the next second
            # (at most once per recheck_s, so a flood of forged messages stays one stat)
            self._refused_at = now
            if self._changed():
                return check_message(self.registry, topic_device, device, zone)
        return rejection

    def refresh(self, now: float) -> bool:
        """Re-read the file if ``recheck_s`` passed since the last look and it changed;
        True if the registry was replaced."""
        if self.registry is None or self.registry.path is None:
            return False
        if now - self._checked_at < self.recheck_s:
            return False
        self._checked_at = now
        return self._changed()

    def _changed(self) -> bool:
        if self.registry is None or self.registry.path is None:
            return False
        if _stamp(self.registry.path) == self._stamp:
            return False
        return self.reload()

    def reload(self) -> bool:
        """Re-read the file now (SIGHUP); True if the registry was replaced."""
        if self.registry is None or self.registry.path is None:
            return False
        path = self.registry.path
        stamp = _stamp(path)
        try:
            registry = load_registry(path)
        except ConfigError as exc:
            if str(exc) != self.last_error:
                log.error("device registry %s is broken, keeping the last good one "
                          "(%d devices, %d revoked): %s", path, len(self.registry.devices),
                          len(self.registry.revoked), exc)
            self.last_error, self._stamp = str(exc), stamp
            return False
        gone = sorted(set(self.registry.devices) - set(registry.devices))
        revoked = sorted(set(registry.revoked) - set(self.registry.revoked))
        self.registry, self._stamp, self.last_error = registry, stamp, None
        log.info("device registry %s re-read: %d devices, %d revoked%s%s", path,
                 len(registry.devices), len(registry.revoked),
                 f"; removed: {', '.join(gone)}" if gone else "",
                 f"; newly revoked: {', '.join(revoked)}" if revoked else "")
        return True


def _stamp(path: Path) -> tuple[int, int, int] | None:
    """What tells a changed file: modification time (ns), size, inode; None if missing."""
    try:
        info = path.stat()
    except OSError:
        return None
    return info.st_mtime_ns, info.st_size, info.st_ino


def name_problem(text: str) -> str | None:
    return None if _NAME.match(text) else f"{text!r} is not a valid name"


_SERIAL = re.compile(r"^[0-9a-f]{1,40}$")


def _serial_problem(text: str) -> str | None:
    return None if _SERIAL.match(text) else (f"{text!r} is not a certificate serial number "
                                             "(lower-case hex, at most 40 digits)")


def _device_tables(table: Section) -> Iterator[tuple[str, Section]]:
    """Each ``[TABLE.<device id>]`` of ``table`` whose id is a valid name (a bad one is a
    problem recorded here)."""
    for device in list(table.data):
        table.read.add(device)
        if (problem := name_problem(device)) is not None:
            table.problem(device, problem)
            continue
        yield device, table.section(device)


def load_registry(path: Path) -> Registry:
    """Read the registry; a missing file is an empty registry (every device refused).

    Raises ConfigError with ``file: key: problem`` lines for a broken file.
    """
    if not path.exists():
        return Registry({}, path)
    top = Section(str(path), "", load_toml(path), [])
    table = top.section("devices", required=False)
    devices: dict[str, DeviceEntry] = {}
    for device, entry in _device_tables(table):
        zone = entry.str("zone", check=name_problem)
        auth = entry.str("auth", "password", choices=AUTH_KINDS)
        provisioned = entry.str("provisioned", "")
        serial = entry.str("certificate_serial", "", check=_serial_problem)
        entry.finish()
        if zone is not None:
            devices[device] = DeviceEntry(zone=zone, auth=auth, provisioned=provisioned,
                                          certificate_serial=serial or "")
    table.finish()
    gone = top.section("revoked", required=False)
    revoked: dict[str, RevokedEntry] = {}
    for device, entry in _device_tables(gone):
        revoked[device] = RevokedEntry(
            revoked=entry.str("revoked", "") or "", why=entry.str("why", "") or "",
            certificate_serial=entry.str("certificate_serial", "", check=_serial_problem) or "")
        entry.finish()
    gone.finish()
    top.finish()
    raise_if_problems(top)
    return Registry(devices, path, revoked)


def add_device(path: Path, device: str, entry: DeviceEntry, *, replace: bool = False) -> None:
    """Add ``device`` to the registry file (atomically: write a temporary file, then rename).

    Raises ValueError if the device is already registered, or revoked, and ``replace`` is
    false; with ``replace`` a revoked device is registered again (new credentials).
    """
    if name_problem(device) or name_problem(entry.zone):
        raise ValueError(f"invalid device id {device!r} or zone {entry.zone!r}")
    registry = load_registry(path)
    if device in registry.devices and not replace:
        raise ValueError(f"device {device!r} is already in {path} (zone "
                         f"{registry.devices[device].zone!r}); use --force to provision it again")
    if device in registry.revoked and not replace:
        raise ValueError(f"device {device!r} was revoked ({registry.revoked[device].revoked}); "
                         "use --force to provision it again with new credentials")
    _write(path, {**registry.devices, device: entry},
           {k: v for k, v in registry.revoked.items() if k != device})


def revoke_device(path: Path, device: str, when: str, why: str = "") -> RevokedEntry:
    """Move ``device`` from the registered devices to the revoked ones (atomically); the hub
    refuses its messages from then on (``revoked_device``). Returns the revoked entry, whose
    ``certificate_serial`` (if any) belongs in the broker's CRL.

    Raises ValueError if the device is neither registered nor already revoked.
    """
    registry = load_registry(path)
    if device in registry.revoked:
        return registry.revoked[device]
    if device not in registry.devices:
        raise ValueError(f"device {device!r} is not in {path}")
    entry = RevokedEntry(revoked=when, why=why,
                         certificate_serial=registry.devices[device].certificate_serial)
    _write(path, {k: v for k, v in registry.devices.items() if k != device},
           {**registry.revoked, device: entry})
    return entry


def _write(path: Path, devices: Mapping[str, DeviceEntry],
           revoked: Mapping[str, RevokedEntry]) -> None:
    lines = ["# Lifeline device registry: written by `lifeline-hub provision-device`",
             "# and `lifeline-hub revoke-device`. The hub accepts messages only from these",
             "# devices, in these zones, and never from a revoked one.", ""]
    for name in sorted(devices):
        item = devices[name]
        # names match _NAME and auth/provisioned/serial are ours: plain quoting is exact TOML
        lines += [f'[devices."{name}"]', f'zone = "{item.zone}"', f'auth = "{item.auth}"']
        if item.provisioned:
            lines.append(f'provisioned = "{item.provisioned}"')
        if item.certificate_serial:
            lines.append(f'certificate_serial = "{item.certificate_serial}"')
        lines.append("")
    for name in sorted(revoked):
        gone = revoked[name]
        lines += [f'[revoked."{name}"]', f'revoked = "{gone.revoked}"',
                  f"why = {_toml_string(gone.why)}"]
        if gone.certificate_serial:
            lines.append(f'certificate_serial = "{gone.certificate_serial}"')
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


def _toml_string(text: str) -> str:
    """``text`` as a TOML basic string (JSON's escapes are TOML's, but for \\u007f)."""
    import json

    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")
