"""The contract every streaming detector follows (river's shape: score, then maybe learn).

A detector sees the readings of one channel in time order, and two questions are kept apart:

* ``score(value, ts) -> float`` says how anomalous ``value`` (read at epoch seconds ``ts``) is
  against what was learned so far, in [0, 1] (1 = certainly anomalous). It changes nothing:
  scoring the same reading twice gives the same answer, and ``state()`` is the same after it.
  It is 0 while the detector is warming up.
* ``learn(value, ts) -> None`` takes the reading into the model of *normal*. The pipeline
  (edge/pipeline.py) calls it only for readings taken while the channel is not alarming, and
  never for the excursion that led to an alarm: a detector must never learn the hazard.

``update(value, ts)`` (score, then learn) is kept for callers that want every reading learned,
as the benchmarks' baselines do. A detector's state never takes a non-finite value: ``learn``
ignores a reading that would make it so (a NaN, an infinity, or 1e308 whose square overflows),
so a checkpoint can always be written as JSON.

Detectors are pure: no clock reads, no I/O, no logging set-up; randomness only through a
``seed`` argument. ``state()`` returns a JSON-serialisable checkpoint and ``restore()`` takes it
back, so a reboot neither re-learns the baseline nor alarms during warm-up. Hyper-parameters are
stored under their own names so ``params()`` can rebuild a fresh detector of the same
configuration.
"""

from __future__ import annotations

import abc
import math
from typing import Any, ClassVar


def all_finite(*values: float) -> bool:
    """True when every value is a finite float (the guard of every ``learn``)."""
    return all(math.isfinite(v) for v in values)


class Detector(abc.ABC):
    name: ClassVar[str]
    # A score at or above this marks a reading as *suspect*: the pipeline holds it back from
    # learning until the run it belongs to proves harmless (edge/pipeline.py). Novelty
    # detectors say "beyond a learned range" (any score above 0); others a modest surprise.
    suspect_score: ClassVar[float] = 0.05

    @abc.abstractmethod
    def score(self, value: float, ts: float) -> float:
        """How anomalous ``value`` (read at epoch seconds ``ts``) is, in [0, 1]; changes no state."""

    @abc.abstractmethod
    def learn(self, value: float, ts: float) -> None:
        """Take ``value`` into the model of normal (ignored if it would make the state non-finite)."""

    def update(self, value: float, ts: float) -> float:
        """Score ``value`` against the past, then learn it: every reading learned."""
        result = self.score(value, ts)
        self.learn(value, ts)
        return result

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
