"""The hub's message validation under bad input, through ``hub.service.ingest.Ingest`` on a real store.

Every bad message is refused with a counted reason from a fixed set, nothing of it is stored or
fused, the batch around it still commits, and the counters stay bounded however many distinct
bad messages arrive. A duplicate id with a different body never replaces what was stored.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.config import load_hub_config
from hub.service.ingest import LOG_PER_REASON, Ingest
from hub.store import Store
from lifeline import wire
from lifeline.grades import Grade

NOW = 1_790_000_000.0
DEVICE = "edge-north-1"
TOPIC = wire.alert_topic(DEVICE)
# Every reason a refused message may be counted under; anything else would let a sender grow
# the hub's counters (and its stats line) without bound.
REASONS = {"bad_timestamp", "bad_topic", "bad_type", "bad_value", "device_mismatch", "malformed",
           "missing_field", "not_json", "not_object", "schema_version", "too_large"}
JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats()
                    | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=10)
FIELDS = ("v", "id", "device", "zone", "sensor", "channel", "kind", "ts", "value", "unit", "score",
          "grade", "reason", "seq", "context", "message", "cleared")


def alert(**changes: Any) -> wire.Alert:
    fields: dict[str, Any] = dict(
        id=uuid.uuid4().hex, device=DEVICE, zone="north", sensor="main-pressure",
        channel="pressure_kpa", kind="water.pressure", ts=NOW, value=201.5, score=0.97,
        grade=Grade.ORANGE, reason=wire.Reason.LIMIT, seq=7, unit="kPa", context=(320.0, 201.5),
        message="201.5 kPa below low limit 250")
    fields.update(changes)
    return wire.Alert(**fields)


def payload(**changes: Any) -> bytes:
    """A valid alert's JSON with ``changes`` (``...`` deletes a key), encoded as-is."""
    data = json.loads(wire.encode(alert()))
    for key, value in changes.items():
        if value is ...:
            del data[key]
        else:
            data[key] = value
    return json.dumps(data).encode()


@pytest.fixture(scope="module")
def ingest(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ingest]:
    """One hub ingest on a real SQLite store, shared by the examples (they use fresh ids)."""
    path: Path = tmp_path_factory.mktemp("hub") / "hub.toml"
    path.write_text('[store]\npath = "hub.db"\n')
    config = load_hub_config(path)
    store = Store.open_writer(config.store.path)
    try:
        yield Ingest(store, config, NOW)
    finally:
        store.close()


def stored_count(ingest: Ingest) -> int:
    return int(ingest.store.db.execute("SELECT count(*) FROM alerts").fetchone()[0])


def refused(ingest: Ingest, payloads: list[bytes]) -> Counter[str]:
    """Feed ``payloads`` as one batch; the reasons they were refused under (the counter delta)."""
    before = Counter(ingest.counters.invalid)
    ingest.batch([(TOPIC, p) for p in payloads], NOW)
    return Counter(ingest.counters.invalid) - before


def assert_all_refused(ingest: Ingest, payloads: list[bytes]) -> Counter[str]:
    stored = stored_count(ingest)
    reasons = refused(ingest, payloads)
    assert reasons.total() == len(payloads) and set(reasons) <= REASONS, reasons
    assert stored_count(ingest) == stored
    return reasons


_FUZZ = settings(suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None,
                 max_examples=60)


@_FUZZ
@given(st.lists(st.binary(max_size=2000), max_size=10))
def test_random_bytes_are_refused_with_a_counted_reason(ingest: Ingest, raw: list[bytes]) -> None:
    assert_all_refused(ingest, raw)


@_FUZZ
@given(st.data())
def test_truncated_json_is_refused(ingest: Ingest, data: st.DataObject) -> None:
    whole = payload()
    cut = data.draw(st.integers(min_value=0, max_value=len(whole) - 1))
    assert_all_refused(ingest, [whole[:cut]])


@_FUZZ
@given(st.sampled_from(FIELDS), JSON)
def test_a_field_of_any_json_value_is_stored_or_refused_never_raised(ingest: Ingest, key: str,
                                                                     value: object) -> None:
    # Given a valid alert with one field replaced by any JSON value
    def books() -> tuple[int, int, int]:
        c = ingest.counters
        return c.stored, c.invalid.total() + c.refused.total(), stored_count(ingest)
    before = books()
    ingest.batch([(TOPIC, payload(**{key: value}))], NOW)
    # Then it was either a valid alert after all (stored once) or refused with a known reason
    # (invalid, or a security event when it names another device than its topic)
    after = books()
    assert (after[0] - before[0]) + (after[1] - before[1]) == 1
    assert after[2] - before[2] == after[0] - before[0]
    assert set(ingest.counters.invalid) <= REASONS


@pytest.mark.parametrize(("bad", "reason"), [
    # huge payloads: over the 64 KiB bound, and nesting deep enough to exhaust the decoder
    (payload(message="x" * 70_000), "too_large"),
    (b" " * 70_000 + payload(), "too_large"),
    (b"[" * 50_000, "not_json"),
    (b'{"a":' * 12_000, "not_json"),
    (payload(message="x" * (wire.MAX_TEXT + 1)), "too_large"),
    (payload(context=[1.0] * 65), "too_large"),
    # NaN and infinities, as JSON's non-standard literals and as an overflowing number
    (payload(value=float("nan")), "bad_value"),
    (payload(value=float("inf")), "bad_value"),
    (payload(context=[1.0, float("-inf")]), "bad_value"),
    (payload(score=float("nan")), "bad_value"),
    (payload(value=1.0).replace(b'"value": 1.0', b'"value": 1e400'), "bad_value"),
    (payload(value=10**400), "bad_value"),
    # timestamps that are not ISO 8601 UTC at all (implausible times: see the clock tests)
    (payload(ts=1_790_000_000), "bad_type"),
    (payload(ts="1790000000"), "bad_timestamp"),
    # wrong types
    (payload(seq="7"), "bad_type"),
    (payload(seq=1.5), "bad_type"),
    (payload(cleared="yes"), "bad_type"),
    (payload(context="1,2"), "bad_type"),
    (payload(context=[True]), "bad_type"),
    (payload(device=7), "bad_type"),
    (payload(id=...), "missing_field"),
])
def test_each_bad_message_is_refused_with_its_reason(ingest: Ingest, bad: bytes,
                                                     reason: str) -> None:
    assert assert_all_refused(ingest, [bad]) == Counter({reason: 1})


def test_an_alert_naming_another_device_than_its_topic_is_a_security_event(
        ingest: Ingest) -> None:
    before, stored = Counter(ingest.counters.refused), stored_count(ingest)
    ingest.batch([(TOPIC, payload(device="edge-south-9"))], NOW)
    assert Counter(ingest.counters.refused) - before == Counter({"device_mismatch": 1})
    assert stored_count(ingest) == stored


def test_a_bad_message_does_not_hold_back_the_good_ones_in_its_batch(ingest: Ingest) -> None:
    good = [alert(seq=n) for n in range(3)]
    before = stored_count(ingest)
    result = ingest.batch([(TOPIC, wire.encode(good[0])), (TOPIC, b"{"),
                           (TOPIC, payload(value=float("nan"))), (TOPIC, wire.encode(good[1])),
                           (TOPIC, b"\xff" * 10), (TOPIC, wire.encode(good[2]))], NOW)
    assert stored_count(ingest) == before + 3
    assert result.acks == {DEVICE: [a.id for a in good]}  # refused ones are never acked


def test_a_duplicate_id_with_a_different_body_never_replaces_the_stored_alert(
        ingest: Ingest) -> None:
    # Given an alert stored and fused
    first = alert(value=180.0, grade=Grade.RED, message="first body")
    ingest.batch([(TOPIC, wire.encode(first))], NOW)
    members = ingest.store.db.execute("SELECT count(*) FROM incident_alerts").fetchone()[0]
    duplicates = ingest.counters.duplicates
    # When the same id arrives again with another body (a replay, or a forgery)
    second = alert(id=first.id, value=999.0, grade=Grade.YELLOW, message="second body", seq=99)
    result = ingest.batch([(TOPIC, wire.encode(second))], NOW)
    # Then the first body stays, nothing is fused again, and it is counted as a duplicate
    row = ingest.store.db.execute("SELECT value, grade, message, seq, body FROM alerts WHERE id=?",
                                  (first.id,)).fetchone()
    assert row == (180.0, int(Grade.RED), "first body", 7, wire.encode(first).decode())
    assert ingest.store.db.execute("SELECT count(*) FROM incident_alerts").fetchone()[0] == members
    assert ingest.counters.duplicates == duplicates + 1
    assert result.acks == {DEVICE: [first.id]} and result.changes == []


def test_counters_and_warnings_stay_bounded_under_a_flood(ingest: Ingest,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    # Given the log budget of a fresh stats period
    ingest.reset_log_budget()
    # When 3000 distinct bad messages arrive
    flood = ([payload(value=f"v{n}") for n in range(1000)]
             + [payload(ts=f"not a time {n}") for n in range(1000)]
             + [b"\x00" + n.to_bytes(2, "big") for n in range(1000)])
    with caplog.at_level(logging.WARNING, logger="hub.service.ingest"):
        reasons = assert_all_refused(ingest, flood)
    # Then they are counted under three reasons, and at most LOG_PER_REASON + 1 lines each
    assert reasons == Counter({"bad_type": 1000, "bad_timestamp": 1000, "not_json": 1000})
    assert len(caplog.records) <= 3 * (LOG_PER_REASON + 1)
    assert set(ingest.counters.invalid) <= REASONS


def test_a_seq_beyond_64_bits_is_refused_not_fatal(ingest: Ingest) -> None:
    assert_all_refused(ingest, [payload(seq=2**63)])


def test_a_lone_surrogate_in_a_string_is_refused_not_fatal(ingest: Ingest) -> None:
    assert_all_refused(ingest, [payload(message="\ud800")])


@pytest.mark.parametrize("device_time", ["9999-12-31T23:59:59Z", wire.format_ts(NOW + 2 * 3600),
                                         "0001-01-01T00:00:00Z", wire.format_ts(NOW - 31 * 86400)])
def test_an_alert_from_a_device_with_a_wrong_clock_is_kept_at_the_hubs_time(
        ingest: Ingest, device_time: str) -> None:
    # Given an alert valid but for its time, far from the hub's clock (a board without RTC)
    bad = payload(ts=device_time)
    alert_id = json.loads(bad)["id"]
    skewed, stored = ingest.counters.clock_skew, stored_count(ingest)
    # When it arrives
    result = ingest.batch([(TOPIC, bad)], NOW)
    # Then it is stored once, at the hub's time, with the device's time in its message,
    # and acknowledged so the edge stops resending it; counted, never 'invalid'
    assert stored_count(ingest) == stored + 1 and ingest.counters.clock_skew == skewed + 1
    assert result.acks == {DEVICE: [alert_id]}
    row = ingest.store.db.execute("SELECT body FROM alerts WHERE id = ?", (alert_id,)).fetchone()
    body = json.loads(row[0])
    assert body["ts"] == wire.format_ts(NOW)
    assert body["message"].startswith(f"[device clock: {device_time[:19]}")
    # And a resend of the same alert is a duplicate, acknowledged again
    again = ingest.batch([(TOPIC, bad)], NOW + 30)
    assert again.acks == {DEVICE: [alert_id]} and stored_count(ingest) == stored + 1
