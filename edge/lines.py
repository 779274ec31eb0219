"""Parse the ``lines`` serial protocol: one reading per line.

Two forms, chosen per sensor:

* ``csv`` – comma-separated numbers in column order: ``"301.2,12.4"``;
* ``kv``  – ``key=value`` pairs in any order, separated by spaces or commas:
  ``"p=301.2 q=12.4"``; the keys are the sensor's column names.

Either form may be wrapped NMEA-style as ``$<payload>*HH``, where ``HH`` is the
XOR of every byte between ``$`` and ``*`` in two hex digits. A wrapped line is
always verified; with ``checksum=True`` an unwrapped line is refused too.

Pure: bytes in, numbers or a LineError with a stable reason out.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from functools import reduce

from edge.drivers.base import DecodeError

MAX_LINE_BYTES = 1024
REASONS = frozenset({"too_long", "not_ascii", "field_count", "not_number", "not_finite",
                     "checksum", "no_checksum", "not_key_value", "unknown_key", "missing_key"})
_SEPARATORS = re.compile(r"[\s,]+")


class LineError(DecodeError):
    """A line that is not a reading; ``reason`` is a short token for counters."""


def nmea_checksum(payload: bytes) -> str:
    """The two-hex-digit XOR checksum of ``payload`` (the bytes between ``$`` and ``*``)."""
    return f"{reduce(lambda a, b: a ^ b, payload, 0):02X}"


def _unwrap(text: str, checksum: bool) -> str:
    if not text.startswith("$"):
        if checksum:
            raise LineError("no_checksum", f"line has no $...*HH checksum: {text[:60]!r}")
        return text
    star = text.rfind("*")
    if star < 0 or len(text) - star != 3:
        raise LineError("checksum", f"line starts with '$' but does not end in *HH: {text[:60]!r}")
    body, given = text[1:star], text[star + 1:].upper()
    expected = nmea_checksum(body.encode("ascii"))
    if given != expected:
        raise LineError("checksum", f"checksum {given} does not match {expected}: {text[:60]!r}")
    return body


def _number(index: int, field: str) -> float:
    try:
        value = float(field)
    except ValueError:
        raise LineError("not_number", f"field {index + 1} {field.strip()[:20]!r} "
                        "is not a number") from None
    if not math.isfinite(value):
        raise LineError("not_finite", f"field {index + 1} is {field.strip()!r}")
    return value


def _key_values(text: str, keys: Sequence[str]) -> tuple[float, ...]:
    found: dict[str, float] = {}
    for index, pair in enumerate(p for p in _SEPARATORS.split(text) if p):
        key, sep, value = pair.partition("=")
        if not sep:
            raise LineError("not_key_value", f"field {index + 1} {pair[:20]!r} is not key=value")
        if key not in keys:
            raise LineError("unknown_key", f"key {key[:20]!r} is not one of {', '.join(keys)}")
        found[key] = _number(index, value)
    missing = [k for k in keys if k not in found]
    if missing:
        raise LineError("missing_key", f"line lacks {', '.join(missing)}: {text[:60]!r}")
    return tuple(found[k] for k in keys)


def parse_line(raw: bytes, columns: int, *, keys: Sequence[str] | None = None,
               checksum: bool = False) -> tuple[float, ...] | None:
    """Return the ``columns`` numbers on the line, None for a blank line, LineError otherwise.

    With ``keys`` the line is in the ``kv`` form and values come back in ``keys`` order.

    >>> parse_line(b"301.2,12.4\\r\\n", 2)
    (301.2, 12.4)
    >>> parse_line(b"q=12.4 p=301.2\\n", 2, keys=("p", "q"))
    (301.2, 12.4)
    >>> parse_line(b"$301.2*2F\\n", 1)
    Traceback (most recent call last):
    ...
    edge.lines.LineError: checksum 2F does not match 2E: '$301.2*2F'
    """
    if len(raw) > MAX_LINE_BYTES:
        raise LineError("too_long", f"line of {len(raw)} bytes exceeds {MAX_LINE_BYTES}")
    try:
        text = raw.decode("ascii").strip()
    except UnicodeDecodeError as exc:
        raise LineError("not_ascii", f"line holds non-ASCII bytes: {raw[:40]!r}") from exc
    if not text:
        return None
    text = _unwrap(text, checksum)
    if keys is not None:
        return _key_values(text, keys)
    fields = text.split(",")
    if len(fields) != columns:
        raise LineError("field_count", f"expected {columns} field(s), found {len(fields)}: "
                        f"{text[:60]!r}")
    return tuple(_number(index, field) for index, field in enumerate(fields))
