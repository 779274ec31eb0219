"""Parse the ``lines`` serial protocol: one reading per line, comma-separated numbers.

``"301.2"`` is one reading of one column; ``"301.2,12.4"`` one reading of two.
Pure: bytes in, numbers or a LineError with a stable reason out.
"""

from __future__ import annotations

import math

MAX_LINE_BYTES = 1024


class LineError(ValueError):
    """A line that is not a reading; ``reason`` is a short token for counters."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


def parse_line(raw: bytes, columns: int) -> tuple[float, ...] | None:
    """Return the ``columns`` numbers on the line, None for a blank line, LineError otherwise."""
    if len(raw) > MAX_LINE_BYTES:
        raise LineError("too_long", f"line of {len(raw)} bytes exceeds {MAX_LINE_BYTES}")
    try:
        text = raw.decode("ascii").strip()
    except UnicodeDecodeError as exc:
        raise LineError("not_ascii", f"line holds non-ASCII bytes: {raw[:40]!r}") from exc
    if not text:
        return None
    fields = text.split(",")
    if len(fields) != columns:
        raise LineError("field_count", f"expected {columns} field(s), found {len(fields)}: "
                        f"{text[:60]!r}")
    values: list[float] = []
    for index, field in enumerate(fields):
        try:
            value = float(field)
        except ValueError:
            raise LineError("not_number", f"field {index + 1} {field.strip()[:20]!r} "
                            "is not a number") from None
        if not math.isfinite(value):
            raise LineError("not_finite", f"field {index + 1} is {field.strip()!r}")
        values.append(value)
    return tuple(values)
