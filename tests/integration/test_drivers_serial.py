"""The lines and vibration drivers over real pseudo-terminals: a writer of real lines and frames.

Includes garbled bytes, a vanished port that comes back under the same name
(a symlink, like udev's /dev/lifeline/<name>), and a silent device.
"""

from __future__ import annotations

import math
import os
import random
from pathlib import Path

import pytest

from edge.config import SensorConfig, load_edge_config
from edge.drivers.frames import encode_frame
from edge.lines import nmea_checksum
from tests.integration.drivers_rig import Rig
from tests.support.pty import PtySensor

pytestmark = pytest.mark.integration


def config(tmp_path: Path, sensor: str) -> SensorConfig:
    path = tmp_path / "edge.toml"
    path.write_text(f'[device]\nid = "e"\nzone = "z"\n[mqtt]\n[[sensors]]\n{sensor}\n')
    return load_edge_config(path).sensors[0]


def tilt_line(n: int) -> bytes:
    payload = f"x={0.1 + n * 0.001:.3f} y=-0.050"
    return f"${payload}*{nmea_checksum(payload.encode())}\r\n".encode()


def test_checksummed_key_value_lines_garbage_and_a_port_that_comes_back(tmp_path: Path) -> None:
    link = tmp_path / "rs485-tilt"
    with PtySensor() as first:
        os.symlink(first.path, link)
        rig = Rig(config(tmp_path, f'id = "tilt"\nprofile = "tilt-lines"\nport = "{link}"\n'
                                   "silence_s = 1.0"))
        try:
            # Given a tilt sensor sending key=value lines with NMEA checksums
            first.stream(lambda n: tilt_line(n) if n % 4 else
                         b"$x=0.999 y=-0.050*41\r\n" if n % 8 else b"\x00\xff#!garbage\n", 50)
            rig.until("readings and errors", lambda: len(rig.readings()) >= 10
                      and {"checksum", "not_ascii"} <= set(rig.reasons()))
            # Then good lines are decoded in key order and corrupted ones are refused
            assert all(v[1] == -0.05 and 0.1 <= v[0] < 0.2 for v in rig.readings())
            assert 0.999 not in {v[0] for v in rig.readings()}
        finally:
            first.close()
        # When the port vanishes (the pty closes)
        rig.until("port fault", lambda: ("port", True) in rig.faults)
        try:
            with PtySensor() as second:
                # When a device appears again under the same name
                os.unlink(link)
                os.symlink(second.path, link)
                second.stream(tilt_line, 50)
                # Then the driver reopens it with backoff, readings resume, the fault clears
                count = len(rig.readings())
                rig.until("port fault cleared", lambda: ("port", False) in rig.faults
                          and len(rig.readings()) > count + 5, timeout=10)
        finally:
            rig.close()


def frames(rate: int, n: int, amplitude_counts: int, freq: float, rng: random.Random,
           seq0: int = 0, count: int = 10) -> list[bytes]:
    out = []
    for f in range(count):
        rows = []
        for i in range(n):
            t = (f * n + i) / rate
            x = amplitude_counts * math.sin(2 * math.pi * freq * t)
            rows.append((round(x), round(1000 + rng.gauss(0, 2)), 0))
        out.append(encode_frame(seq0 + f, rate, rows))
    return out


def test_vibration_frames_become_features_and_corrupt_frames_are_counted(tmp_path: Path) -> None:
    rng = random.Random(3)
    sensor = config(tmp_path, 'id = "deck-accel"\nprofile = "accelerometer-triaxial"\n'
                              'port = "PORT"\nwindow_s = 0.4\nsilence_s = 1.0')
    with PtySensor() as pty:
        sensor = sensor.__class__(**{**sensor.__dict__, "port": pty.path})
        rig = Rig(sensor)
        try:
            rig.until("port open", lambda: any(e.kind == "port_ok" for e in rig.seen))
            # Given 1 s of a 25 Hz sine of 2 g on x (2000 counts at 1 mg), gravity on y
            good = frames(500, 50, 2000, 25.0, rng)
            # And a frame with a flipped bit, and line noise between frames
            bad = bytearray(good[7])
            bad[40] ^= 0x01
            for index, frame in enumerate(good):
                pty.write(bytes(bad) if index == 7 else frame)
                if index == 8:
                    pty.write(b"\x13\x37noise")
            # Then a window of 200 samples (frames 0-3, ten whole periods) becomes features
            rig.until("two windows", lambda: len(rig.readings()) >= 1 and
                      {"crc", "sync", "frame_gap"} <= set(rig.reasons()))
            names = sensor.columns
            features = dict(zip(names, rig.readings()[0], strict=True))
            assert features["x_rms"] == pytest.approx(2 / math.sqrt(2), rel=0.01)
            assert features["x_peak"] == pytest.approx(2.0, rel=0.01)
            assert features["x_crest"] == pytest.approx(math.sqrt(2), rel=0.02)
            assert features["x_band_10_50"] == pytest.approx(2.0, rel=0.02)   # A²/2 in g²
            assert features["x_band_1_10"] < 0.01 and features["x_band_50_150"] < 0.01
            assert features["y_rms"] < 0.01  # gravity (the mean) is not vibration
            # When the device goes silent, Then a silent fault is raised
            rig.until("silent fault", lambda: ("silent", True) in rig.faults)
        finally:
            rig.close()
