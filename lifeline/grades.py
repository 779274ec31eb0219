"""The four-level warning scale of Chinese emergency management.

blue is level IV (lowest), yellow III, orange II, red I (highest). Grades
compare by severity, so ``max(grades)`` is the most severe one.
"""

from __future__ import annotations

import enum


class Grade(enum.IntEnum):
    BLUE = 1
    YELLOW = 2
    ORANGE = 3
    RED = 4

    @property
    def label(self) -> str:
        """The lower-case name used on the wire and in configs (``"orange"``)."""
        return self.name.lower()

    @property
    def level(self) -> str:
        """The Roman level of the national scale (``"II"`` for orange)."""
        return {1: "IV", 2: "III", 3: "II", 4: "I"}[int(self)]

    @classmethod
    def parse(cls, text: str) -> Grade:
        """Read a grade from its name (``"red"``) or level (``"I"``); raise ValueError otherwise."""
        key = text.strip()
        for grade in cls:
            if key.lower() == grade.label or key.upper() == grade.level:
                return grade
        raise ValueError(f"{text!r} is not a grade; expected one of blue, yellow, orange, red")


GRADE_NAMES: tuple[str, ...] = tuple(g.label for g in Grade)
