"""Streaming anomaly detectors, built by name.

Each detector lives in its own module and is imported only when a
configuration names it, so heavy dependencies (river.anomaly pulls in scipy)
cost nothing on boards that do not use them.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

from edge.detectors.base import Detector

# name -> "module:Class"; modules are imported lazily by make_detector().
REGISTRY: dict[str, str] = {
    "robust_z": "edge.detectors.robust:RobustZ",
    "profile_novelty": "edge.detectors.profile:ProfileNovelty",
    "range_novelty": "edge.detectors.novelty:RangeNovelty",
    "likelihood": "edge.detectors.likelihood:AnomalyLikelihood",
    "windowed_gaussian": "edge.detectors.gaussian:WindowedGaussian",
    "half_space_trees": "edge.detectors.hst:HalfSpaceTrees",
}
DEFAULT_DETECTOR = "profile_novelty"
# Detectors over a sensor's whole vector of channels (edge/detectors/multichannel.py's contract).
VECTOR_REGISTRY: dict[str, str] = {
    "pca_t2q": "edge.detectors.multichannel:PcaT2Q",
}


def detector_class(name: str) -> type[Detector]:
    """The class registered as ``name`` (its module imported now); KeyError names the known ones."""
    try:
        target = REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown detector {name!r}; known: {', '.join(sorted(REGISTRY))}") from None
    module_name, class_name = target.split(":")
    cls: type[Detector] = getattr(importlib.import_module(module_name), class_name)
    return cls


def parameter_names(name: str) -> tuple[str, ...]:
    """The parameters the detector registered as ``name`` takes (its constructor's arguments)."""
    signature = inspect.signature(detector_class(name))
    return tuple(p.name for p in signature.parameters.values()
                 if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))


def make_detector(name: str, params: dict[str, Any] | None = None) -> Detector:
    """Build the detector registered as ``name``; KeyError names the known ones."""
    detector: Detector = detector_class(name)(**(params or {}))
    return detector


def make_vector_detector(name: str, params: dict[str, Any] | None = None) -> Any:
    """Build the vector detector registered as ``name`` (numpy is imported only here)."""
    try:
        target = VECTOR_REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown multichannel detector {name!r}; known: "
                       f"{', '.join(sorted(VECTOR_REGISTRY))}, none") from None
    module_name, class_name = target.split(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    return cls(**(params or {}))


__all__ = ["DEFAULT_DETECTOR", "REGISTRY", "VECTOR_REGISTRY", "Detector", "detector_class",
           "make_detector", "make_vector_detector", "parameter_names"]
