"""The hub's registry guard sees revocations while it runs (issue 13, item 3): a device
removed from or revoked in devices.toml is refused within ``recheck_s`` of message time, or at
once on SIGHUP (``reload``); the file is looked at no more than once per ``recheck_s``."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from hub.registry import (
    DeviceEntry,
    RegistryGuard,
    add_device,
    load_registry,
    revoke_device,
)

T0 = 1_790_000_000.0


@pytest.fixture
def path(tmp_path: Path) -> Path:
    registry = tmp_path / "devices.toml"
    add_device(registry, "edge-a", DeviceEntry(zone="north"))
    add_device(registry, "edge-b", DeviceEntry(zone="south", auth="certificate",
                                               certificate_serial="5f1c2a"))
    return registry


def reason(guard: RegistryGuard, device: str, zone: str, now: float) -> str | None:
    rejection = guard.check(device, device, zone, now)
    return None if rejection is None else rejection.reason


def test_a_device_removed_from_the_file_is_refused_within_recheck_s(path: Path) -> None:
    guard = RegistryGuard(load_registry(path), recheck_s=1.0)
    assert reason(guard, "edge-b", "south", T0) is None
    # When edge-b is deleted from the file by hand
    path.write_text('[devices.edge-a]\nzone = "north"\n')
    # Then within the same second of message time nothing was re-read (no stat per message) ...
    assert reason(guard, "edge-b", "south", T0 + 0.5) is None
    # ... and one second later edge-b is refused, edge-a still accepted
    assert reason(guard, "edge-b", "south", T0 + 1.0) == "unknown_device"
    assert reason(guard, "edge-a", "north", T0 + 1.1) is None


def test_sighup_rereads_the_registry_at_once(path: Path) -> None:
    guard = RegistryGuard(load_registry(path), recheck_s=3600.0)
    assert reason(guard, "edge-a", "north", T0) is None
    revoke_device(path, "edge-a", "2026-12-03T10:00:00.000Z", "stolen")
    assert reason(guard, "edge-a", "north", T0 + 1) is None  # an hour between looks
    assert guard.reload()
    assert reason(guard, "edge-a", "north", T0 + 2) == "revoked_device"


def test_revoking_keeps_the_reason_and_the_certificate_serial(path: Path) -> None:
    entry = revoke_device(path, "edge-b", "2026-12-03T10:00:00.000Z", 'board "7" stolen\n')
    assert entry.certificate_serial == "5f1c2a"
    registry = load_registry(path)
    assert set(registry.devices) == {"edge-a"}
    assert registry.revoked["edge-b"].why == 'board "7" stolen\n'
    assert tomllib.loads(path.read_text())["revoked"]["edge-b"]["certificate_serial"] == "5f1c2a"
    # a revoked device comes back only on purpose (provision-device --force)
    with pytest.raises(ValueError, match="was revoked"):
        add_device(path, "edge-b", DeviceEntry(zone="south"))
    add_device(path, "edge-b", DeviceEntry(zone="south"), replace=True)
    assert "edge-b" not in load_registry(path).revoked


def test_a_revoked_device_listed_again_under_devices_stays_refused(path: Path) -> None:
    revoke_device(path, "edge-a", "2026-12-03T10:00:00.000Z")
    path.write_text(path.read_text() + '\n[devices.edge-a]\nzone = "north"\n')
    guard = RegistryGuard(load_registry(path))
    assert reason(guard, "edge-a", "north", T0) == "revoked_device"


def test_a_broken_file_keeps_the_last_good_registry(path: Path) -> None:
    guard = RegistryGuard(load_registry(path), recheck_s=1.0)
    path.write_text("[devices.edge-a\n")
    assert reason(guard, "edge-a", "north", T0 + 5) is None
    assert guard.last_error is not None and "not valid TOML" in guard.last_error
    path.write_text('[revoked.edge-a]\nrevoked = "x"\n')
    assert reason(guard, "edge-a", "north", T0 + 10) == "revoked_device"
    assert guard.last_error is None


def test_revoke_says_when_a_certificate_serial_is_unknown(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from hub.desk.provision import revoke

    registry = tmp_path / "devices.toml"
    registry.write_text('[devices.old-cert]\nzone = "north"\nauth = "certificate"\n\n'
                        '[devices.new-cert]\nzone = "north"\nauth = "certificate"\n'
                        'certificate_serial = "2a07"\n')
    now = datetime.now(UTC)
    assert revoke("old-cert", registry=registry, now=now).certificate_unknown
    done = revoke("new-cert", registry=registry, now=now)
    assert not done.certificate_unknown and done.certificate_serial == "2a07"
    assert set(load_registry(registry).revoked) == {"old-cert", "new-cert"}
