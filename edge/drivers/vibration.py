"""The ``vibration`` driver: binary accelerometer frames in, features per window out.

The shared stream thread (edge/drivers/stream.py) reads whatever bytes the
port has, the pure FrameDecoder (edge/drivers/frames.py) cuts them into checked
frames, and FeatureWindow (edge/drivers/features.py, numpy) reduces each full
window to RMS, peak, crest factor and band energies per axis: those features,
not raw samples, are the sensor's channels. numpy is imported only when a vibration sensor is configured.
"""

from __future__ import annotations

from edge.config import VibrationConfig
from edge.drivers.base import DecodeError
from edge.drivers.features import FeatureWindow
from edge.drivers.frames import Frame, FrameDecoder
from edge.drivers.stream import StreamReader


class VibrationDecoder:
    """Pure: bytes in, feature readings and counted errors out."""

    def __init__(self, settings: VibrationConfig) -> None:
        self.frames = FrameDecoder()
        self.window = FeatureWindow(len(settings.axes), settings.sample_rate_hz, settings.window,
                                    settings.sample_scale, settings.bands)

    def feed(self, data: bytes) -> list[tuple[float, ...] | DecodeError]:
        out: list[tuple[float, ...] | DecodeError] = []
        for item in self.frames.feed(data):
            if isinstance(item, Frame):
                try:
                    out.extend(self.window.add(item))
                except DecodeError as exc:
                    out.append(exc)
            else:
                out.append(item)
        return out


class VibrationReader(StreamReader):
    def new_decoder(self) -> VibrationDecoder:
        assert self.config.vibration is not None
        return VibrationDecoder(self.config.vibration)
