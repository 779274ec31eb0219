"""The lines protocol parser: numbers in, LineError with a stable reason otherwise."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.lines import MAX_LINE_BYTES, LineError, parse_line


@pytest.mark.parametrize(
    ("raw", "columns", "expected"),
    [
        (b"301.2\n", 1, (301.2,)),
        (b"301.2,12.4\r\n", 2, (301.2, 12.4)),
        (b" -3e2 , 0 \n", 2, (-300.0, 0.0)),
        (b"\n", 1, None),
        (b"   \r\n", 3, None),
    ],
)
def test_valid_lines(raw: bytes, columns: int, expected: tuple[float, ...] | None) -> None:
    assert parse_line(raw, columns) == expected


@pytest.mark.parametrize(
    ("raw", "columns", "reason"),
    [
        (b"301.2,12.4\n", 1, "field_count"),
        (b"301.2\n", 2, "field_count"),
        (b"30x1.2\n", 1, "not_number"),
        (b"nan\n", 1, "not_finite"),
        (b"inf,1\n", 2, "not_finite"),
        (b"\xff\xfe12\n", 1, "not_ascii"),
        (b"1" * (MAX_LINE_BYTES + 1), 1, "too_long"),
        (b",\n", 1, "field_count"),
    ],
)
def test_garbled_lines_are_rejected_with_a_reason(raw: bytes, columns: int, reason: str) -> None:
    with pytest.raises(LineError) as caught:
        parse_line(raw, columns)
    assert caught.value.reason == reason


@given(st.binary(max_size=2000), st.integers(min_value=1, max_value=8))
def test_any_bytes_give_numbers_none_or_line_error(raw: bytes, columns: int) -> None:
    try:
        result = parse_line(raw, columns)
    except LineError as exc:
        assert exc.reason in {"too_long", "not_ascii", "field_count", "not_number", "not_finite"}
        return
    assert result is None or len(result) == columns


@given(st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=1, max_size=6))
def test_round_trip_of_formatted_numbers(values: list[float]) -> None:
    raw = (",".join(repr(v) for v in values) + "\n").encode()
    assert parse_line(raw, len(values)) == tuple(values)
