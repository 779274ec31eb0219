"""The lines and vibration drivers over real pseudo-terminals: a writer of real lines and frames.

Each driver meets garbled bytes, a silent device (a silent fault that clears when
it talks again) and a vanished port that comes back under the same name (a
symlink, like udev's /dev/lifeline/<name>: a port fault that clears on reopening).
"""

from __future__ import annotations

import math
import os
import random
import threading
from pathlib import Path
from typing import Any

import pytest

from edge.config import SensorConfig, load_edge_config
from edge.drivers.frames import encode_frame
from edge.lines import nmea_checksum
from tests.integration.drivers_rig import Rig
from tests.support.edgetoml import write_edge_toml
from tests.support.pty import PtySensor

pytestmark = pytest.mark.integration


def config(tmp_path: Path, **sensor: Any) -> SensorConfig:
    return load_edge_config(write_edge_toml(tmp_path / "edge.toml", sensors=[sensor])).sensors[0]


def tilt_line(n: int) -> bytes:
    payload = f"x={0.1 + n * 0.001:.3f} y=-0.050"
    return f"${payload}*{nmea_checksum(payload.encode())}\r\n".encode()


def test_checksummed_key_value_lines_garbage_silence_and_a_port_that_comes_back(
        tmp_path: Path) -> None:
    link = tmp_path / "rs485-tilt"
    quiet = threading.Event()
    with PtySensor() as first:
        os.symlink(first.path, link)
        rig = Rig(config(tmp_path, id="tilt", profile="tilt-lines", port=link, silence_s=1.0))
        try:
            # Given a tilt sensor sending key=value lines with NMEA checksums
            first.stream(lambda n: b"" if quiet.is_set() else tilt_line(n) if n % 4 else
                         b"$x=0.999 y=-0.050*41\r\n" if n % 8 else b"\x00\xff#!garbage\n", 50)
            rig.until("readings and errors", lambda: len(rig.readings()) >= 10
                      and {"checksum", "not_ascii"} <= set(rig.reasons()))
            # Then good lines are decoded in key order and corrupted ones are refused
            assert all(v[1] == -0.05 and 0.1 <= v[0] < 0.2 for v in rig.readings())
            assert 0.999 not in {v[0] for v in rig.readings()}
            # When the device goes silent, its port still open
            mark = len(rig.faults)
            quiet.set()
            # Then a silent fault is raised (silence_s = 1 s), not a port fault
            rig.until("silent fault", lambda: ("silent", True) in rig.faults[mark:])
            assert ("port", True) not in rig.faults
            # When it talks again, Then readings resume and the silent fault clears
            count = len(rig.readings())
            quiet.clear()
            rig.until("silent fault cleared", lambda: ("silent", False) in rig.faults[mark:]
                      and len(rig.readings()) > count)
        finally:
            # When the port vanishes: udev removes its link, the pty closes (a link left
            # dangling could meet a new pty of another process under the same number)
            os.unlink(link)
            first.close()
        try:
            rig.until("port fault", lambda: ("port", True) in rig.faults)
            with PtySensor() as second:
                # When a device appears again under the same name
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


def test_vibration_frames_corrupt_frames_silence_and_a_vanished_port(tmp_path: Path) -> None:
    rng = random.Random(3)
    link = tmp_path / "rs485-accel"  # like udev's /dev/lifeline/<name>
    sensor = config(tmp_path, id="deck-accel", profile="accelerometer-triaxial", port=link,
                    window_s=0.4, silence_s=1.0)

    steady = frames(500, 50, 2000, 25.0, rng, seq0=10, count=200)  # the sine goes on

    def frame_at(n: int) -> bytes:  # written 10 frames a second: in real time
        return steady[n % len(steady)]

    with PtySensor() as first:
        os.symlink(first.path, link)
        rig = Rig(sensor)
        try:
            rig.until("port open", lambda: any(e.kind == "port_ok" for e in rig.seen))
            # Given 1 s of a 25 Hz sine of 2 g on x (2000 counts at 1 mg), gravity on y
            good = frames(500, 50, 2000, 25.0, rng)
            # And a frame with a flipped bit, and line noise between frames
            bad = bytearray(good[7])
            bad[40] ^= 0x01
            for index, frame in enumerate(good):
                first.write(bytes(bad) if index == 7 else frame)
                if index == 8:
                    first.write(b"\x13\x37noise")
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
            # When the device goes silent, Then a silent fault is raised, not a port fault
            rig.until("silent fault", lambda: ("silent", True) in rig.faults)
            assert ("port", True) not in rig.faults
            # When frames come again, Then windows resume and the silent fault clears
            mark, count = len(rig.faults), len(rig.readings())
            first.stream(frame_at, 10)
            rig.until("silent fault cleared", lambda: ("silent", False) in rig.faults[mark:]
                      and len(rig.readings()) > count)
        finally:
            os.unlink(link)  # the port vanishes: udev removes its link, the pty closes
            first.close()
        try:
            # Then the driver reports a port fault and keeps retrying with backoff
            rig.until("port fault", lambda: ("port", True) in rig.faults)
            assert rig.reader.is_alive()
            with PtySensor() as second:
                # When an accelerometer appears again under the same name
                os.symlink(second.path, link)
                second.stream(frame_at, 10)
                # Then the port reopens, windows of features resume and the fault clears
                count = len(rig.readings())
                rig.until("port fault cleared", lambda: ("port", False) in rig.faults
                          and len(rig.readings()) > count + 2, timeout=10)
            assert rig.readings()[-1][names.index("x_peak")] == pytest.approx(2.0, rel=0.01)
        finally:
            rig.close()
    assert sum(1 for e in rig.seen if e.kind == "port_ok") >= 2
