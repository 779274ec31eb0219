"""Modbus register decoding: every type in every word and byte order, and the read plan."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.drivers.base import DecodeError
from edge.drivers.registers import Block, RegisterSpec, decode, decode_blocks, encode, plan_reads

# value, type, word order, byte order, registers as the device holds them (address order)
TABLE = [
    (-2.0, "int16", "big", "big", [0xFFFE]),
    (-2.0, "int16", "big", "little", [0xFEFF]),
    (65534.0, "uint16", "big", "big", [0xFFFE]),
    (258.0, "uint16", "big", "little", [0x0201]),
    (-100000.0, "int32", "big", "big", [0xFFFE, 0x7960]),      # ABCD
    (-100000.0, "int32", "little", "big", [0x7960, 0xFFFE]),   # CDAB
    (-100000.0, "int32", "big", "little", [0xFEFF, 0x6079]),   # BADC
    (-100000.0, "int32", "little", "little", [0x6079, 0xFEFF]),  # DCBA
    (305419896.0, "uint32", "big", "big", [0x1234, 0x5678]),
    (305419896.0, "uint32", "little", "big", [0x5678, 0x1234]),
    (305419896.0, "uint32", "big", "little", [0x3412, 0x7856]),
    (305419896.0, "uint32", "little", "little", [0x7856, 0x3412]),
    (12.5, "float32", "big", "big", [0x4148, 0x0000]),
    (12.5, "float32", "little", "big", [0x0000, 0x4148]),
    (12.5, "float32", "big", "little", [0x4841, 0x0000]),
    (12.5, "float32", "little", "little", [0x0000, 0x4841]),
    (-0.15625, "float32", "big", "big", [0xBE20, 0x0000]),
]


@pytest.mark.parametrize(("value", "type_", "word_order", "byte_order", "words"), TABLE)
def test_decode_table(value: float, type_: str, word_order: str, byte_order: str,
                      words: list[int]) -> None:
    assert decode(words, type_, word_order, byte_order) == value
    assert encode(value, type_, word_order, byte_order) == words


@pytest.mark.parametrize(
    ("words", "type_", "reason", "match"),
    [
        ([1], "float32", "register_count", r"float32 needs 2 register\(s\), got 1"),
        ([1, 2], "int16", "register_count", r"int16 needs 1 register\(s\), got 2"),
        ([0x10000], "uint16", "bad_register", r"not 16-bit words"),
        ([0x7FC0, 0x0000], "float32", "not_finite", r"NaN or infinity"),
        ([0x7F80, 0x0000], "float32", "not_finite", r"NaN or infinity"),
    ],
)
def test_impossible_registers_are_decode_errors(words: list[int], type_: str, reason: str,
                                                match: str) -> None:
    with pytest.raises(DecodeError, match=match) as caught:
        decode(words, type_)
    assert caught.value.reason == reason


@given(st.lists(st.integers(min_value=0, max_value=0xFFFF), min_size=0, max_size=3),
       st.sampled_from(["int16", "uint16", "int32", "uint32", "float32"]),
       st.sampled_from(["big", "little"]), st.sampled_from(["big", "little"]))
def test_any_words_decode_to_a_finite_number_or_a_decode_error(words: list[int], type_: str,
                                                              word_order: str,
                                                              byte_order: str) -> None:
    try:
        value = decode(words, type_, word_order, byte_order)
    except DecodeError:
        return
    assert value == value and abs(value) != float("inf")


def test_plan_groups_contiguous_registers_per_table_and_splits_long_spans() -> None:
    regs = [RegisterSpec("a", 10), RegisterSpec("b", 12, "float32"),
            RegisterSpec("c", 0, table="input"), RegisterSpec("d", 200)]
    blocks = plan_reads(regs)
    assert [(b.table, b.address, b.count) for b in blocks] == [
        ("holding", 10, 4), ("holding", 200, 1), ("input", 0, 1)]
    values = decode_blocks(blocks, [[5, 0, 0x4148, 0], [7], [9]], len(regs))
    assert values == (5.0, 12.5, 9.0, 7.0)


def test_a_short_reply_is_a_decode_error() -> None:
    block = Block("holding", 0, 2, ((0, RegisterSpec("a", 0, "uint32")),))
    with pytest.raises(DecodeError, match=r"asked 2 registers from 0, got 1"):
        decode_blocks([block], [[1]], 1)


def test_register_spec_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match=r"register type 'int8' is not one of"):
        RegisterSpec("a", 0, "int8")
    with pytest.raises(ValueError, match=r"outside 0..65535"):
        RegisterSpec("a", 65535, "float32")
