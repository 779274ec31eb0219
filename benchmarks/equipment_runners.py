"""The methods the equipment benchmark compares, each run over a vector stream as the agent would.

* ``device``: the product: edge/device_pipeline.py with every channel's shipped default detector
  and decider plus the multichannel detector. One pass also yields the single-channel default
  baseline (the channels' own alarms, after the machine's arbitration in device_pipeline: not
  an independent single-channel run) and the multichannel alarm alone.
* ``zscore``: per channel, a 6-sigma z-score against the running mean and spread of that channel's
  unflagged readings (alarm = any channel flagged); learns only what it does not flag.
* ``hst``: river's HalfSpaceTrees over the min-max scaled vector (it learns every reading, as
  river's detectors do); its score is thresholded by the benchmark.

Every method restarts at ``restart``: its learned state goes through JSON (river's model through
pickle, as edge/detectors/hst.py stores it) into a fresh instance, as after an agent restart.
"""

from __future__ import annotations

import json
import math
import pickle
from collections.abc import Sequence
from typing import Any

import numpy as np

from edge.config import ChannelConfig, DetectionConfig, SensorConfig
from edge.detectors import make_vector_detector
from edge.device_pipeline import DevicePipeline

Z_SIGMA = 6.0
DEVICE_KEYS = ("min_readings", "confirm", "alone", "confirm_scores", "share")
WARMUP = 400


def device_sensor(columns: Sequence[str], sensor_id: str = "skid-1") -> SensorConfig:
    return SensorConfig(id=sensor_id, kind="water.pump", driver="lines", port="/dev/null", baudrate=9600,
                        channels=tuple(ChannelConfig(name=c) for c in columns),
                        detection=DetectionConfig())


def new_device(sensor: SensorConfig, mc_params: dict[str, Any] | None) -> DevicePipeline:
    """The shipped device pipeline, or (``mc_params``) one with these multichannel settings; the
    keys of ``DEVICE_KEYS`` are the device pipeline's (the multichannel decider's run, the
    arbitration of channel scores), the others the detector's."""
    if mc_params is None:
        return DevicePipeline(sensor)
    params = dict(mc_params)
    extra: dict[str, Any] = {key: params.pop(key) for key in DEVICE_KEYS if key in params}
    return DevicePipeline(sensor, multichannel=make_vector_detector("pca_t2q", params), **extra)


def restart_device(old: DevicePipeline, mc_params: dict[str, Any] | None) -> DevicePipeline:
    """A fresh pipeline with every detector's state restored from a JSON checkpoint of ``old``."""
    new = new_device(old.sensor, mc_params)
    saved = json.loads(json.dumps({k: d.state() for k, d in old.detectors().items()}, allow_nan=False))
    for key, detector in new.detectors().items():
        detector.restore(saved[key])
    return new


def run_device(ts: np.ndarray, values: np.ndarray, restart: int | None,
               mc_params: dict[str, Any] | None = None,
               columns: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    n, width = values.shape
    sensor = device_sensor(columns or [f"c{i}" for i in range(width)])
    device = new_device(sensor, mc_params)
    out = {name: np.zeros(n, dtype=np.int8) for name in ("device", "multichannel", "channels")}
    mc_score = np.zeros(n)
    rows, stamps = values.tolist(), ts.tolist()
    for i in range(n):
        if i == restart:
            device = restart_device(device, mc_params)
        device.process(stamps[i], rows[i])
        mc = device.decider.active
        ch = any(p.decider.active for p in device.channels)
        out["multichannel"][i] = mc
        out["channels"][i] = ch
        out["device"][i] = mc or ch
        mc_score[i] = device.score
    return {**out, "mc_score": mc_score}


class ZScore:
    """Per-channel 6-sigma z-score over the running mean/variance of unflagged readings (Welford)."""

    def __init__(self, width: int) -> None:
        self.n = [0] * width
        self.mean = [0.0] * width
        self.m2 = [0.0] * width

    def step(self, row: Sequence[float]) -> bool:
        flagged = False
        for j, v in enumerate(row):
            n = self.n[j]
            if n >= WARMUP:
                sd = math.sqrt(self.m2[j] / (n - 1))
                floor = 1e-3 * abs(self.mean[j]) + 1e-9
                if abs(v - self.mean[j]) > Z_SIGMA * max(sd, floor):
                    flagged = True
                    continue
            n += 1
            delta = v - self.mean[j]
            self.mean[j] += delta / n
            self.m2[j] += delta * (v - self.mean[j])
            self.n[j] = n
        return flagged


def run_zscore(values: np.ndarray, restart: int | None) -> dict[str, np.ndarray]:
    n, width = values.shape
    model = ZScore(width)
    alarm = np.zeros(n, dtype=np.int8)
    for i, row in enumerate(values.tolist()):
        if i == restart:
            saved = json.loads(json.dumps(vars(model)))
            model = ZScore(width)
            model.__dict__.update(saved)
        alarm[i] = model.step(row)
    return {"zscore": alarm}


def run_hst(values: np.ndarray, restart: int | None, seed: int = 42) -> dict[str, np.ndarray]:
    from river import anomaly, preprocessing

    n, width = values.shape
    model = preprocessing.MinMaxScaler() | anomaly.HalfSpaceTrees(
        n_trees=10, height=8, window_size=250, seed=seed)
    keys = [f"c{j}" for j in range(width)]
    scores = np.zeros(n)
    for i, row in enumerate(values.tolist()):
        if i == restart:
            model = pickle.loads(pickle.dumps(model))
        x = dict(zip(keys, row, strict=True))
        scores[i] = model.score_one(x) if i >= WARMUP else 0.0
        model.learn_one(x)
    return {"hst": scores}
