"""Modbus register maps: which registers to read, and how 16-bit words become numbers.

Pure: no serial port, no pymodbus. ``plan_reads`` groups a sensor's registers
into as few requests as the protocol allows; ``decode`` turns the words of one
register (one or two 16-bit words) into a number.

Word and byte order: Modbus itself only says a register is a big-endian 16-bit
word. Devices disagree on 32-bit values: ``word_order = "big"`` puts the high
word in the lower address (the common "ABCD" layout), ``"little"`` the low word
first ("CDAB"); ``byte_order = "little"`` swaps the two bytes inside each word
("BADC" / "DCBA").
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from edge.drivers.base import DecodeError

# type -> (number of 16-bit registers, struct code)
DATA_TYPES: dict[str, tuple[int, str]] = {
    "int16": (1, "h"), "uint16": (1, "H"), "int32": (2, "i"), "uint32": (2, "I"),
    "float32": (2, "f"),
}
ORDERS = ("big", "little")
TABLES = ("holding", "input")
MAX_REGISTERS_PER_READ = 125  # Modbus application protocol v1.1b3, function codes 03/04


@dataclass(frozen=True, slots=True)
class RegisterSpec:
    """One channel's register: where it is and how to read it."""

    name: str
    address: int
    type: str = "uint16"
    table: str = "holding"
    word_order: str = "big"
    byte_order: str = "big"

    def __post_init__(self) -> None:
        if self.type not in DATA_TYPES:
            raise ValueError(f"register type {self.type!r} is not one of {', '.join(DATA_TYPES)}")
        if self.table not in TABLES:
            raise ValueError(f"register table {self.table!r} is not one of {', '.join(TABLES)}")
        if self.word_order not in ORDERS or self.byte_order not in ORDERS:
            raise ValueError("word_order and byte_order are 'big' or 'little'")
        if not 0 <= self.address <= 65535 - self.width + 1:
            raise ValueError(f"register address {self.address} is outside 0..65535")

    @property
    def width(self) -> int:
        return DATA_TYPES[self.type][0]


@dataclass(frozen=True, slots=True)
class Block:
    """One read request: ``count`` registers of ``table`` from ``address``; ``members`` are
    (channel index, register) pairs that live inside it."""

    table: str
    address: int
    count: int
    members: tuple[tuple[int, RegisterSpec], ...]


def decode(words: Sequence[int], type_: str, word_order: str = "big",
           byte_order: str = "big") -> float:
    """The number held by ``words`` (one or two registers, in address order).

    >>> decode([0x4148, 0x0000], "float32")
    12.5
    >>> decode([0x0000, 0x4148], "float32", word_order="little")
    12.5
    >>> decode([0xFFFE], "int16"), decode([0xFFFE], "uint16")
    (-2.0, 65534.0)
    """
    width, code = DATA_TYPES[type_]
    if len(words) != width:
        raise DecodeError("register_count", f"{type_} needs {width} register(s), got {len(words)}")
    if any(not 0 <= w <= 0xFFFF for w in words):
        raise DecodeError("bad_register", f"register values {list(words)} are not 16-bit words")
    ordered = list(words) if word_order == "big" else list(reversed(words))
    raw = b"".join(w.to_bytes(2, "big" if byte_order == "big" else "little") for w in ordered)
    value = float(struct.unpack(">" + code, raw)[0])
    if not math.isfinite(value):
        raise DecodeError("not_finite", f"{type_} registers {[f'{w:04X}' for w in words]} "
                          "hold NaN or infinity")
    return value


def encode(value: float, type_: str, word_order: str = "big", byte_order: str = "big") -> list[int]:
    """The words a device would hold for ``value``: the inverse of ``decode`` (simulators, tests)."""
    width, code = DATA_TYPES[type_]
    raw = struct.pack(">" + code, int(round(value)) if code != "f" else value)
    words = [int.from_bytes(raw[i:i + 2], "big" if byte_order == "big" else "little")
             for i in range(0, 2 * width, 2)]
    return words if word_order == "big" else list(reversed(words))


def plan_reads(registers: Sequence[RegisterSpec]) -> tuple[Block, ...]:
    """Group registers into the fewest reads: contiguous spans per table, at most 125 registers."""
    blocks: list[Block] = []
    for table in TABLES:
        members = sorted(((i, r) for i, r in enumerate(registers) if r.table == table),
                         key=lambda m: m[1].address)
        current: list[tuple[int, RegisterSpec]] = []
        for member in members:
            start = current[0][1].address if current else member[1].address
            end = member[1].address + member[1].width
            if current and end - start > MAX_REGISTERS_PER_READ:
                blocks.append(_block(table, current))
                current = []
            current.append(member)
        if current:
            blocks.append(_block(table, current))
    return tuple(blocks)


def _block(table: str, members: list[tuple[int, RegisterSpec]]) -> Block:
    start = members[0][1].address
    end = max(r.address + r.width for _, r in members)
    return Block(table, start, end - start, tuple(members))


def decode_blocks(blocks: Sequence[Block], words: Sequence[Sequence[int]],
                  channels: int) -> tuple[float, ...]:
    """One value per channel from the words each block returned (same order as ``blocks``)."""
    values: list[float | None] = [None] * channels
    for block, got in zip(blocks, words, strict=True):
        if len(got) < block.count:
            raise DecodeError("short_reply", f"asked {block.count} registers from "
                              f"{block.address}, got {len(got)}")
        for index, reg in block.members:
            offset = reg.address - block.address
            values[index] = decode(got[offset:offset + reg.width], reg.type, reg.word_order,
                                   reg.byte_order)
    if any(v is None for v in values):
        raise ValueError("a channel has no register in the plan")
    return tuple(v for v in values if v is not None)
