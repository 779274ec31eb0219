"""The ``vibration`` driver: binary accelerometer frames in, features per window out.

The thread reads whatever bytes the port has, the pure FrameDecoder
(edge/drivers/frames.py) cuts them into checked frames, and FeatureWindow
(edge/drivers/features.py, numpy) reduces each full window to RMS, peak, crest
factor and band energies per axis: those features, not raw samples, are the
sensor's channels. numpy is imported only when a vibration sensor is configured.
"""

from __future__ import annotations

import queue
import threading
import time

import serial

from edge.config import SensorConfig, VibrationConfig
from edge.drivers.base import DecodeError, ReaderThread, SensorEvent
from edge.drivers.features import FeatureWindow
from edge.drivers.frames import Frame, FrameDecoder
from edge.serial_io import open_serial


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


class VibrationReader(ReaderThread):
    def __init__(self, sensor: SensorConfig, out: queue.Queue[SensorEvent],
                 stop: threading.Event) -> None:
        super().__init__(sensor.id, sensor.port, out, stop)
        assert sensor.vibration is not None
        self.config = sensor
        self.settings = sensor.vibration

    def session(self) -> None:
        c = self.config
        decoder = VibrationDecoder(self.settings)  # a reopened port starts a fresh stream
        with open_serial(c.port, c.baudrate, parity=c.parity, stopbits=c.stopbits,
                         bytesize=c.bytesize, timeout=0.2) as port:
            self.opened()
            self._read(port, decoder)

    def _read(self, port: serial.Serial, decoder: VibrationDecoder) -> None:
        while not self.stop.is_set():
            self.beat()
            data = port.read(max(1, min(port.in_waiting, 65536)))
            if not data:
                continue
            ts = time.time()
            for item in decoder.feed(data):
                if isinstance(item, DecodeError):
                    self.bad(item, ts)
                else:
                    self.reading(item, ts)
