"""``lifeline-hub status`` asks the store per device for its alerts of the last hour, its
last arrival and that alert's zone (``Store.alert_rates``): by the index
``alerts_device_received`` (issue 16), which a store made before it gets when it opens,
on both backends. A GROUP BY over every alert took ~20 s on 10 M alerts."""

from __future__ import annotations

from collections.abc import Callable

from hub.store import Store
from lifeline import wire
from lifeline.grades import Grade

NOW = 1_800_000_000.0


def alert(n: int, device: str, zone: str) -> wire.Alert:
    return wire.Alert(id=f"{n:032x}", device=device, zone=zone, sensor="main-pressure",
                      channel="pressure_kpa", kind="water.pressure", ts=NOW + n, value=200.0,
                      score=1.0, grade=Grade.ORANGE, reason=wire.Reason.LIMIT, seq=n + 1)


def indexes(store: Store) -> set[str]:
    if store.path is not None:
        return {r[0] for r in store.db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'alerts'")}
    return {r[0] for r in store.db.execute(
        "SELECT indexname FROM pg_indexes WHERE tablename = 'alerts'")}


def test_alert_rates_per_device_and_the_index_an_older_store_gets(
        open_store: Callable[[], Store]) -> None:
    # Given a store made before the index (dropped), with alerts of three devices, one of
    # which moved zone, received over two hours
    store = open_store()
    with store.transaction():
        store.db.execute("DROP INDEX alerts_device_received")
        arrivals = {"edge-a": [(NOW - 7000, "north"), (NOW - 100, "north"), (NOW - 50, "east")],
                    "edge-b": [(NOW - 5000, "south")],
                    "edge-c": [(NOW - 3000, "west"), (NOW - 10, "west")]}
        n = 0
        for device, times in arrivals.items():
            for at, zone in times:
                n += 1
                assert store.add_alert(alert(n, device, zone), at, "{}")
    assert "alerts_device_received" not in indexes(store)
    store.close()
    # When the hub opens it again
    store = open_store()
    # Then it has the index, and per device: its alerts of the last hour, its last
    # arrival and that alert's zone
    assert "alerts_device_received" in indexes(store)
    assert store.alert_rates(NOW - 3600) == {"edge-a": (2, NOW - 50, "east"),
                                             "edge-b": (0, NOW - 5000, "south"),
                                             "edge-c": (2, NOW - 10, "west")}
    assert store.alert_rates(0.0)["edge-a"][0] == 3


def test_the_unread_index_alerts_device_ts_is_dropped_when_a_store_opens(
        open_store: Callable[[], Store]) -> None:
    # Given a store as schema 6 made it, with alerts_device_ts (read by no query; every
    # alert paid a B-tree insert for it)
    store = open_store()
    with store.transaction():
        store.db.execute("CREATE INDEX IF NOT EXISTS alerts_device_ts ON alerts (device, ts)")
        store.add_alerts([(alert(1, "edge-a", "north"), "{}")], NOW)
    assert "alerts_device_ts" in indexes(store)
    store.close()
    # When the hub opens it again
    reopened = open_store()
    # Then the index is gone, the alerts and the index status reads are still there
    assert "alerts_device_ts" not in indexes(reopened)
    assert "alerts_device_received" in indexes(reopened)
    assert reopened.count_alerts() == 1
