"""Vibration features: raw accelerometer samples in, a few numbers per window and axis out.

Per axis and per window, after removing the window's mean (gravity and sensor
offset are not vibration):

* ``rms``   – root mean square, sqrt(mean(x²));
* ``peak``  – largest absolute value;
* ``crest`` – peak / rms (√2 for a pure sine; impacts and bearing faults raise it; 0 if rms is 0);
* ``band_<lo>_<hi>`` – mean-square power between ``lo`` (inclusive) and ``hi`` (exclusive) Hz,
  from a one-sided rfft power spectrum scaled so that bands covering 0..Nyquist sum to rms².
  In the signal's unit squared (g² for g).

Pure and numpy-only: ``window_features`` is a function of an array; ``FeatureWindow``
collects frames until a window is full. Imported only when a vibration sensor is configured.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from edge.drivers.base import DecodeError
from edge.drivers.frames import Frame

Array = npt.NDArray[np.float64]


def window_features(samples: Array, rate_hz: float,
                    bands: Sequence[tuple[float, float]]) -> tuple[float, ...]:
    """Features of one window: ``samples`` has one row per sample and one column per axis.

    >>> t = np.arange(500) / 500.0
    >>> x = 2.0 * np.sin(2 * np.pi * 25.0 * t)  # 25 Hz: a sample lands on each crest
    >>> [round(v, 3) for v in window_features(x[:, None], 500.0, [(10, 50), (50, 150)])]
    [1.414, 2.0, 1.414, 2.0, 0.0]
    """
    n = samples.shape[0]
    centred = samples - samples.mean(axis=0)
    rms = np.sqrt(np.mean(centred ** 2, axis=0))
    peak = np.max(np.abs(centred), axis=0)
    crest = np.divide(peak, rms, out=np.zeros_like(peak), where=rms > 0)
    spectrum = np.abs(np.fft.rfft(centred, axis=0)) ** 2 / n ** 2
    spectrum[1:] *= 2.0  # one-sided: every bin but DC (and Nyquist, for even n) counts twice
    if n % 2 == 0:
        spectrum[-1] /= 2.0
    freqs = np.fft.rfftfreq(n, d=1.0 / rate_hz)
    energies = [spectrum[(freqs >= lo) & (freqs < hi)].sum(axis=0) for lo, hi in bands]
    out: list[float] = []
    for axis in range(samples.shape[1]):
        out += [float(rms[axis]), float(peak[axis]), float(crest[axis])]
        out += [float(e[axis]) for e in energies]
    return tuple(out)


class FeatureWindow:
    """Collects frames into non-overlapping windows of ``window`` samples and reduces each."""

    def __init__(self, axes: int, rate_hz: float, window: int, scale: float,
                 bands: Sequence[tuple[float, float]]) -> None:
        self.axes = axes
        self.rate_hz = rate_hz
        self.window = window
        self.scale = scale
        self.bands = tuple(bands)
        self._chunks: list[Array] = []
        self._count = 0

    def add(self, frame: Frame) -> list[tuple[float, ...]]:
        """Feature tuples for every window this frame completes (usually none or one)."""
        if frame.axes != self.axes:
            raise DecodeError("axes_mismatch", f"frame has {frame.axes} axes, configured "
                              f"{self.axes}")
        if frame.rate_hz != int(self.rate_hz):
            raise DecodeError("rate_mismatch", f"frame says {frame.rate_hz} Hz, configured "
                              f"{self.rate_hz:g} Hz")
        counts = np.frombuffer(frame.samples, dtype="<i2").reshape(-1, self.axes)
        self._chunks.append(counts.astype(np.float64) * self.scale)
        self._count += counts.shape[0]
        out: list[tuple[float, ...]] = []
        while self._count >= self.window:
            data = np.concatenate(self._chunks)
            out.append(window_features(data[:self.window], self.rate_hz, self.bands))
            rest = data[self.window:]
            self._chunks = [rest] if len(rest) else []
            self._count = len(rest)
        return out
