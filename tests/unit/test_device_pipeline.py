"""The device pipeline: every channel of a multi-column sensor plus the multichannel detector."""

from __future__ import annotations

import dataclasses
import json
import math
import random
import subprocess
import sys
from pathlib import Path

from edge import checkpoint
from edge.config import ChannelConfig, DetectionConfig, SensorConfig
from edge.detectors import make_vector_detector
from edge.device_pipeline import DevicePipeline
from edge.pipeline import AlertDraft

NORMAL = 3000  # readings at 1 Hz before the break
BROKEN = 120


def sensor(columns: int = 4, high_d: float | None = None) -> SensorConfig:
    names = ["a", "b", "c", "d", "e"][:columns]
    channels = tuple(ChannelConfig(name=n, high=high_d if n == "d" else None) for n in names)
    return SensorConfig(id="skid-1", kind="water.pump", driver="lines", port="/dev/null",
                        baudrate=9600, channels=channels, detection=DetectionConfig())


def vectors(seed: int = 5) -> list[list[float]]:
    """a = load, b = 2 load + 5, c = 100 - load, d independent; load swings over ~2 minutes.
    From NORMAL on, for BROKEN readings, b leaves its line by 3 (inside its own range), then
    everything is normal again for 600 readings."""
    rng = random.Random(seed)
    out = []
    for i in range(NORMAL + BROKEN + 600):
        load = 10.0 + 4.0 * math.sin(i / 20.0) + rng.gauss(0.0, 0.2)
        broken = NORMAL <= i < NORMAL + BROKEN
        b = 2.0 * load + 5.0
        if broken:  # 3 off the line, never crossing it, inside b's range: down when high, up when low
            b += -3.0 if load > 9.0 else 3.0
        out.append([load + rng.gauss(0, 0.05), b + rng.gauss(0, 0.05), 100.0 - load + rng.gauss(0, 0.05),
                    20.0 + rng.gauss(0.0, 1.0)])
    return out


def device(config: SensorConfig | None = None) -> DevicePipeline:
    return DevicePipeline(config or sensor(),
                          multichannel=make_vector_detector("pca_t2q", {"warmup_s": 600.0}))


def run(dev: DevicePipeline, rows: list[list[float]], start: int = 0) -> list[tuple[int, AlertDraft]]:
    out = []
    for i, row in enumerate(rows, start):
        out += [(i, d) for d in dev.process(1_700_000_000.0 + i, row)]
    return out


def multichannel(drafts: list[tuple[int, AlertDraft]]) -> list[tuple[int, AlertDraft]]:
    return [(i, d) for i, d in drafts if d.message.startswith("multichannel")]


def test_a_broken_relationship_alarms_while_every_channel_is_in_range() -> None:
    # Given a skid whose channel b leaves its line by 3, inside the range it always covered
    rows = vectors()
    for j in range(4):
        low, high = min(r[j] for r in rows[:NORMAL]), max(r[j] for r in rows[:NORMAL])
        assert all(low <= r[j] <= high for r in rows[NORMAL:NORMAL + BROKEN])
    dev = device()
    # When the device pipeline runs over it
    alerts = multichannel(run(dev, rows))
    # Then the multichannel alarm starts within seconds of the break, not before
    onsets = [(i, d) for i, d in alerts if not d.cleared]
    assert onsets and NORMAL <= onsets[0][0] <= NORMAL + 10
    # on channel b, naming it first, with b's recent values as context
    first = onsets[0][1]
    assert first.channel == "b" and first.reason == "anomaly" and first.score >= 0.9
    assert "channels off their joint pattern: b " in first.message
    assert first.context[-1] == round(rows[onsets[0][0]][1], 6)
    # repeats while it lasts, and clears on the same channel once the channels agree again
    assert len(onsets) >= BROKEN // 15 - 1
    cleared = [(i, d) for i, d in alerts if d.cleared]
    assert len(cleared) == 1 and cleared[0][0] >= NORMAL + BROKEN and cleared[0][1].channel == "b"


def test_the_hazard_is_not_learned_and_alarms_again() -> None:
    # Given a break that lasts 20 minutes
    rows = vectors()
    long_break = rows[:NORMAL] + [rows[NORMAL + (i % BROKEN)] for i in range(1200)]
    dev = device()
    run(dev, long_break[:NORMAL])
    learned = dev.multichannel.state()
    # When it goes on, Then the multichannel alarm stays up to the end and nothing of it is learned
    run(dev, long_break[NORMAL:], start=NORMAL)
    assert dev.multichannel_active
    after = dev.multichannel.state()
    assert after["mean"] == learned["mean"] and after["n"] == learned["n"]
    assert after["pending"] == learned["pending"]


def test_nothing_is_learned_while_a_channel_alarm_is_active() -> None:
    # Given a warm device whose channel d has a high limit of 25
    dev = device(sensor(high_d=25.0))
    run(dev, vectors()[:NORMAL])
    before = dev.multichannel.state()
    # When d breaches its limit (its own alarm) while the others are normal
    row = vectors()[NORMAL - 1]
    for i in range(100):
        dev.process(1_700_000_000.0 + NORMAL + i, [*row[:3], 30.0])
    # Then the multichannel detector learned none of those vectors
    assert dev.channels[3].decider.active
    assert dev.multichannel.state() == before


def test_on_by_default_from_three_channels() -> None:
    assert DevicePipeline(sensor(3)).multichannel is not None
    assert DevicePipeline(sensor(2)).multichannel is None


def test_the_checkpoint_holds_the_multichannel_detector(tmp_path: Path) -> None:
    # Given a warm device checkpointed as the agent does
    dev = device()
    run(dev, vectors()[:NORMAL])
    detectors = dev.detectors()
    assert "skid-1/*" in detectors
    path = tmp_path / "detectors.json"
    checkpoint.save(path, detectors)
    assert json.loads(path.read_text())["skid-1/*"]["name"] == "pca_t2q"
    # When a fresh device restores it, Then it alarms on the break at once, as the original would
    fresh = device()
    assert checkpoint.restore(path, fresh.detectors()) == len(detectors)
    alerts = multichannel(run(fresh, vectors()[NORMAL:NORMAL + BROKEN], start=NORMAL))
    assert alerts and alerts[0][0] <= NORMAL + 10


def test_numpy_is_not_imported_unless_multichannel_runs() -> None:
    code = ("import sys, edge.agent, edge.cli, edge.replay, edge.device_pipeline; "
            "print('numpy' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                            check=True)
    assert result.stdout.strip() == "False"


def test_a_checkpoint_of_other_columns_is_dropped_not_fatal() -> None:
    # Given a multichannel model learned over four channels
    four = make_vector_detector("pca_t2q", {"warmup_s": 600.0})
    for i, row in enumerate(vectors()[:NORMAL]):
        four.learn(row, 1_700_000_000.0 + i)
    # When the sensor now has three columns (restored from that checkpoint at start)
    three = make_vector_detector("pca_t2q", {"warmup_s": 600.0})
    three.restore(json.loads(json.dumps(four.state())))
    # Then it scores 0 rather than failing, and learns the three columns afresh
    assert three.score([1.0, 2.0, 3.0], 1_700_010_000.0) == 0.0
    three.learn([1.0, 2.0, 3.0], 1_700_010_000.0)
    assert three.state()["n"] == 0 and three.state()["pending"] == [[1.0, 2.0, 3.0]]


def test_multichannel_none_turns_it_off() -> None:
    # [sensors.detection] multichannel = "none" (the key is edge/config.py's; set here on the
    # frozen settings directly, so this test does not depend on how the config file is read)
    config = sensor(4)
    detection = DetectionConfig()
    object.__setattr__(detection, "multichannel", "none")
    off = dataclasses.replace(config, detection=detection)
    assert DevicePipeline(off).multichannel is None
    assert DevicePipeline(config).multichannel is not None


def test_relearn_starts_the_multichannel_model_afresh_and_clears_its_alarm() -> None:
    # Given a device in multichannel alarm
    dev = device()
    run(dev, vectors()[:NORMAL + 30])
    assert dev.multichannel_active
    # When a technician relearns the sensor
    draft = dev.relearn_multichannel(1_700_000_000.0 + NORMAL + 30)
    # Then the alarm ends with a cleared alert on its channel and the model knows nothing
    assert draft is not None and draft.cleared and draft.channel == "b"
    assert not dev.multichannel_active and dev.multichannel.state()["n"] == 0
    assert dev.multichannel.params() == make_vector_detector("pca_t2q", {"warmup_s": 600.0}).params()
