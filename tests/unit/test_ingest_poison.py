"""Poison messages (issue 13, item 1): no message of any kind can stop the hub's ingest.

Through the real ingest path (``hub.service.ingest.Ingest`` on a real SQLite store): every time field
is validated the same way on every message kind, anything one message makes us raise is a
counted rejection of that message, and only a failure of the store itself leaves the batch
(nothing committed, nothing acknowledged).
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.service.ingest import UNPROCESSABLE, Ingest
from hub.store import store_failure
from lifeline import wire
from lifeline.grades import Grade
from tests.support.ingest import ingesting, make_ingest

NOW = 1_790_000_000.0
DEVICE = "edge-north-1"
# every reason a refused message may be counted under (tests/unit/test_ingest_bad_input.py)
REASONS = {"bad_timestamp", "bad_topic", "bad_type", "bad_value", "device_mismatch", "malformed",
           "missing_field", "not_json", "not_object", "schema_version", "too_large"}
POISON_TIMES = ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00",
                "0001-01-01T00:00:00.000001+00:01", "9999-12-31T23:59:59.999999-00:01"]


def alert_dict(**changes: Any) -> dict[str, Any]:
    good = wire.Alert(id=uuid.uuid4().hex, device=DEVICE, zone="north", sensor="main-pressure",
                      channel="pressure_kpa", kind="water.pressure", ts=NOW, value=201.5,
                      score=0.97, grade=Grade.ORANGE, reason=wire.Reason.LIMIT, seq=7, unit="kPa",
                      context=(320.0, 201.5), message="201.5 kPa below low limit 250")
    return {**good.to_dict(), **changes}


def status_dict(**changes: Any) -> dict[str, Any]:
    good = wire.Status(device=DEVICE, zone="north", state="online", ts=NOW,
                       sensors=("main-pressure",), counters={"alerts": 3}, version="0.1.0")
    return {**good.to_dict(), **changes}


def ack_dict(**changes: Any) -> dict[str, Any]:
    return {**wire.Ack(ids=(uuid.uuid4().hex,)).to_dict(), **changes}


def encoded(data: dict[str, Any]) -> bytes:
    return json.dumps(data).encode()


@pytest.fixture
def ingest(tmp_path: Path) -> Iterator[Ingest]:
    with ingesting(tmp_path, NOW) as hub:
        yield hub


def rows(ingest: Ingest, table: str) -> int:
    return int(ingest.store.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


@pytest.mark.parametrize("ts", POISON_TIMES)
def test_a_status_whose_time_cannot_be_printed_is_refused_and_the_batch_goes_on(
        ingest: Ingest, ts: str) -> None:
    # Given a status whose time, after its UTC offset, falls in year 0 or 10000
    poison = encoded(status_dict(ts=ts))
    good = alert_dict(grade="red")
    # When it arrives in a batch between two good messages
    result = ingest.batch([(wire.status_topic(DEVICE), encoded(status_dict())),
                           (wire.status_topic(DEVICE), poison),
                           (wire.alert_topic(DEVICE), encoded(good))], NOW)
    # Then it is refused as bad_timestamp, and the good status and alert are stored and fused
    assert ingest.counters.invalid == Counter({"bad_timestamp": 1})
    assert ingest.counters.statuses == 1 and ingest.counters.stored == 1
    assert result.acks == {DEVICE: [good["id"]]}
    assert [c.kind for c in result.changes] == ["opened"]


@pytest.mark.parametrize("ts", POISON_TIMES)
def test_every_message_kind_checks_time_the_same_way(ts: str) -> None:
    for decode, data in ((wire.decode_status, status_dict(ts=ts)),
                         (wire.decode_alert, alert_dict(ts=ts))):
        with pytest.raises(wire.WireError, match="years 1 to 9999") as caught:
            decode(encoded(data))
        assert caught.value.reason == "bad_timestamp"
    for build in (lambda t: wire.Status(device=DEVICE, zone="z", state="online", ts=t),
                  lambda t: wire.Alert(**{**alert_dict(), "ts": t, "grade": Grade.RED,
                                          "reason": wire.Reason.LIMIT, "context": ()})):
        for bad in (wire.TS_MAX + 1, wire.TS_MIN - 1, float("inf"), float("nan")):
            with pytest.raises(wire.WireError) as caught:
                build(bad)
            assert caught.value.reason == "bad_timestamp"
        wire.encode(build(wire.TS_MAX))  # the bounds themselves can be encoded
        wire.encode(build(wire.TS_MIN))


def test_an_alert_with_an_unprintable_time_is_refused_not_kept_as_clock_skew(
        ingest: Ingest) -> None:
    ingest.batch([(wire.alert_topic(DEVICE), encoded(alert_dict(ts=POISON_TIMES[0])))], NOW)
    assert ingest.counters.invalid == Counter({"bad_timestamp": 1})
    assert ingest.counters.clock_skew == 0 and rows(ingest, "alerts") == 0


def test_a_message_that_makes_the_store_refuse_its_values_is_rejected_alone(
        ingest: Ingest) -> None:
    # Given a store that refuses one device's alert rows (a constraint, as a real schema bug
    # or a value SQLite cannot take would): an IntegrityError, about this message only
    ingest.store.db.execute("CREATE TRIGGER refuse BEFORE INSERT ON alerts "
                            "WHEN NEW.sensor = 'poison' BEGIN SELECT RAISE(ABORT, 'no'); END")
    first, bad, last = alert_dict(), alert_dict(sensor="poison"), alert_dict()
    topic = wire.alert_topic(DEVICE)
    # When it arrives between two good alerts
    result = ingest.batch([(topic, encoded(first)), (topic, encoded(bad)),
                           (topic, encoded(last))], NOW)
    # Then it is counted as unprocessable and not acked; the others are stored and acked
    assert ingest.counters.invalid == Counter({UNPROCESSABLE: 1})
    assert result.acks == {DEVICE: [first["id"], last["id"]]}
    assert rows(ingest, "alerts") == 2 and rows(ingest, "incident_alerts") == 2
    # And ingest goes on with the next batch (fusion reloaded from the store)
    again = ingest.batch([(topic, encoded(alert_dict()))], NOW + 1)
    assert [c.kind for c in again.changes] == ["joined"] and rows(ingest, "alerts") == 3


def test_a_store_that_fails_stops_the_batch_and_nothing_is_committed(tmp_path: Path) -> None:
    # Given a store that is full (no page may be added: SQLite's "database or disk is full")
    ingest = make_ingest(tmp_path, NOW)
    try:
        pages = ingest.store.db.execute("PRAGMA page_count").fetchone()[0]
        ingest.store.db.execute(f"PRAGMA max_page_count = {pages}")
        big = [alert_dict(message="x" * 250, context=[float(n)] * 64) for n in range(200)]
        # When a batch arrives, then the store's failure leaves the batch (the hub stops,
        # acknowledges nothing) and nothing of it is in the store
        with pytest.raises(sqlite3.OperationalError, match="full"):
            ingest.batch([(wire.alert_topic(DEVICE), encoded(a)) for a in big], NOW)
        assert rows(ingest, "alerts") == 0
        assert ingest.counters.invalid == Counter()
    finally:
        ingest.store.close()


def test_store_failure_tells_the_store_from_the_message() -> None:
    assert store_failure(sqlite3.OperationalError("database or disk is full"))
    assert store_failure(sqlite3.DatabaseError("file is not a database"))
    assert store_failure(OSError(28, "No space left on device"))
    assert not store_failure(sqlite3.IntegrityError("NOT NULL constraint failed"))
    assert not store_failure(ValueError("year 0 is out of range"))
    assert not store_failure(OverflowError("Python int too large to convert to SQLite INTEGER"))


# -- the fuzz: every message kind, every field, on every topic the hub may be handed ------

OFFSETS = st.integers(min_value=-(23 * 60 + 59), max_value=23 * 60 + 59).map(
    lambda m: timezone(timedelta(minutes=m)))
TIMES = st.one_of(
    st.builds(lambda moment, zone: moment.replace(tzinfo=zone).isoformat(),
              st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)), OFFSETS),
    st.sampled_from(POISON_TIMES + ["2026-11-21T19:13:37Z", "2026-11-21T19:13:37", "",
                                    "1970-01-01T00:00:00Z", "+inf", "NaN"]),
    st.floats(), st.integers())
JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats()
                    | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=8)
KINDS = {"alert": alert_dict, "status": status_dict, "ack": ack_dict}


@st.composite
def messages(draw: st.DrawFn) -> tuple[str, bytes]:
    kind = draw(st.sampled_from(sorted(KINDS)))
    data = KINDS[kind]()
    for _ in range(draw(st.integers(0, 3))):
        key = draw(st.sampled_from(sorted(data) + ["extra"]))
        data[key] = draw(TIMES if key == "ts" else JSON)
    if draw(st.booleans()):
        data["ts"] = draw(TIMES)
    if draw(st.integers(0, 9)) == 0:
        data.pop(draw(st.sampled_from(sorted(data))))
    topic_kind = draw(st.sampled_from([kind, kind, kind, "alert", "status", "ack", "incident"]))
    device = draw(st.sampled_from([DEVICE, DEVICE, "edge-south-2"]))
    topic = f"{wire.TOPIC_ROOT}/{device}/{topic_kind}"
    raw = json.dumps(data).encode()  # NaN and Infinity as JSON's non-standard literals
    if draw(st.integers(0, 19)) == 0:  # cut short (not empty: that clears a retained status)
        raw = raw[:draw(st.integers(1, len(raw)))]
    return topic, raw


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ingest]:
    hub = make_ingest(tmp_path_factory.mktemp("fuzz"), NOW)
    try:
        yield hub
    finally:
        hub.store.close()


def books(ingest: Ingest) -> Counter[str]:
    c = ingest.counters
    return Counter({"received": c.received, "stored": c.stored, "duplicates": c.duplicates,
                    "statuses": c.statuses, "refused": c.refused.total(),
                    "invalid": c.invalid.total(), "rows": rows(ingest, "alerts")})


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None,
          max_examples=300)
@given(st.lists(messages(), min_size=1, max_size=8))
def test_fuzz_no_message_of_any_kind_escapes_ingest(shared: Ingest,
                                                    batch: list[tuple[str, bytes]]) -> None:
    # Given a hub ingest on a real store
    before = books(shared)
    # When any mix of alerts, statuses and acks, on any of the hub's topics, with any
    # field (times above all) replaced, arrives in one batch
    result = shared.batch(batch, NOW)
    # Then nothing escaped, every message is accounted for -- stored, a duplicate, a
    # status, refused as a security event, or invalid under a known reason -- and no
    # message reached a path the checks did not foresee
    d = books(shared)
    d.subtract(before)
    assert d["received"] == len(batch)
    assert d["stored"] + d["duplicates"] + d["statuses"] + d["refused"] + d["invalid"] == len(batch)
    assert set(shared.counters.invalid) <= REASONS, shared.counters.invalid
    assert d["rows"] == d["stored"]
    assert sum(len(ids) for ids in result.acks.values()) == d["stored"] + d["duplicates"]


def test_what_the_fuzz_stored_can_be_read_back(shared: Ingest) -> None:
    # runs after the fuzz (same module store): every stored body is a valid message again
    for (body,) in shared.store.db.execute("SELECT body FROM alerts"):
        wire.encode(wire.decode_alert(body.encode()))
    for (body,) in shared.store.db.execute("SELECT body FROM devices"):
        wire.encode(wire.decode_status(body.encode()))
