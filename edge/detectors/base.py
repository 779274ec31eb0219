"""The contract every streaming detector follows.

A detector sees each reading of one channel once, in time order, and must
decide now: ``update(value, ts)`` scores the reading against what came before,
then learns from it, and returns a score in [0, 1] (1 = certainly anomalous).
It is 0 while the detector is still warming up. Detectors are pure: no clock
reads, no I/O, no logging set-up; randomness only through a ``seed`` argument.

``state()`` returns a JSON-serialisable checkpoint and ``restore()`` takes it
back, so a reboot neither re-learns the baseline nor alarms during warm-up.
Hyper-parameters are stored under their own names so ``params()`` can rebuild
a fresh detector of the same configuration.
"""

from __future__ import annotations

import abc
from typing import Any, ClassVar


class Detector(abc.ABC):
    name: ClassVar[str]

    @abc.abstractmethod
    def update(self, value: float, ts: float) -> float:
        """Score ``value`` (read at epoch seconds ``ts``) against the past, then learn it."""

    @property
    @abc.abstractmethod
    def warm(self) -> bool:
        """True once the detector has seen enough data to give meaningful scores."""

    @abc.abstractmethod
    def params(self) -> dict[str, Any]:
        """The constructor arguments that rebuild a fresh detector like this one."""

    @abc.abstractmethod
    def state(self) -> dict[str, Any]:
        """A JSON-serialisable checkpoint of everything learned so far."""

    @abc.abstractmethod
    def restore(self, state: dict[str, Any]) -> None:
        """Load a checkpoint made by ``state()`` of a detector with the same params."""
