"""river's HalfSpaceTrees behind a MinMaxScaler: an option for feature vectors, and a NAB baseline.

river is imported when the detector is built, never at package import, so boards that do not
configure it do not pay for it. The checkpoint is river's own object graph, pickled and base64
encoded inside the JSON state (restore it only from files you wrote).
"""

from __future__ import annotations

import base64
import pickle
from typing import Any

from edge.detectors.base import Detector, all_finite


class HalfSpaceTrees(Detector):
    """Half-space trees (Tan et al. 2011) over the min-max scaled reading.

    Parameters
    ----------
    n_trees, height, window_size
        river's ``HalfSpaceTrees`` parameters.
    warmup
        Readings to learn from before scoring (at least one reference window helps).
    seed
        Seed of the random tree construction.
    """

    name = "half_space_trees"

    def __init__(self, n_trees: int = 10, height: int = 8, window_size: int = 250,
                 warmup: int = 250, seed: int = 42) -> None:
        self.n_trees = n_trees
        self.height = height
        self.window_size = window_size
        self.warmup = warmup
        self.seed = seed
        self._n = 0
        self._model: Any = None

    def _build(self) -> Any:
        from river import anomaly, preprocessing

        return preprocessing.MinMaxScaler() | anomaly.HalfSpaceTrees(
            n_trees=self.n_trees, height=self.height, window_size=self.window_size, seed=self.seed)

    @property
    def warm(self) -> bool:
        return self._n >= self.warmup

    def score(self, value: float, ts: float) -> float:
        if self._model is None or self._n < self.warmup:
            return 0.0
        if not all_finite(value):
            return 1.0
        # river's score_one reads the trees and the scaler's learned extremes; it changes neither
        score = float(self._model.score_one({"value": float(value)}))
        return min(max(score, 0.0), 1.0) if score == score else 1.0

    def learn(self, value: float, ts: float) -> None:
        if not all_finite(value):
            return
        if self._model is None:
            self._model = self._build()
        self._model.learn_one({"value": float(value)})
        self._n += 1

    def params(self) -> dict[str, Any]:
        return {"n_trees": self.n_trees, "height": self.height, "window_size": self.window_size,
                "warmup": self.warmup, "seed": self.seed}

    def state(self) -> dict[str, Any]:
        blob = "" if self._model is None else base64.b64encode(pickle.dumps(self._model)).decode("ascii")
        return {"n": self._n, "model": blob}

    def restore(self, state: dict[str, Any]) -> None:
        self._n = int(state["n"])
        blob = str(state["model"])
        self._model = pickle.loads(base64.b64decode(blob)) if blob else None
