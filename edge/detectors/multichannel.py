"""Whole-machine detection: an online PCA over a sensor's vector of channels, Hotelling T² and Q (SPE).

A pump skid's channels move together: more demand means more flow, less downstream pressure,
more motor current. This detector learns that joint movement from normal readings and scores a
vector by how far it leaves it, so a closing valve, a leak or a stuck gauge alarms while every
channel is still inside its own usual range.

* The channels are standardised by an exponentially weighted mean and covariance (``memory``
  readings; a plain running average until that many have been seen).
* The correlation matrix is eigendecomposed; the first ``k`` components that explain
  ``variance`` of it span the *normal subspace*.
* **T²** (Hotelling) is the squared distance inside that subspace, in units of each
  component's spread: an operating point the machine has not been at.
  **Q** (SPE) is the squared distance *off* the subspace: the channels no longer move as they
  did. A reading's *ratio* is ``max(T²/T²_limit, Q/Q_limit)``.
* The limits come from the running distribution of the two statistics over learned readings
  (Box's scaled chi-square with the Wilson-Hilferty quantile at ``z``, so no scipy), and the
  score is ``1 / (1 + (1/alert - 1) * ratio**-steepness)``: a ratio of 1 scores ``alert_threshold``.
* The **slow residual** (``slow``): ``observe()`` takes every vector read (learned or not, but
  none beyond the limits) into an exponentially weighted average over ``slow`` readings, and
  its Q is a third ratio, over a limit fitted to the average's own learned values (Box's g and
  h from their mean and variance). Averaging removes the sensors' noise and keeps what
  persists: a gauge drifting slowly off the joint pattern is seen minutes before its single
  readings reach Q's limit, and before the model has learned much of it.

Cost: ``learn()`` only queues the reading; every ``refresh`` learned readings the queue is
folded into the mean and covariance with matrix operations and the eigenbasis is recomputed.
``score()`` is one subtraction, one small matrix product and one reduction: a few µs per
8-channel vector. numpy is imported by this module only, which is imported only when a
configuration asks for multichannel detection.

Examples
--------
>>> import random
>>> rng = random.Random(1)
>>> d = PcaT2Q(warmup=200, warmup_s=0.0, refresh=20)
>>> for i in range(400):
...     load = rng.gauss(0.0, 1.0)
...     d.learn([load + rng.gauss(0, 0.1), 2 * load + rng.gauss(0, 0.1), rng.gauss(0, 1)], float(i))
>>> d.score([1.0, 2.0, 0.0], 400.0) < 0.5   # the channels agree: normal
True
>>> d.score([1.0, -2.0, 0.0], 400.0) > 0.9  # each in its range, relationship broken
True
"""

from __future__ import annotations

import abc
import math
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

_TINY = 1e-12


class VectorDetector(abc.ABC):
    """The contract of a detector over a sensor's whole vector of channels.

    Like edge/detectors/base.py's per-channel contract, split in two so that nothing is learned
    while alarming: ``score(x, ts)`` changes no state; ``learn(x, ts)`` learns the vector and is
    called by the pipeline only when it judged the vector normal. Scores are in [0, 1], 0 until
    ``warm``; ``state()`` is JSON-serialisable with finite numbers only.
    """

    name: ClassVar[str]

    @abc.abstractmethod
    def score(self, x: Sequence[float], ts: float) -> float:
        """How anomalous the vector ``x`` (read at epoch seconds ``ts``) is; changes nothing."""

    @abc.abstractmethod
    def learn(self, x: Sequence[float], ts: float) -> None:
        """Learn ``x`` as a normal vector."""

    def observe(self, x: Sequence[float], ts: float) -> None:  # noqa: B027 (optional hook)
        """Take the vector ``x`` read at ``ts`` into whatever the detector keeps of the stream,
        whether or not it will be learned (called before ``score``); by default nothing."""

    @abc.abstractmethod
    def contributions(self, x: Sequence[float]) -> list[float]:
        """Each channel's share (summing to 1) of what makes ``x`` anomalous."""

    @property
    @abc.abstractmethod
    def warm(self) -> bool:
        """True once the detector has learned enough to give meaningful scores."""

    @abc.abstractmethod
    def params(self) -> dict[str, Any]:
        """The constructor arguments that rebuild a fresh detector like this one."""

    @abc.abstractmethod
    def state(self) -> dict[str, Any]:
        """A JSON-serialisable checkpoint of everything learned so far."""

    @abc.abstractmethod
    def restore(self, state: dict[str, Any]) -> None:
        """Load a checkpoint made by ``state()`` of a detector with the same params."""


def chi2_quantile(dof: float, z: float) -> float:
    """Wilson-Hilferty approximation of the chi-square quantile with ``dof`` degrees of freedom at
    the standard-normal quantile ``z`` (good to a few per cent from dof ~ 1 up)."""
    a = 2.0 / (9.0 * dof)
    return dof * max(1.0 - a + z * math.sqrt(a), 0.0) ** 3


class PcaT2Q(VectorDetector):
    """Online PCA with Hotelling T² and the residual Q statistic.

    Parameters
    ----------
    memory
        Readings of memory of the exponentially weighted mean and covariance.
    refresh
        Learned readings between folding the queue into the model and recomputing the eigenbasis.
    warmup
        Learned readings before scoring.
    warmup_s
        Seconds of learned readings (from the first) before scoring: a machine's normal includes
        its daily cycle and its regime changes (a second pump starting), and a model that has not
        seen them would take them for a fault, and then never learn them.
    variance
        Fraction of the standardised variance the normal subspace explains.
    z
        Standard-normal quantile of the statistics' limits (5.0: about one in 3.5 million under
        the fitted distribution; picked on the equipment benchmark's tuning split, see
        docs/benchmarks.md).
    use_t2
        Also alarm on T² (an operating point unlike the learned ones), not only on Q.
    min_rel_sd, noise_frac
        Every channel is taken to carry independent noise of at least ``min_rel_sd`` of its
        level and ``noise_frac`` of its spread (added to the covariance's diagonal), so neither a
        channel that never moved nor two channels that moved as one turn a change below the
        instruments' resolution into an alarm.
    min_eig
        Eigenvalues are taken as at least this fraction of the largest, so a direction in which
        the channels never varied (two meters of one flow, quantised) does not divide by 0.
    stat_memory
        Readings of memory of the statistics' running mean and variance.
    steepness
        Slope of the score in log-ratio units.
    alert_threshold
        The score of a reading exactly at the limit.
    slow
        Readings of the slow residual's average (0: off). Every vector observed within the
        limits (``observe``) goes into an exponentially weighted average, and that average's Q
        is compared with a limit of its own, fitted to its learned values: a gauge drifting off
        the joint pattern too little at any one reading for Q, but the same way minute after
        minute, alarms (picked on the equipment benchmark's tuning split, see
        docs/benchmarks.md).
    slow_gap_s
        A gap in the readings longer than this starts the slow average afresh.
    seed
        Unused (the model is deterministic); kept so every detector takes one.
    """

    name = "pca_t2q"

    def __init__(self, memory: int = 50_000, refresh: int = 50, warmup: int = 300,
                 warmup_s: float = 86_400.0, variance: float = 0.95, z: float = 5.0,
                 use_t2: bool = True, min_rel_sd: float = 1e-3, noise_frac: float = 0.01,
                 min_eig: float = 1e-5, stat_memory: int = 20_000, steepness: float = 6.0,
                 alert_threshold: float = 0.9, slow: int = 0,
                 slow_gap_s: float = 600.0, seed: int = 0) -> None:
        if not 0.0 < variance < 1.0:
            raise ValueError(f"variance must be in (0, 1), got {variance}")
        if refresh < 1 or warmup < refresh or memory < 2:
            raise ValueError("need refresh >= 1, warmup >= refresh and memory >= 2")
        self.memory = memory
        self.refresh = refresh
        self.warmup = warmup
        self.warmup_s = warmup_s
        self.variance = variance
        self.z = z
        self.use_t2 = use_t2
        self.min_rel_sd = min_rel_sd
        self.min_eig = min_eig
        self.noise_frac = noise_frac
        self.stat_memory = stat_memory
        self.steepness = steepness
        self.alert_threshold = alert_threshold
        self.slow = slow
        self.slow_gap_s = slow_gap_s
        self._slow_a = 1.0 / slow if slow > 0 else 0.0
        self.seed = seed
        self._odds = 1.0 / alert_threshold - 1.0
        self._n = 0  # readings folded into the model
        self._first_ts: float | None = None  # of the first learned reading
        self._last_ts: float | None = None  # of the last learned reading
        self._pending: list[list[float]] = []
        self._mean: Any = None  # np.ndarray once the first reading is learned
        self._cov: Any = None
        # running mean of T²/k and Q/(n-k) over learned readings (1 for a perfect Gaussian fit)
        self._stats = [1.0, 1.0]
        self._stat_n = 0
        self._model: tuple[Any, Any, int] | None = None  # (projection M, selector S, k)
        self._inv_limits = (0.0, 0.0)
        # the slow residual (``slow``): an exponentially weighted average of every vector
        # observed (not only learned ones), how many went into it and when the last did
        self._smooth: Any = None
        self._smooth_ts: float | None = None
        # running mean of Q(smoothed) and of its square over learned vectors (Box's fit)
        self._slow_stat = [0.0, 0.0]
        self._slow_pending: list[float] = []
        self._slow_inv_limit = 0.0
        self._slow_q = 0.0  # Q of the smoothed vector, under the model that observed it
        self._residual: Any = None
        self._stacked: Any = None  # the projection, and below it slow_a times the residual's
        # (ts, vector, ratio) of the last vector observed: score() of the same vector reuses it
        self._last: tuple[float, list[float], float, Any] | None = None
        self._eig: Any = None
        self._vecs: Any = None
        self._inv_sd: Any = None
        self._combined: tuple[Any, Any] | None = None  # (M, diag M) of the combined index
        # each channel's longest run of unchanged readings in normal running (see learn_runs)
        self._runs: list[int] = []
        self._changes: list[int] = []  # runs learned per channel, and their summed length
        self._run_total: list[int] = []

    # --- the contract ---------------------------------------------------------------------

    @property
    def warm(self) -> bool:
        return (self._n >= self.warmup and self._model is not None and self._stat_n > 0
                and self._first_ts is not None and self._last_ts is not None
                and self._last_ts - self._first_ts >= self.warmup_s)

    def score(self, x: Sequence[float], ts: float) -> float:
        if not self.warm or len(x) != len(self._mean):  # a sensor whose columns changed: see learn()
            return 0.0
        ratio = self._ratio(x, ts)
        if self._slow_a > 0.0:
            ratio = max(ratio, self._slow_q * self._slow_inv_limit)
        if math.isnan(ratio):
            return 0.0  # a missing channel is the health monitor's business, not a hazard
        if ratio <= 0.0:
            return 0.0
        if math.isinf(ratio):
            return 1.0
        return float(1.0 / (1.0 + self._odds * ratio ** -self.steepness))

    def learn(self, x: Sequence[float], ts: float) -> None:
        row = [float(v) for v in x]
        if not all(math.isfinite(v) for v in row):
            return
        width = len(self._mean) if self._mean is not None else (
            len(self._pending[0]) if self._pending else len(row))
        if len(row) != width:  # the sensor's columns changed since the checkpoint: learn afresh
            self.restore(type(self)(**self.params()).state())
        if self._slow_a > 0.0 and self._model is not None:
            self._slow_pending.append(self._slow_q)
        self._pending.append(row)
        if self._first_ts is None:
            self._first_ts = ts
        self._last_ts = ts
        if len(self._pending) >= self.refresh:
            self._fold()

    def observe(self, x: Sequence[float], ts: float) -> None:
        """Take every vector read, learned or not, into the slow residual (``slow`` > 0; call it
        before ``score``): an exponentially weighted average, over ``slow`` readings, of each
        vector's residual (what is left of it, standardised, once the machine's normal
        directions are taken out), whose Q is compared with a limit of its own. Averaging takes
        the sensors' noise out of the residual and keeps what persists: a gauge drifting off the
        joint pattern slowly, too little at any one reading for Q but the same way minute after
        minute. Residuals are averaged, not readings: the average of two operating points (a
        pump starting) is off the machine's curve, their residuals are not. A vector beyond the
        limits is left out (Q and T² see it, and it would linger in the average); a gap of more
        than ``slow_gap_s`` (an outage) starts the average afresh."""
        if self._slow_a <= 0.0 or self._residual is None or len(x) != len(self._mean):
            return
        ratio = self._ratio(x, ts)
        if not math.isfinite(ratio) or (ratio >= 1.0 and self.warm):
            return  # a missing channel (the average waits for it), or beyond the limits
        assert self._last is not None
        step = self._last[3]  # slow_a times the vector's standardised residual
        smooth = self._smooth
        if smooth is None or len(smooth) != len(step) or (
                self._smooth_ts is not None and ts - self._smooth_ts > self.slow_gap_s):
            smooth = np.zeros(len(step))
        self._smooth = smooth * (1.0 - self._slow_a) + step
        self._smooth_ts = ts
        self._slow_q = self._q_of(self._smooth)

    def _q_of(self, smooth: Any) -> float:
        """Q of a standardised residual under the current model."""
        _, weighted = self._residual
        off = weighted @ smooth
        return float(off @ off)

    def contributions(self, x: Sequence[float]) -> list[float]:
        if self._model is None or self._mean is None or self._combined is None:
            return [1.0 / max(len(x), 1)] * len(x)
        # Reconstruction-based contributions (Alcala & Qin 2009) of the *combined* index
        # T²/T²_limit + Q/Q_limit (z' M z with M = V diag(w_j / lambda_j) V', w_j the inverse limit
        # of the subspace of component j): channel i's share is how much of it goes away when
        # channel i alone is put back where the others say it should be, (M z)_i^2 / M_ii.
        # Blaming one subspace only (T² or Q, whichever is larger) divides by a tiny M_ii for a
        # channel that hardly loads on that subspace (an independent channel in Q), and the
        # ratio of two tiny numbers can carry a whole statistic: the alert went on that channel.
        matrix, diag = self._combined
        mz = matrix @ ((np.asarray(x, dtype=float) - self._mean) * self._inv_sd)
        shares = np.square(mz) / diag
        total = float(shares.sum())
        if not math.isfinite(total) or total <= 0.0:
            return [1.0 / len(x)] * len(x)
        return [float(v) / total for v in shares]

    def params(self) -> dict[str, Any]:
        return {"memory": self.memory, "refresh": self.refresh, "warmup": self.warmup,
                "warmup_s": self.warmup_s, "variance": self.variance, "z": self.z,
                "use_t2": self.use_t2, "min_rel_sd": self.min_rel_sd, "noise_frac": self.noise_frac,
                "min_eig": self.min_eig, "stat_memory": self.stat_memory,
                "steepness": self.steepness, "alert_threshold": self.alert_threshold,
                "slow": self.slow,
                "slow_gap_s": self.slow_gap_s, "seed": self.seed}

    def state(self) -> dict[str, Any]:
        return {
            "n": self._n,
            "first_ts": self._first_ts,
            "last_ts": self._last_ts,
            "pending": [list(r) for r in self._pending],
            "mean": None if self._mean is None else [float(v) for v in self._mean],
            "cov": None if self._cov is None else [[float(v) for v in r] for r in self._cov],
            "stats": list(self._stats),
            "smooth": None if self._smooth is None else [float(v) for v in self._smooth],
            "smooth_ts": self._smooth_ts,
            "slow_stat": list(self._slow_stat),
            "slow_pending": list(self._slow_pending),
            "stat_n": self._stat_n,
            "runs": list(self._runs),
            "changes": list(self._changes),
            "run_total": list(self._run_total),
        }

    def restore(self, state: dict[str, Any]) -> None:
        n = int(state["n"])
        pending = [[float(v) for v in r] for r in state["pending"]]
        mean = None if state["mean"] is None else np.asarray(state["mean"], dtype=float)
        cov = None if state["cov"] is None else np.asarray(state["cov"], dtype=float)
        stats = [float(v) for v in state["stats"]]
        if len(stats) != 2 or (mean is not None and (cov is None or cov.shape != (len(mean), len(mean)))):
            raise ValueError("inconsistent multichannel checkpoint")
        for arr in (mean, cov):
            if arr is not None and not np.all(np.isfinite(arr)):
                raise ValueError("non-finite value in multichannel checkpoint")
        self._n, self._pending, self._mean, self._cov = n, pending, mean, cov
        self._stats, self._stat_n = stats, int(state["stat_n"])
        smooth = state.get("smooth")  # the slow residual's: absent in older checkpoints
        self._smooth = None if smooth is None else np.asarray(smooth, dtype=float)
        smooth_ts = state.get("smooth_ts")
        self._smooth_ts = None if smooth_ts is None else float(smooth_ts)
        self._slow_stat = [float(v) for v in state.get("slow_stat") or [0.0, 0.0]]
        self._slow_pending = [float(v) for v in state.get("slow_pending") or []]
        self._runs = [int(v) for v in state.get("runs") or []]  # absent in older checkpoints
        self._changes = [int(v) for v in state.get("changes") or [0] * len(self._runs)]
        self._run_total = [int(v) for v in state.get("run_total") or [0] * len(self._runs)]
        first, last = state.get("first_ts"), state.get("last_ts")
        self._first_ts = None if first is None else float(first)
        self._last_ts = None if last is None else float(last)
        self._model, self._combined, self._residual = None, None, None
        if self._mean is not None:
            self._rebuild()

    def learn_runs(self, runs: Sequence[int]) -> None:
        """Learn runs of unchanged readings (one length per channel, 0 for none) that ended in
        normal running: a live gauge's value changes, and how long it may sit still (noise below
        its resolution, a quiet night) is part of what the machine's normal is."""
        if len(self._runs) != len(runs):
            self._runs, self._changes, self._run_total = [0] * len(runs), [0] * len(runs), [0] * len(runs)
        longest, changes, total = self._runs, self._changes, self._run_total
        for i, run in enumerate(runs):  # called for almost every vector: a plain loop, in place
            if run > 0:
                run = int(run)
                if run > longest[i]:
                    longest[i] = run
                changes[i] += 1
                total[i] += run

    def longest_runs(self) -> list[int]:
        """Each channel's longest run of unchanged readings learned (empty before any)."""
        return list(self._runs)

    def mean_runs(self) -> list[float]:
        """Each channel's mean run of unchanged readings learned (inf before any ended): about 1
        for a live, noisy gauge, long for a pump's status or a flow that is often exactly 0."""
        return [t / c if c else math.inf for t, c in zip(self._run_total, self._changes, strict=True)]

    # --- the model --------------------------------------------------------------------------

    def _ratio(self, x: Sequence[float], ts: float) -> float:
        """``max(T²/T²_limit, Q/Q_limit)`` of ``x``; computed once per vector and model."""
        last = self._last
        row = list(x)
        if last is not None and last[0] == ts and last[1] == row:
            return last[2]
        assert self._model is not None
        proj, sel, _ = self._model
        n = len(self._mean)
        # one product gives the components (T², Q) and, with the slow residual on, the residual
        z = self._stacked @ (np.asarray(row, dtype=float) - self._mean)
        t2, q = (sel @ np.square(z[:n])).tolist()
        ratio = float(max(t2 * self._inv_limits[0], q * self._inv_limits[1]))
        self._last = (ts, row, ratio, z[n:])
        return ratio

    def _regularised(self) -> Any:
        """The covariance plus each channel's noise floor on its diagonal.

        A direction in which the learned channels were almost perfectly tied (two meters of one
        flow, a pressure that barely moved) must not turn a change below the instruments'
        resolution into an alarm: every channel is taken to carry at least ``noise_frac`` of its
        own spread, and ``min_rel_sd`` of its level, as independent noise."""
        var = np.maximum(np.diag(self._cov), 0.0)
        floor = (self.min_rel_sd * np.abs(self._mean)) ** 2 + self.noise_frac ** 2 * var + 1e-18
        return self._cov + np.diag(floor)

    def _fold(self) -> None:
        """Fold the queued readings into the statistics, mean and covariance; rebuild the model."""
        batch = np.asarray(self._pending, dtype=float)
        self._pending = []
        count = len(batch)
        if self._model is not None and self._n >= self.warmup:
            proj, sel, k = self._model  # the statistics of these readings under the model they met
            stats = np.square((batch - self._mean) @ proj.T) @ sel.T  # (count, 2)
            self._track_stats(stats, k)
            if self._slow_pending:
                count = len(self._slow_pending)
                mean = sum(self._slow_pending) / count
                square = sum(v * v for v in self._slow_pending) / count
                w = max(count / (self._stat_n + count), 1.0 - (1.0 - 1.0 / self.stat_memory) ** count)
                old = self._slow_stat
                self._slow_stat = [old[0] + w * (mean - old[0]), old[1] + w * (square - old[1])]
        self._slow_pending = []
        b_mean = batch.mean(axis=0)
        centred = batch - b_mean
        b_cov = centred.T @ centred / count
        if self._mean is None:
            self._mean, self._cov = b_mean, b_cov
        else:
            # weight of the new block: a running average until `memory` readings, then EW
            w = max(count / (self._n + count), 1.0 - (1.0 - 1.0 / self.memory) ** count)
            delta = b_mean - self._mean
            self._cov = (1.0 - w) * self._cov + w * b_cov + w * (1.0 - w) * np.outer(delta, delta)
            self._mean = self._mean + w * delta
        self._n += count
        self._rebuild()

    def _track_stats(self, stats: Any, k: int) -> None:
        """Running mean of T²/k and Q/(n-k) over learned readings (exponentially weighted).

        Under a well-fitted Gaussian model both are 1 (the statistics are chi-square with k and
        n - k degrees of freedom); a machine whose normal is heavier-tailed or moves between
        regimes runs higher, and its limits are raised by that factor."""
        count = len(stats)
        dof = np.array([k, max(len(self._mean) - k, 1)], dtype=float)
        means = (stats / dof).mean(axis=0).tolist()
        w = max(count / (self._stat_n + count), 1.0 - (1.0 - 1.0 / self.stat_memory) ** count)
        self._stats = [old + w * (new - old) for old, new in zip(self._stats, means, strict=True)]
        self._stat_n += count

    def _set_limits(self, k: int) -> None:
        n = len(self._mean)
        t_limit = chi2_quantile(k, self.z) * max(self._stats[0], 1.0)
        q_limit = chi2_quantile(max(n - k, 1), self.z) * max(self._stats[1], 1.0)
        self._inv_limits = (1.0 / t_limit if self.use_t2 else 0.0, 1.0 / q_limit)
        if self._slow_a > 0.0:
            self._slow_inv_limit = 1.0 / self._slow_limit(max(n - k, 1))
        # the combined index's matrix for contributions(): both subspaces, each over its own
        # limit (T² too with use_t2 off, so that no channel's M_ii vanishes)
        weights = np.where(np.arange(n) < k, 1.0 / t_limit, 1.0 / q_limit) / self._eig
        matrix = (self._vecs * weights) @ self._vecs.T
        self._combined = (matrix, np.maximum(np.diag(matrix).copy(), _TINY))

    def _slow_limit(self, dof: int) -> float:
        """The limit of the slow residual's Q: Box's scaled chi-square g * chi2(h) fitted to the
        running mean and variance of its learned values (an average over minutes keeps what
        persists in normal running, and how heavy its tail is varies from machine to machine),
        and never below what white noise of the fast Q's spread would give."""
        white = max(self._stats[1], 1.0) * self._slow_a / (2.0 - self._slow_a)
        mean, square = self._slow_stat
        var = square - mean * mean
        if mean <= white * dof or var <= 0.0:  # no fit yet, or tighter than white noise
            return chi2_quantile(dof, self.z) * white
        g, h = var / (2.0 * mean), 2.0 * mean * mean / var
        return g * chi2_quantile(max(h, 1.0), self.z)

    def _rebuild(self) -> None:
        """Eigendecompose the correlation matrix; build the projection that gives T² and Q at once."""
        n = len(self._mean)
        cov = self._regularised()
        inv_sd = 1.0 / np.sqrt(np.diag(cov))
        corr = cov * np.outer(inv_sd, inv_sd)
        eig, vecs = np.linalg.eigh(corr)
        eig, vecs = eig[::-1], vecs[:, ::-1]  # largest first
        eig = np.maximum(eig, _TINY)
        explained = np.cumsum(eig) / float(eig.sum())
        k = int(np.searchsorted(explained, self.variance) + 1)
        k = min(max(k, 1), max(n - 1, 1))
        eig = np.maximum(eig, float(eig[0]) * self.min_eig)
        proj = (vecs / np.sqrt(eig)).T * inv_sd  # (n, n): x - mean -> component scores in sd units
        sel = np.zeros((2, n))
        sel[0, :k] = 1.0
        sel[1, k:] = 1.0
        self._eig, self._vecs, self._inv_sd = eig, vecs, inv_sd
        self._model = (proj, sel, k)
        # the slow residual's: standardised deviation -> its residual (the normal directions
        # taken out), and residual -> Q's components in units of their spread
        normal = vecs[:, :k]
        self._residual = ((np.eye(n) - normal @ normal.T) * inv_sd, (vecs[:, k:] / np.sqrt(eig[k:])).T)
        self._stacked = np.vstack([proj, self._slow_a * self._residual[0]]) if self._slow_a > 0.0 else proj
        if self._smooth is not None and len(self._smooth) == n:
            self._slow_q = self._q_of(self._smooth)
        self._last = None
        self._set_limits(k)
