"""Vibration: frames (sync, CRC, resync) and features against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.drivers.base import DecodeError
from edge.drivers.features import FeatureWindow, window_features
from edge.drivers.frames import Frame, FrameDecoder, crc16, encode_frame, feature_names

RATE = 500


def sine(amplitude: float, freq: float, n: int = 500, rate: int = RATE) -> np.ndarray:
    t = np.arange(n) / rate
    return np.asarray(amplitude * np.sin(2 * np.pi * freq * t))


def test_crc_is_ccitt_false() -> None:
    assert crc16(b"123456789") == 0x29B1


@pytest.mark.parametrize(("amplitude", "freq"), [(1.0, 25.0), (3.0, 5.0), (0.2, 125.0)])
def test_sine_features_match_hand_computed_values(amplitude: float, freq: float) -> None:
    bands = [(1.0, 20.0), (20.0, 60.0), (60.0, 200.0)]
    rms, peak, crest, low, mid, high = window_features(sine(amplitude, freq)[:, None], RATE, bands)
    # RMS of a sine is A/√2; its crest factor √2; all its power A²/2 falls in the band holding f
    assert rms == pytest.approx(amplitude / math.sqrt(2))
    assert peak == pytest.approx(amplitude)
    assert crest == pytest.approx(math.sqrt(2))
    expected = [amplitude ** 2 / 2 if lo <= freq < hi else 0.0 for lo, hi in bands]
    assert [low, mid, high] == pytest.approx(expected, abs=1e-9)


def test_mean_is_removed_and_a_flat_signal_has_zero_crest() -> None:
    samples = np.column_stack([sine(1.0, 25.0) + 1.0, np.full(500, 1.0)])
    x_rms, _, _, y_rms, y_peak, y_crest = window_features(samples, RATE, [])
    assert x_rms == pytest.approx(1 / math.sqrt(2))
    assert (y_rms, y_peak, y_crest) == (0.0, 0.0, 0.0)


def test_an_impulse_has_a_high_crest_factor() -> None:
    x = np.zeros(500)
    x[100] = 5.0
    _, _, crest = window_features(x[:, None], RATE, [])
    assert crest > 10


def test_frames_round_trip_and_resync_after_garbage_and_bad_crc() -> None:
    rows = [(i, -i, 1000) for i in range(50)]
    good = encode_frame(0, RATE, rows)
    corrupt = bytearray(encode_frame(1, RATE, rows))
    corrupt[20] ^= 0x40
    stream = b"\x00junk\xa5" + good + bytes(corrupt) + encode_frame(2, RATE, rows) + \
        encode_frame(4, RATE, rows)
    decoder = FrameDecoder()
    out = [item for i in range(0, len(stream), 7) for item in decoder.feed(stream[i:i + 7])]
    kinds = [o.reason if isinstance(o, DecodeError) else f"seq{o.seq}" for o in out]
    assert kinds[0] == "sync"
    assert [k for k in kinds if k.startswith("seq")] == ["seq0", "seq2", "seq4"]
    assert "crc" in kinds and "frame_gap" in kinds
    frame = next(o for o in out if isinstance(o, Frame))
    assert (frame.n, frame.axes, frame.rate_hz) == (50, 3, RATE)


def test_a_bad_header_is_refused_and_skipped() -> None:
    frame = bytearray(encode_frame(0, RATE, [(1,)] * 8))
    frame[3] = 9  # nine axes
    out = FrameDecoder().feed(bytes(frame))
    assert isinstance(out[0], DecodeError) and out[0].reason == "bad_header"


@given(st.binary(max_size=3000))
def test_random_bytes_never_crash_the_frame_decoder(data: bytes) -> None:
    decoder = FrameDecoder()
    for item in decoder.feed(data) + decoder.feed(encode_frame(9, RATE, [(1, 2)] * 4)):
        assert isinstance(item, Frame | DecodeError)


def test_window_collects_frames_and_checks_rate_and_axes() -> None:
    window = FeatureWindow(axes=1, rate_hz=RATE, window=100, scale=0.001, bands=[(10, 50)])
    counts = [(round(2000 * math.sin(2 * math.pi * 25 * i / RATE)),) for i in range(150)]
    first = window.add(Frame(0, RATE, 1, encode_frame(0, RATE, counts[:60])[12:-2]))
    second = window.add(Frame(1, RATE, 1, encode_frame(1, RATE, counts[60:])[12:-2]))
    assert first == [] and len(second) == 1
    assert second[0][0] == pytest.approx(2 / math.sqrt(2), rel=1e-3)
    with pytest.raises(DecodeError, match=r"frame says 400 Hz, configured 500 Hz"):
        window.add(Frame(2, 400, 1, b"\x00\x00"))
    with pytest.raises(DecodeError, match=r"frame has 2 axes, configured 1"):
        window.add(Frame(2, RATE, 2, b"\x00\x00\x00\x00"))


def test_feature_channel_names() -> None:
    assert feature_names(["x", "z"], [(10, 50), (2.5, 5)]) == (
        "x_rms", "x_peak", "x_crest", "x_band_10_50", "x_band_2.5_5",
        "z_rms", "z_peak", "z_crest", "z_band_10_50", "z_band_2.5_5")
