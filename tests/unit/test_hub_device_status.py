"""What `lifeline-hub status` says about a device, from its statuses, alerts and the registry."""

from __future__ import annotations

import pytest

from hub.core.device_status import DeviceRow, device_rows

T = 1_800_000_000.0


@pytest.mark.parametrize(("statuses", "alerts", "registry", "expected"), [
    pytest.param([("d", "north", "online", T)], {"d": (3, T + 5, "north")}, {},
                 DeviceRow("d", "north", "status", "online", T + 5, 3, T + 5),
                 id="status and alerts: its state, seen at its latest message"),
    pytest.param([], {"d": (2, T, "main-1")}, {},
                 DeviceRow("d", "main-1", "alert", "alerting (no status yet)", T, 2, T),
                 id="alerts only: zone of its latest alert, alerting"),
    pytest.param([], {"d": (0, T, "main-1")}, {},
                 DeviceRow("d", "main-1", "alert", "no status yet", T, 0, T),
                 id="alerts only, none in the last hour: no status yet"),
    pytest.param([], {"d": (2, T, "main-1")}, {"d": "north-main-1"},
                 DeviceRow("d", "north-main-1", "registry", "alerting (no status yet)", T, 2, T),
                 id="the registry's zone before an alert's"),
    pytest.param([], {}, {"d": "north"},
                 DeviceRow("d", "north", "registry", "never seen", None, 0, None),
                 id="registered, nothing received: never seen"),
    pytest.param([("d", "east", "offline", T + 9)], {"d": (1, T, "east")}, {"d": "east"},
                 DeviceRow("d", "east", "status", "offline", T + 9, 1, T),
                 id="offline after its last alert"),
    pytest.param([], {"d": (1, T, None)}, {},
                 DeviceRow("d", "?", None, "alerting (no status yet)", T, 1, T),
                 id="nothing says where it is: ?"),
])
def test_a_device_row(statuses: list[tuple[str, str, str, float]],
                      alerts: dict[str, tuple[int, float | None, str | None]],
                      registry: dict[str, str], expected: DeviceRow) -> None:
    assert device_rows(statuses, alerts, registry) == [expected]


def test_every_device_from_any_source_once_by_name() -> None:
    rows = device_rows([("b", "z", "online", T)], {"c": (1, T, "z"), "b": (1, T, "z")},
                       {"a": "z", "b": "z"})
    assert [r.device for r in rows] == ["a", "b", "c"]
