"""The lines protocol parser: numbers in, LineError with a stable reason otherwise."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.lines import MAX_LINE_BYTES, REASONS, LineError, nmea_checksum, parse_line


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
        assert exc.reason in REASONS
        return
    assert result is None or len(result) == columns


@given(st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=1, max_size=6))
def test_round_trip_of_formatted_numbers(values: list[float]) -> None:
    raw = (",".join(repr(v) for v in values) + "\n").encode()
    assert parse_line(raw, len(values)) == tuple(values)


def wrap(payload: str) -> bytes:
    return f"${payload}*{nmea_checksum(payload.encode())}\r\n".encode()


@pytest.mark.parametrize(
    ("raw", "keys", "checksum", "expected"),
    [
        (b"p=301.2 q=12.4\n", ("p", "q"), False, (301.2, 12.4)),
        (b"q=12.4,p=301.2\n", ("p", "q"), False, (301.2, 12.4)),
        (b"  q=12.4   p=-3e2 \r\n", ("p", "q"), False, (-300.0, 12.4)),
        (wrap("301.2,12.4"), None, True, (301.2, 12.4)),
        (wrap("p=301.2 q=12.4"), ("p", "q"), True, (301.2, 12.4)),
        (wrap("301.2,12.4"), None, False, (301.2, 12.4)),  # a wrapped line is always checked
        (b"$301.2*2e\n", None, False, (301.2,)),  # hex digits in either case
    ],
)
def test_key_value_and_checksummed_lines(raw: bytes, keys: tuple[str, ...] | None,
                                         checksum: bool, expected: tuple[float, ...]) -> None:
    assert parse_line(raw, len(expected), keys=keys, checksum=checksum) == expected


@pytest.mark.parametrize(
    ("raw", "keys", "checksum", "reason", "match"),
    [
        (b"301.2\n", None, True, "no_checksum", r"no \$\.\.\.\*HH checksum"),
        (b"$301.2*2F\n", None, False, "checksum", r"checksum 2F does not match 2E"),
        (b"$301.2\n", None, False, "checksum", r"does not end in \*HH"),
        (b"$301.2*2\n", None, False, "checksum", r"does not end in \*HH"),
        (b"p=1 q\n", ("p", "q"), False, "not_key_value", r"field 2 'q' is not key=value"),
        (b"p=1 r=2\n", ("p", "q"), False, "unknown_key", r"key 'r' is not one of p, q"),
        (b"p=1\n", ("p", "q"), False, "missing_key", r"line lacks q"),
        (b"p=1 q=x\n", ("p", "q"), False, "not_number", r"field 2 'x' is not a number"),
    ],
)
def test_bad_key_value_and_checksum_lines(raw: bytes, keys: tuple[str, ...] | None,
                                          checksum: bool, reason: str, match: str) -> None:
    with pytest.raises(LineError, match=match) as caught:
        parse_line(raw, 1 if keys is None else len(keys), keys=keys, checksum=checksum)
    assert caught.value.reason == reason


@given(st.lists(st.floats(allow_nan=False, allow_infinity=False, width=32), min_size=1,
                max_size=4),
       st.data())
def test_checksum_rejects_any_single_corrupted_byte(values: list[float], data: st.DataObject) -> None:
    raw = wrap(",".join(repr(v) for v in values))
    assert parse_line(raw, len(values), checksum=True) == tuple(values)
    # When one byte between '$' and the end of the checksum is changed to another printable byte
    index = data.draw(st.integers(min_value=1, max_value=len(raw) - 3), label="index")
    # (hex digits are read either case: 'C' -> 'c' in the checksum is no corruption)
    new = data.draw(st.integers(min_value=0x21, max_value=0x7E).filter(
        lambda b: chr(b).upper() != chr(raw[index]).upper()), label="byte")
    corrupted = raw[:index] + bytes([new]) + raw[index + 1:]
    # Then the line is refused, never read as other numbers
    with pytest.raises(LineError) as caught:
        parse_line(corrupted, len(values), checksum=True)
    assert caught.value.reason in REASONS


@given(st.binary(max_size=300), st.booleans())
def test_any_bytes_in_key_value_form_give_values_none_or_line_error(raw: bytes,
                                                                   checksum: bool) -> None:
    try:
        result = parse_line(raw, 2, keys=("p", "q"), checksum=checksum)
    except LineError as exc:
        assert exc.reason in REASONS
        return
    assert result is None or len(result) == 2
