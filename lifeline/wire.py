"""The wire contract: MQTT topics and the JSON messages that cross them.

This is the only module that builds topic strings or encodes/decodes messages;
the edge and the hub both import it. ``docs/protocol.md`` documents it for
people. Any change to a field is a change of ``SCHEMA_VERSION``.

Topics (``{device}`` is a device id)::

    lifeline/v1/{device}/alert    edge -> hub   Alert, QoS 1
    lifeline/v1/{device}/status   edge -> hub   Status, QoS 1, retained; also the last will
    lifeline/v1/{device}/ack      hub -> edge   Ack: alert ids the hub has committed
    lifeline/v1/hub/incident      hub -> others IncidentChange (republish)
"""

from __future__ import annotations

import enum
import functools
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from lifeline.errors import LifelineError
from lifeline.grades import Grade

SCHEMA_VERSION = 1
TOPIC_ROOT = f"lifeline/v{SCHEMA_VERSION}"
ALERT_SUBSCRIPTION = f"{TOPIC_ROOT}/+/alert"
STATUS_SUBSCRIPTION = f"{TOPIC_ROOT}/+/status"
INCIDENT_TOPIC = f"{TOPIC_ROOT}/hub/incident"

MAX_PAYLOAD_BYTES = 65_536
MAX_CONTEXT_VALUES = 64
MAX_TEXT = 256
MAX_SEQ = 2**63 - 1  # SQLite's INTEGER: a larger seq could never be stored
# Every time on the wire lies in what ``format_ts`` can print: 0001-01-01T00:00:00Z ..
# 9999-12-31T23:59:59Z. A time outside it (a year 0 or 10000 after its UTC offset) could be
# decoded but never encoded again, stored, or shown: it is refused as ``bad_timestamp``.
TS_MIN = -62_135_596_800.0
TS_MAX = 253_402_300_799.0
FAMILIES = ("water", "gas", "structure")
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class Reason(enum.StrEnum):
    """Why an alert was raised. Only ``limit`` and ``anomaly`` are hazards."""

    LIMIT = "limit"
    ANOMALY = "anomaly"
    SENSOR_FAULT = "sensor_fault"


class WireError(LifelineError, ValueError):
    """A message that does not follow the contract.

    ``reason`` is a short stable token for counters (``not_json``, ``missing_field`` ...);
    the message says what and where for people.
    """

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


def shared_subscription(group: str, topic_filter: str) -> str:
    """``topic_filter`` taken as a member of the MQTT 5 shared-subscription ``group``: the
    broker hands each message to one member of the group (``$share/<group>/<filter>``).

    >>> shared_subscription("lifeline-hubs", ALERT_SUBSCRIPTION)
    '$share/lifeline-hubs/lifeline/v1/+/alert'
    """
    if share_group_problem(group) is not None:
        raise ValueError(share_group_problem(group))
    return f"$share/{group}/{topic_filter}"


def share_group_problem(group: str) -> str | None:
    """Why ``group`` cannot name a shared-subscription group, or None (MQTT 5, 4.8.2: not
    empty, no '/', '+' or '#')."""
    if group and len(group) <= 64 and not any(c in group for c in "/+# ") and group.isprintable():
        return None
    return (f"{group!r} is not a usable share group name (1-64 characters, no '/', '+', '#' "
            "or spaces)")


def alert_topic(device: str) -> str:
    return f"{TOPIC_ROOT}/{_checked_name(device)}/alert"


def status_topic(device: str) -> str:
    return f"{TOPIC_ROOT}/{_checked_name(device)}/status"


def ack_topic(device: str) -> str:
    return f"{TOPIC_ROOT}/{_checked_name(device)}/ack"


def parse_topic(topic: str) -> tuple[str, str]:
    """Split ``lifeline/v1/{device}/{kind}`` into ``(device, kind)``; WireError if it is not ours."""
    parts = topic.split("/")
    if len(parts) != 4 or f"{parts[0]}/{parts[1]}" != TOPIC_ROOT:
        raise WireError("bad_topic", f"topic {topic!r} is not under {TOPIC_ROOT}/<device>/<kind>")
    if not _NAME_PATTERN.match(parts[2]):
        raise WireError("bad_topic", f"topic {topic!r} has an invalid device id")
    return parts[2], parts[3]


def check_ts(ts: float, name: str = "ts") -> float:
    """``ts`` if it is a time every part of Lifeline can handle; WireError ``bad_timestamp``
    otherwise (NaN, infinite, or outside ``TS_MIN`` .. ``TS_MAX``). The one check of a time
    field, used by every message kind and every decoder.

    >>> check_ts(0.0)
    0.0
    >>> check_ts(float("nan"))
    Traceback (most recent call last):
    ...
    lifeline.wire.WireError: ts is not a finite time
    """
    if isinstance(ts, bool) or not isinstance(ts, int | float):
        raise WireError("bad_timestamp", f"{name} is not a number of seconds")
    if not math.isfinite(ts):
        raise WireError("bad_timestamp", f"{name} is not a finite time")
    if not TS_MIN <= ts <= TS_MAX:
        raise WireError("bad_timestamp", f"{name} {ts!r} is outside the years 1 to 9999 (UTC)")
    return ts


def format_ts(ts: float) -> str:
    """Epoch seconds -> ISO 8601 UTC with milliseconds, e.g. ``2026-11-21T19:13:37.123Z``."""
    # isoformat pads the year to four digits (strftime's %Y does not below 1000)
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def parse_ts(text: str) -> float:
    """ISO 8601 with an explicit UTC offset -> epoch seconds; ValueError otherwise."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"timestamp {text!r} has no UTC offset")
    return moment.timestamp()


INCIDENT_PREFIX = "INC-"


def format_incident_id(number: int) -> str:
    """An incident's public id, as operators, the desk and every message show it.

    >>> format_incident_id(12)
    'INC-12'
    """
    return f"{INCIDENT_PREFIX}{number}"


def parse_incident_id(text: str) -> int | None:
    """The incident number in ``INC-12`` (any case) or ``12``; None if ``text`` is neither.

    >>> parse_incident_id("inc-12"), parse_incident_id("12"), parse_incident_id("INC-x")
    (12, 12, None)
    """
    digits = text.strip()
    if digits.upper().startswith(INCIDENT_PREFIX):
        digits = digits[len(INCIDENT_PREFIX):]
    return int(digits) if digits.isascii() and digits.isdigit() else None


def family_of(kind: str) -> str:
    """``"water.pressure"`` -> ``"water"``."""
    return kind.split(".", 1)[0]


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert raised by an edge agent about one channel of one sensor."""

    id: str
    device: str
    zone: str
    sensor: str
    channel: str
    kind: str
    ts: float
    value: float | None
    score: float
    grade: Grade
    reason: Reason
    seq: int
    unit: str | None = None
    context: tuple[float, ...] = ()
    message: str = ""
    cleared: bool = False
    v: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        if not _ID_PATTERN.match(self.id):
            raise WireError("bad_value", f"id {self.id!r} is not a valid alert id")
        for name in ("device", "zone", "sensor", "channel"):
            if not _NAME_PATTERN.match(getattr(self, name)):
                raise WireError("bad_value", f"{name} {getattr(self, name)!r} is not a valid name")
        if family_of(self.kind) not in FAMILIES or len(self.kind) > 64:
            raise WireError("bad_value", f"kind {self.kind!r} is not family.quantity "
                            f"with family one of {', '.join(FAMILIES)}")
        check_ts(self.ts)
        if self.value is not None and not math.isfinite(self.value):
            raise WireError("bad_value", "value is NaN or infinite")
        if self.value is None and self.reason is not Reason.SENSOR_FAULT:
            raise WireError("missing_field", "value may be null only for sensor_fault alerts")
        if not 0.0 <= self.score <= 1.0:
            raise WireError("bad_value", f"score {self.score!r} is outside [0, 1]")
        if not 0 <= self.seq <= MAX_SEQ:
            raise WireError("bad_value", f"seq {self.seq} is outside 0..2^63-1")
        if len(self.context) > MAX_CONTEXT_VALUES:
            raise WireError("too_large", f"context has {len(self.context)} values, "
                            f"at most {MAX_CONTEXT_VALUES} allowed")
        if not all(map(math.isfinite, self.context)):
            raise WireError("bad_value", "context holds NaN or infinite values")
        if len(self.message) > MAX_TEXT or (self.unit is not None and len(self.unit) > 32):
            raise WireError("too_large", "message or unit is too long")

    @property
    def family(self) -> str:
        return family_of(self.kind)

    @property
    def is_hazard(self) -> bool:
        return self.reason is not Reason.SENSOR_FAULT

    def to_dict(self) -> dict[str, Any]:
        return {
            "v": self.v,
            "id": self.id,
            "device": self.device,
            "zone": self.zone,
            "sensor": self.sensor,
            "channel": self.channel,
            "kind": self.kind,
            "ts": format_ts(self.ts),
            "value": self.value,
            "unit": self.unit,
            "score": round(self.score, 4),
            "grade": self.grade.label,
            "reason": self.reason.value,
            "seq": self.seq,
            "context": list(self.context),
            "message": self.message,
            "cleared": self.cleared,
        }


@dataclass(frozen=True, slots=True)
class Status:
    """A device's birth/liveness message (retained). The last will is a Status with state offline."""

    device: str
    zone: str
    state: str  # "online" | "offline"
    ts: float
    sensors: tuple[str, ...] = ()
    counters: Mapping[str, int] = field(default_factory=dict)
    outbox_depth: int = 0
    version: str = ""
    # the device is in maintenance until then (a technician's `lifeline-edge probe`): its
    # outage and sensor faults are maintenance work, not a device incident (docs/edge.md).
    # Optional: absent from the JSON when None, so older hubs and edges are unaffected.
    maintenance_until: float | None = None
    maintenance_comment: str = ""
    v: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        if self.state not in ("online", "offline"):
            raise WireError("bad_value", f"state {self.state!r} is not online or offline")
        for name in ("device", "zone"):
            if not _NAME_PATTERN.match(getattr(self, name)):
                raise WireError("bad_value", f"{name} {getattr(self, name)!r} is not a valid name")
        check_ts(self.ts)
        if self.maintenance_until is not None:
            check_ts(self.maintenance_until, "maintenance_until")
        if len(self.maintenance_comment) > MAX_TEXT:
            raise WireError("bad_value", f"maintenance_comment is longer than {MAX_TEXT}")

    def to_dict(self) -> dict[str, Any]:
        out = {
            "v": self.v,
            "device": self.device,
            "zone": self.zone,
            "state": self.state,
            "ts": format_ts(self.ts),
            "sensors": list(self.sensors),
            "counters": dict(self.counters),
            "outbox_depth": self.outbox_depth,
            "version": self.version,
        }
        if self.maintenance_until is not None:
            out["maintenance_until"] = format_ts(self.maintenance_until)
            out["maintenance_comment"] = self.maintenance_comment
        return out


@dataclass(frozen=True, slots=True)
class Ack:
    """The hub's word that it has committed these alert ids; the edge may forget them."""

    ids: tuple[str, ...]
    v: int = SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        return {"v": self.v, "ids": list(self.ids)}


@dataclass(frozen=True, slots=True)
class IncidentChange:
    """What the hub republishes on ``INCIDENT_TOPIC`` (and posts to webhooks) for each
    routed change of an incident: the change, and the incident as it is after it.

    ``incident`` is the incident's JSON exactly as ``lifeline-hub incidents --json`` prints
    it (docs/operators.md); ``event`` is the hub's events-feed id, so a consumer can tell a
    redelivery from a new change.
    """

    event: int
    kind: str
    at: str  # ISO 8601 UTC, as format_ts writes it
    incident: Mapping[str, Any]
    why: str | None = None
    by: str | None = None
    previous_grade: str | None = None
    silenced: bool = False
    silences: tuple[int, ...] = ()
    # an ``escalated`` change: what was missed (``acknowledge``, ``resolve``), the step
    # ``level``, who missed it (``missed_by``), whom it goes to (``escalated_to``, None:
    # nobody further) and the deadline (``due_at``); absent from other changes
    escalation: Mapping[str, Any] | None = None
    v: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        if not self.kind or not isinstance(self.kind, str):
            raise WireError("bad_value", f"kind {self.kind!r} is not an incident change")
        label = self.incident.get("id") if isinstance(self.incident, Mapping) else None
        if not isinstance(label, str) or parse_incident_id(label) is None:
            raise WireError("bad_value", f"incident id {label!r} is not like INC-12")
        check_ts(parse_ts(self.at), "at")

    def to_dict(self) -> dict[str, Any]:
        return {
            "v": self.v, "event": self.event, "kind": self.kind, "at": self.at,
            "incident": dict(self.incident), "why": self.why, "by": self.by,
            "previous_grade": self.previous_grade, "silenced": self.silenced,
            "silences": list(self.silences),
            **({} if self.escalation is None else {"escalation": dict(self.escalation)}),
        }


def decode_incident_change(payload: bytes) -> IncidentChange:
    """A hub's incident message, validated; WireError with a ``reason`` if it is not one."""
    data = _load_object(payload)
    silences = _get(data, "silences", list)
    if any(isinstance(i, bool) or not isinstance(i, int) for i in silences):
        raise WireError("bad_type", "silences must be an array of integers")
    why, by, previous = (_get(data, key, str, None, nullable=True)
                         for key in ("why", "by", "previous_grade"))
    event = _get(data, "event", int)
    try:
        return IncidentChange(event=event, kind=_get(data, "kind", str), at=_get(data, "at", str),
                              incident=_get(data, "incident", dict), why=why, by=by,
                              previous_grade=previous, silenced=_get(data, "silenced", bool),
                              silences=tuple(silences),
                              escalation=_get(data, "escalation", dict, None, nullable=True))
    except ValueError as exc:  # a time parse_ts cannot read
        if isinstance(exc, WireError):
            raise
        raise WireError("bad_timestamp", f"at: {exc}") from exc


def encode(message: Alert | Status | Ack | IncidentChange) -> bytes:
    return json.dumps(message.to_dict(), separators=(",", ":"), allow_nan=False).encode()


def _load_object(payload: bytes) -> dict[str, Any]:
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise WireError("too_large", f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD_BYTES}")
    try:
        data = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise WireError("not_json", f"payload is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise WireError("not_object", f"payload is a JSON {type(data).__name__}, not an object")
    if _SURROGATE_ESCAPE.search(payload):  # rare: only then pay for the full check
        try:
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError as exc:
            raise WireError("bad_value", "a string holds a lone UTF-16 surrogate "
                            "(not text; it could never be stored or forwarded)") from exc
    version = data.get("v")
    if version != SCHEMA_VERSION or isinstance(version, bool):
        raise WireError("schema_version", f"schema version {version!r} is not {SCHEMA_VERSION}")
    return data


def _get(data: Mapping[str, Any], key: str, kind: type | tuple[type, ...],
         default: Any = ..., nullable: bool = False) -> Any:
    if key not in data:
        if default is ...:
            raise WireError("missing_field", f"field {key!r} is missing")
        return default
    value = data[key]
    if value is None and nullable:
        return None
    # bool is an int in Python; on the wire it is not a number.
    if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
        raise WireError("bad_type", f"field {key!r} is a boolean, expected {_type_name(kind)}")
    if not isinstance(value, kind):
        raise WireError("bad_type", f"field {key!r} is {type(value).__name__}, "
                        f"expected {_type_name(kind)}")
    return value


def _type_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join({"str": "string", "int": "integer", "float": "number",
                        "list": "array", "dict": "object", "bool": "boolean"}.get(k.__name__,
                                                                                  k.__name__)
                       for k in kinds)


def _timestamp(data: Mapping[str, Any], now: float | None, max_age_s: float,
               max_ahead_s: float) -> float:
    text = _get(data, "ts", str)
    try:
        ts = parse_ts(text)
    except (ValueError, OverflowError) as exc:
        raise WireError("bad_timestamp", f"ts {text[:40]!r} is not ISO 8601 UTC: {exc}") from exc
    check_ts(ts, f"ts {text[:40]!r}")
    if now is not None and not now - max_age_s <= ts <= now + max_ahead_s:
        raise WireError("bad_timestamp", f"ts {text!r} is more than {max_age_s:.0f} s in the past "
                        f"or {max_ahead_s:.0f} s in the future")
    return ts


def decode_alert(payload: bytes, *, topic_device: str | None = None, now: float | None = None,
                 max_age_s: float = 30 * 86400, max_ahead_s: float = 3600) -> Alert:
    """Parse and validate an alert; raise WireError with a counted reason if it is not one.

    ``topic_device`` is the device the topic names; the payload must agree with it.
    ``now`` (epoch seconds) enables the plausibility window for ``ts``.
    """
    fast = _decode_alert_fast(payload, topic_device, now, max_age_s, max_ahead_s)
    if fast is not None:
        return fast[0]
    try:
        return _decode_alert(payload, topic_device, now, max_age_s, max_ahead_s)
    except (OverflowError, RecursionError) as exc:  # e.g. an integer too large for a float
        raise WireError("bad_value", f"a number is out of range: {exc}") from exc


def decode_alert_body(payload: bytes, *, now: float | None = None,
                      max_age_s: float = 30 * 86400, max_ahead_s: float = 3600
                      ) -> tuple[Alert, str]:
    """``decode_alert``, and the alert's canonical JSON text (what ``encode`` gives): the
    received payload itself when it already is that text (as every edge sends it: then
    nothing is encoded again, a sixth of the hub's time per alert), else ``encode``'s."""
    fast = _decode_alert_fast(payload, None, now, max_age_s, max_ahead_s)
    if fast is not None and fast[1]:
        return fast[0], payload.decode()
    alert = fast[0] if fast is not None else decode_alert(payload, now=now, max_age_s=max_age_s,
                                                           max_ahead_s=max_ahead_s)
    return alert, encode(alert).decode()


@functools.cache
def _alert_json_decoder() -> Callable[[bytes], Any]:
    """msgspec's C decoder for an alert's JSON form, built on first use.

    Imported lazily: msgspec and what it imports cost ~30 ms of start-up, which an edge
    board (it encodes alerts; it decodes only what it resends) should not pay at boot.
    ``Alert`` stays the one definition of the contract: the struct mirrors its ``to_dict``,
    and whatever it refuses (or would decode differently) falls back to the checking decoder,
    which gives the precise, counted reason.
    """
    import msgspec

    class AlertJson(msgspec.Struct, frozen=True, kw_only=True):  # in ``to_dict``'s order
        v: int
        id: str
        device: str
        zone: str
        sensor: str
        channel: str
        kind: str
        ts: str
        value: float | None
        unit: str | None = None
        score: float
        grade: str
        reason: str
        seq: int
        context: list[float] = []
        message: str = ""
        cleared: bool = False

    decoder = msgspec.json.Decoder(AlertJson)
    encoder = msgspec.json.Encoder()

    def decode(payload: bytes) -> Any:
        try:
            return decoder.decode(payload)
        except (msgspec.DecodeError, RecursionError):  # deep nesting raises the latter
            return None

    def canonical(data: Any, payload: bytes) -> bool:
        """Is ``payload`` already ``encode``'s text of the alert? Its fields all there, in
        ``to_dict``'s order, no spaces, floats as floats, ``ts`` with milliseconds and Z,
        the score rounded (anything else, an escaped character included: encoded again)."""
        ts = data.ts
        return (len(ts) == 24 and ts[-1] == "Z" and ts[19] == "."
                and round(data.score, 4) == data.score and encoder.encode(data) == payload)

    decode.canonical = canonical  # type: ignore[attr-defined]
    return decode


_GRADE_BY_LABEL = {grade.label: grade for grade in Grade}
_REASON_BY_VALUE = {reason.value: reason for reason in Reason}


def _decode_alert_fast(payload: bytes, topic_device: str | None, now: float | None,
                       max_age_s: float, max_ahead_s: float) -> tuple[Alert, bool] | None:
    """A well-formed alert decoded at C speed, or None: then the checking decoder decides.

    Valid alerts are nearly all of the traffic; this path costs a fraction of the checking
    one (benchmarks/bench_wire.py). It never refuses: anything unusual (a grade written as
    a Roman level, an escaped surrogate, a number out of range, a field of the wrong type)
    returns None, so error reasons and messages are exactly those of ``_decode_alert``.
    """
    if len(payload) > MAX_PAYLOAD_BYTES:
        return None
    decode = _alert_json_decoder()
    data = decode(payload)
    if data is None:
        return None
    grade = _GRADE_BY_LABEL.get(data.grade)
    reason = _REASON_BY_VALUE.get(data.reason)
    if (data.v != SCHEMA_VERSION or grade is None or reason is None
            or (topic_device is not None and data.device != topic_device)):
        return None
    try:
        ts = parse_ts(data.ts)
        if now is not None and not now - max_age_s <= ts <= now + max_ahead_s:
            return None
        alert = Alert(id=data.id, device=data.device, zone=data.zone, sensor=data.sensor,
                      channel=data.channel, kind=data.kind, ts=ts, value=data.value,
                      score=data.score, grade=grade, reason=reason, seq=data.seq,
                      unit=data.unit, context=tuple(data.context), message=data.message,
                      cleared=data.cleared)
        return alert, decode.canonical(data, payload)  # type: ignore[attr-defined]
    except (ValueError, OverflowError):  # WireError is a ValueError
        return None


def _decode_alert(payload: bytes, topic_device: str | None, now: float | None, max_age_s: float,
                  max_ahead_s: float) -> Alert:
    data = _load_object(payload)
    number = (int, float)
    try:
        grade = Grade.parse(_get(data, "grade", str))
        reason = Reason(_get(data, "reason", str))
    except ValueError as exc:
        raise WireError("bad_value", str(exc)) from exc
    context = _get(data, "context", list, default=[])
    if len(context) > MAX_CONTEXT_VALUES:
        raise WireError("too_large", f"context has {len(context)} values, "
                        f"at most {MAX_CONTEXT_VALUES} allowed")
    if any(isinstance(x, bool) or not isinstance(x, number) for x in context):
        raise WireError("bad_type", "context must be an array of numbers")
    value = _get(data, "value", number, nullable=True)
    alert = Alert(
        id=_get(data, "id", str),
        device=_get(data, "device", str),
        zone=_get(data, "zone", str),
        sensor=_get(data, "sensor", str),
        channel=_get(data, "channel", str),
        kind=_get(data, "kind", str),
        ts=_timestamp(data, now, max_age_s, max_ahead_s),
        value=None if value is None else float(value),
        score=float(_get(data, "score", number)),
        grade=grade,
        reason=reason,
        seq=_get(data, "seq", int),
        unit=_get(data, "unit", str, default=None, nullable=True),
        context=tuple(float(x) for x in context),
        message=_get(data, "message", str, default=""),
        cleared=_get(data, "cleared", bool, default=False),
    )
    if topic_device is not None and alert.device != topic_device:
        raise WireError("device_mismatch", f"payload names device {alert.device!r} "
                        f"but arrived on the topic of {topic_device!r}")
    return alert


def decode_status(payload: bytes, *, topic_device: str | None = None) -> Status:
    """Parse and validate a status message; WireError otherwise."""
    data = _load_object(payload)
    sensors = _get(data, "sensors", list, default=[])
    if any(not isinstance(s, str) for s in sensors):
        raise WireError("bad_type", "sensors must be an array of strings")
    counters = _get(data, "counters", dict, default={})
    if any(isinstance(v, bool) or not isinstance(v, int) for v in counters.values()):
        raise WireError("bad_type", "counters must map names to integers")
    ts = _timestamp(data, None, 0, 0)
    status = Status(
        device=_get(data, "device", str),
        zone=_get(data, "zone", str),
        state=_get(data, "state", str),
        ts=ts,
        sensors=tuple(sensors),
        counters=dict(counters),
        outbox_depth=_get(data, "outbox_depth", int, default=0),
        version=_get(data, "version", str, default=""),
        maintenance_until=_maintenance_until(data),
        maintenance_comment=_get(data, "maintenance_comment", str, default=""),
    )
    if topic_device is not None and status.device != topic_device:
        raise WireError("device_mismatch", f"payload names device {status.device!r} "
                        f"but arrived on the topic of {topic_device!r}")
    return status


def _maintenance_until(data: Mapping[str, Any]) -> float | None:
    text = _get(data, "maintenance_until", str, default=None, nullable=True)
    if text is None:
        return None
    try:
        until = parse_ts(text)
    except (ValueError, OverflowError) as exc:
        raise WireError("bad_timestamp", f"maintenance_until {text[:40]!r} is not ISO 8601 "
                        f"UTC: {exc}") from exc
    check_ts(until, f"maintenance_until {text[:40]!r}")
    return until


def decode_ack(payload: bytes) -> Ack:
    data = _load_object(payload)
    ids = _get(data, "ids", list)
    if any(not isinstance(i, str) for i in ids):
        raise WireError("bad_type", "ids must be an array of strings")
    return Ack(ids=tuple(ids))


def peek_fusion_fields(payload: bytes) -> tuple[str, str | None, str | None] | None:
    """An alert's or status's ``zone``, ``kind`` and ``reason`` (None where absent), read
    without validating the message; None if it has no zone string. For a hub that must
    know which fusion domains a batch touches before it handles it (hub/core/domains.py);
    the message itself is then validated by its decoder as always."""
    try:
        data = json.loads(payload) if len(payload) <= MAX_PAYLOAD_BYTES else None
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("zone"), str):
        return None
    kind, reason = data.get("kind"), data.get("reason")
    return (data["zone"], kind if isinstance(kind, str) else None,
            reason if isinstance(reason, str) else None)


def _checked_name(name: str) -> str:
    if not _NAME_PATTERN.match(name):
        raise WireError("bad_value", f"{name!r} is not a valid device id "
                        "(letters, digits, '.', '_', '-'; at most 64)")
    return name


__all__ = [
    "INCIDENT_PREFIX", "format_incident_id", "parse_incident_id",
    "ALERT_SUBSCRIPTION", "INCIDENT_TOPIC", "SCHEMA_VERSION", "STATUS_SUBSCRIPTION",
    "Ack", "Alert", "IncidentChange", "Reason", "Status", "decode_incident_change",
    "WireError", "ack_topic", "alert_topic", "check_ts",
    "decode_ack", "decode_alert", "decode_alert_body", "decode_status", "encode", "family_of",
    "format_ts", "parse_topic", "parse_ts", "peek_fusion_fields", "share_group_problem",
    "shared_subscription", "status_topic",
]
