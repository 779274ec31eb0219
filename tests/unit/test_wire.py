"""The wire contract: alerts round-trip; anything else is a WireError with a counted reason."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lifeline import wire
from lifeline.grades import Grade

NOW = 1_790_000_000.0


def alert(**changes: Any) -> wire.Alert:
    fields: dict[str, Any] = dict(
        id="a1", device="edge-north-1", zone="north", sensor="main-pressure",
        channel="pressure_kpa", kind="water.pressure", ts=NOW, value=201.5, score=0.97,
        grade=Grade.ORANGE, reason=wire.Reason.LIMIT, seq=7, unit="kPa",
        context=(320.0, 201.5), message="201.5 kPa below low limit 250")
    fields.update(changes)
    return wire.Alert(**fields)


def test_alert_round_trip_and_topic() -> None:
    original = alert()
    payload = wire.encode(original)
    assert wire.decode_alert(payload, topic_device="edge-north-1", now=NOW) == original
    assert wire.alert_topic("edge-north-1") == "lifeline/v1/edge-north-1/alert"
    assert wire.parse_topic("lifeline/v1/edge-north-1/alert") == ("edge-north-1", "alert")


def test_required_fields_are_on_the_wire() -> None:
    data = json.loads(wire.encode(alert()))
    for key in ("v", "id", "device", "zone", "sensor", "channel", "kind", "ts", "value", "unit",
                "score", "grade", "reason", "seq", "context"):
        assert key in data
    assert data["ts"] == "2026-09-21T14:13:20.000Z" and data["grade"] == "orange"


def mutate(**changes: Any) -> bytes:
    data = json.loads(wire.encode(alert()))
    for key, value in changes.items():
        if value is ...:
            del data[key]
        else:
            data[key] = value
    return json.dumps(data).encode()


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"not json", "not_json"),
        (b"[1, 2]", "not_object"),
        (b'{"v": 2}', "schema_version"),
        (b'{"a":' * 12_000, "not_json"),
        (mutate(v=2), "schema_version"),
        (mutate(v=True), "schema_version"),
        (mutate(seq=2**63), "bad_value"),
        (mutate(value=1e400), "bad_value"),
        (mutate(message="\ud800"), "bad_value"),
        (mutate(id=...), "missing_field"),
        (mutate(value="high"), "bad_type"),
        (mutate(seq=True), "bad_type"),
        (mutate(score=1.5), "bad_value"),
        (mutate(grade="purple"), "bad_value"),
        (mutate(reason="vibes"), "bad_value"),
        (mutate(ts="yesterday"), "bad_timestamp"),
        (mutate(ts="2126-01-01T00:00:00Z"), "bad_timestamp"),
        (mutate(ts="2026-09-21T14:13:20"), "bad_timestamp"),
        (mutate(device="edge-south-9"), "device_mismatch"),
        (mutate(context=[1.0] * 65), "too_large"),
        (mutate(kind="fire.smoke"), "bad_value"),
        (mutate(value=None), "missing_field"),
        (b'{"v":1,"value":' + b"9" * 70_000 + b"}", "too_large"),
        (mutate(value=float("nan")).replace(b"NaN", b"NaN"), "bad_value"),
    ],
)
def test_invalid_alerts_are_rejected_with_reason(payload: bytes, reason: str) -> None:
    with pytest.raises(wire.WireError) as caught:
        wire.decode_alert(payload, topic_device="edge-north-1", now=NOW)
    assert caught.value.reason == reason


@given(st.binary(max_size=500))
def test_random_bytes_never_escape_as_other_errors(payload: bytes) -> None:
    with pytest.raises(wire.WireError):
        wire.decode_alert(payload, now=NOW)


def test_status_round_trip() -> None:
    status = wire.Status(device="edge-north-1", zone="north", state="offline", ts=NOW,
                         sensors=("a",), counters={"published": 3})
    assert wire.decode_status(wire.encode(status), topic_device="edge-north-1") == status


def test_integer_too_large_for_a_float_is_a_bad_value() -> None:
    payload = mutate(value=10**400)
    with pytest.raises(wire.WireError) as caught:
        wire.decode_alert(payload, now=NOW)
    assert caught.value.reason == "bad_value"


# -- the hub's incident message (issue 15) ---------------------------------------------------
def _change() -> wire.IncidentChange:
    return wire.IncidentChange(event=7, kind="opened", at="2026-12-03T08:40:42Z",
                               incident={"id": "INC-3", "zone": "north", "grade": "red"},
                               why="pressure below critical low", silences=(2,), silenced=True)


def test_an_incident_change_round_trips_with_a_schema_version() -> None:
    payload = wire.encode(_change())
    assert json.loads(payload)["v"] == wire.SCHEMA_VERSION
    assert wire.decode_incident_change(payload) == _change()


@pytest.mark.parametrize(("field", "value", "reason"), [
    ("event", "7", "bad_type"), ("event", True, "bad_type"), ("kind", 3, "bad_type"),
    ("incident", {"id": "three"}, "bad_value"), ("at", "yesterday", "bad_timestamp"),
    ("at", "0001-01-01T00:00:00+01:00", "bad_timestamp"), ("silences", ["2"], "bad_type"),
    ("why", 5, "bad_type"),
])
def test_a_bad_incident_change_is_refused_with_a_reason(field: str, value: object,
                                                       reason: str) -> None:
    data = json.loads(wire.encode(_change()))
    data[field] = value
    with pytest.raises(wire.WireError) as caught:
        wire.decode_incident_change(json.dumps(data).encode())
    assert caught.value.reason == reason


def test_the_incident_id_is_formatted_and_parsed_in_one_place() -> None:
    assert wire.format_incident_id(55) == "INC-55"
    assert [wire.parse_incident_id(t) for t in ("INC-55", "inc-55", "55", "INC-", "x55", "5.5")] \
        == [55, 55, 55, None, None, None]


def _outcome(decode: Any, payload: bytes) -> object:
    """What a decoder makes of a payload: the alert, or the refusal's reason and text."""
    try:
        return decode(payload)
    except wire.WireError as exc:
        return ("refused", exc.reason, str(exc))


_FIELD_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
    st.sampled_from(["red", "RED", "I", " orange ", "limit", "anomaly", "sensor_fault",
                     "2026-09-21T14:13:20.000Z", "2026-09-21T14:13:20+08:00", "edge-south-9",
                     "\ud800", "water.flow"]),
    st.lists(st.one_of(st.floats(allow_nan=False), st.integers(), st.booleans()), max_size=70),
)


@given(st.dictionaries(st.sampled_from(sorted(json.loads(wire.encode(alert())))), _FIELD_VALUES,
                       max_size=4),
       st.sets(st.sampled_from(sorted(json.loads(wire.encode(alert())))), max_size=2))
def test_the_fast_decoder_agrees_with_the_checking_one(changes: dict[str, Any],
                                                      dropped: set[str]) -> None:
    """decode_alert takes msgspec's C path for well-formed alerts: it must accept exactly
    what the field-by-field decoder accepts, decode it identically, and refuse the rest
    with the same reason and text."""
    data = json.loads(wire.encode(alert()))
    data.update(changes)
    for key in dropped:
        data.pop(key, None)
    payload = json.dumps(data).encode()

    def checking(raw: bytes) -> wire.Alert:
        try:
            return wire._decode_alert(raw, "edge-north-1", NOW, 30 * 86400, 3600)
        except (OverflowError, RecursionError) as exc:
            raise wire.WireError("bad_value", f"a number is out of range: {exc}") from exc

    fast = _outcome(lambda raw: wire.decode_alert(raw, topic_device="edge-north-1", now=NOW),
                    payload)
    assert fast == _outcome(checking, payload)
    if not isinstance(fast, tuple):
        taken = wire._decode_alert_fast(payload, "edge-north-1", NOW, 30 * 86400, 3600)
        assert taken is None or taken[0] == fast
        # the text the hub stores is the alert's canonical JSON, however it came
        stored_alert, body = wire.decode_alert_body(payload, now=NOW)
        assert stored_alert == fast
        assert json.loads(body) == json.loads(wire.encode(fast))


def test_a_canonical_payload_is_stored_as_received_and_any_other_encoded_again() -> None:
    """The hub stores what decode_alert_body gives: the payload itself when it is
    exactly encode's text (no second encoding), else encode's text."""
    canonical = wire.encode(alert())
    assert wire.decode_alert_body(canonical, now=NOW)[1] == canonical.decode()
    spaced = json.dumps(json.loads(canonical)).encode()  # ", " and ": " between fields
    assert wire.decode_alert_body(spaced, now=NOW)[1] == canonical.decode()
    data = json.loads(canonical)
    del data["cleared"]  # a default left out: the stored text has it
    assert wire.decode_alert_body(json.dumps(data, separators=(",", ":")).encode(),
                                  now=NOW)[1] == canonical.decode()


@pytest.mark.parametrize("changes", [
    {"grade": "I"}, {"grade": " Red "}, {"ts": "2026-09-21T22:13:20+08:00"}, {"value": 201},
    {"context": [1, 2.5, -3]}, {"unit": None}, {"cleared": True, "reason": "anomaly"},
    {"extra": {"nested": [1, 2]}}, {"score": 1},
])
def test_unusual_but_valid_alerts_decode_as_the_checking_decoder_does(
        changes: dict[str, Any]) -> None:
    payload = mutate(**changes)
    decoded = wire.decode_alert(payload, topic_device="edge-north-1", now=NOW)
    assert decoded == wire._decode_alert(payload, "edge-north-1", NOW, 30 * 86400, 3600)


def test_an_escalated_change_carries_its_escalation_and_others_do_not() -> None:
    escalation = {"what": "acknowledge", "level": 1, "missed_by": "gas-utility",
                  "escalated_to": "duty-officer", "due_at": "2026-12-03T08:45:42.000Z"}
    escalated = wire.IncidentChange(event=8, kind="escalated", at="2026-12-03T08:45:43Z",
                                    incident={"id": "INC-3", "owner": "gas-utility"},
                                    escalation=escalation)
    assert wire.decode_incident_change(wire.encode(escalated)).escalation == escalation
    assert "escalation" not in json.loads(wire.encode(_change()))  # other changes unchanged
    data = json.loads(wire.encode(escalated))
    data["escalation"] = "level 1"
    with pytest.raises(wire.WireError, match="escalation"):
        wire.decode_incident_change(json.dumps(data).encode())
