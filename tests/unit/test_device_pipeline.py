"""The device pipeline: every channel of a multi-column sensor plus the multichannel detector."""

from __future__ import annotations

import dataclasses
import json
import math
import random
import subprocess
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import pytest

from edge import checkpoint
from edge.config import ChannelConfig, DetectionConfig, SensorConfig
from edge.detectors import make_vector_detector
from edge.detectors.multichannel import PcaT2Q
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
    # (with how long each gauge may sit still: a stuck gauge after a restart alarms as before)
    assert fresh.multichannel.longest_runs() == dev.multichannel.longest_runs() != []
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


def shifted(rows: list[list[float]], shift: float) -> list[list[float]]:
    """The machine at a new operating point: the load ``shift`` higher, every channel following it
    as it always did (a = load, b = 2 load + 5, c = 100 - load), d untouched."""
    return [[r[0] + shift, r[1] + 2.0 * shift, r[2] - shift, r[3]] for r in rows]


def channel_anomalies(drafts: list[tuple[int, AlertDraft]]) -> list[tuple[int, AlertDraft]]:
    return [(i, d) for i, d in drafts if d.reason == "anomaly" and not d.cleared
            and not d.message.startswith("multichannel")]


def test_a_new_operating_point_the_machine_is_consistent_with_is_learned_not_alarmed() -> None:
    # Given a warm device, and the load then running 1.0 higher than ever (a, b and c a little
    # beyond their learned ranges, scoring 0.9 to 0.999 on their own), the channels moving
    # together as they always did
    rows = vectors()
    dev = device()
    run(dev, rows[:NORMAL])
    before = dev.channels[0].detector.state()
    # When it runs at that operating point for 10 minutes
    drafts, peak = [], 0.0
    for i, row in enumerate(shifted(rows[NORMAL - 600:NORMAL], 1.0), NORMAL):
        drafts += [(i, d) for d in dev.process(1_700_000_000.0 + i, row)]
        peak = max(peak, *(p.last_score for p in dev.channels[:3]))
    # Then the channels' own detectors saw it as new (each alone would have alarmed) ...
    assert peak >= 0.9
    # ... but no alarm was raised: the machine is consistent, it is a new regime, and it is learned
    assert channel_anomalies(drafts) == [] and multichannel(drafts) == []
    assert dev.channels[0].detector.state() != before
    assert not dev.alarm


def test_a_channel_off_its_joint_pattern_and_out_of_its_range_alarms_on_its_own_channel() -> None:
    # Given a warm device, then b leaving its line by 12 (beyond its range) while a, c and d agree
    rows = vectors()
    dev = device()
    run(dev, rows[:NORMAL])
    broken = [[r[0], r[1] + 12.0, r[2], r[3]] for r in rows[NORMAL:NORMAL + BROKEN]]
    # When it runs so for two minutes
    drafts = run(dev, broken, start=NORMAL)
    # Then b's own anomaly alarm is raised (confirmed by the machine), within seconds
    onsets = channel_anomalies(drafts)
    assert onsets and onsets[0][1].channel == "b" and onsets[0][0] <= NORMAL + 10


def test_while_the_machine_is_commissioned_only_limits_alarm_and_every_channel_learns() -> None:
    # Given a device whose multichannel detector is still in its warm-up (it wants a day), and
    # channel d with a high limit of 70
    rows = vectors()
    dev = DevicePipeline(sensor(high_d=70.0), multichannel=make_vector_detector("pca_t2q", {}))
    run(dev, rows[:NORMAL])
    assert not dev.multichannel.warm
    # When the load runs 1.0 higher than ever and d jumps far beyond anything it saw (inside
    # its limit)
    before = dev.channels[3].detector.state()
    drafts = run(dev, [[*r[:3], 60.0] for r in shifted(rows[NORMAL - 300:NORMAL], 1.0)], start=NORMAL)
    # Then no anomaly alarm: the device is still learning its normal, and learns this too
    assert channel_anomalies(drafts) == [] and not dev.alarm
    assert dev.channels[3].detector.state() != before
    # But a limit breach alarms at once, as always
    drafts = run(dev, [[*rows[NORMAL][:3], 75.0]], start=NORMAL + 300)
    assert [d.reason for _, d in drafts] == ["limit"]


def test_limits_alarm_whatever_the_machine_says() -> None:
    # Given a warm device whose channel d has a high limit of 25, Then d over it alarms at once,
    # whether or not the multichannel detector finds the vector consistent
    dev = device(sensor(high_d=25.0))
    run(dev, vectors()[:NORMAL])
    row = vectors()[NORMAL - 1]
    drafts = run(dev, [[*row[:3], 25.5]], start=NORMAL)
    assert [d.reason for _, d in drafts] == ["limit"]


def test_a_stuck_gauge_alarms_every_time_it_sticks() -> None:
    # Given a warm device whose channel d reads in whole units (so it often repeats a value in
    # normal running) and is independent of the others (the multichannel model cannot tell a
    # stuck d from a quiet one)
    rows = [[*r[:3], float(round(r[3]))] for r in vectors()]
    dev = device()
    normal = run(dev, rows[:NORMAL])
    assert channel_anomalies(normal) == []
    longest = dev.multichannel.longest_runs()[3]
    assert 2 <= longest < 30
    stuck_at = rows[NORMAL - 1][3]
    later = rows[NORMAL - 600:NORMAL]
    for start in (NORMAL, NORMAL + 1000):
        # When d holds its last value for two minutes while a, b and c go on as usual
        held = [[*r[:3], stuck_at] for r in later[:120]]
        drafts = run(dev, held, start=start)
        # Then d alarms once its run passes twice the longest learned (and 30 readings), saying why
        onsets = channel_anomalies(drafts)
        assert onsets and onsets[0][1].channel == "d"
        assert start + 20 <= onsets[0][0] <= start + max(30, 2 * longest) + 3
        assert "stuck gauge" in onsets[0][1].message
        # and clears once d moves again; the stuck run is not learned as normal
        drafts = run(dev, later[120:], start=start + 120)
        assert [d for _, d in drafts if d.cleared and d.channel == "d"]
        assert dev.multichannel.longest_runs()[3] == longest
        stuck_at = later[-1][3]


def test_a_channel_that_never_moved_in_normal_running_is_not_stuck() -> None:
    # Given a warm device whose channel d (a pump's status) never changed while it learned
    rows = [[*r[:3], 1.0] for r in vectors()]
    dev = device()
    run(dev, rows[:NORMAL])
    # When it keeps not changing, Then it never alarms as a stuck gauge
    assert channel_anomalies(run(dev, rows[NORMAL:NORMAL + 300], start=NORMAL)) == []


def test_a_status_channel_that_holds_its_value_for_a_while_is_not_a_stuck_gauge() -> None:
    # Given a warm device whose channel d is a pump's status: 0 or 1, switching every 20 readings
    rows = [[*r[:3], float((i // 20) % 2)] for i, r in enumerate(vectors())]
    dev = device()
    run(dev, rows[:NORMAL])
    assert dev.multichannel.longest_runs()[3] == 20
    # When it stays on for 100 readings (five times its usual), Then it is no stuck gauge
    held = [[*r[:3], 1.0] for r in rows[NORMAL:NORMAL + 100]]
    assert channel_anomalies(run(dev, held, start=NORMAL)) == []


def test_contributions_are_computed_once_per_vector_during_an_alarm() -> None:
    # Given a device whose multichannel detector records every vector it is asked to blame
    class Counting(PcaT2Q):
        asked: ClassVar[list[tuple[float, ...]]] = []

        def contributions(self, x: Sequence[float]) -> list[float]:
            Counting.asked.append(tuple(x))
            return super().contributions(x)

    dev = DevicePipeline(sensor(), multichannel=Counting(warmup_s=600.0))
    rows = vectors()
    run(dev, rows[:NORMAL])
    # When b leaves its line by 12 (beyond its own range too) for two minutes: the multichannel
    # alarm's onset and repeats, and b's own score arbitrated on every vector
    Counting.asked.clear()
    broken = [[r[0], r[1] + 12.0, r[2], r[3]] for r in rows[NORMAL:NORMAL + BROKEN]]
    drafts = run(dev, broken, start=NORMAL)
    # Then both alarms ran their course and no vector's contributions were computed twice
    # (arbitration, the alarm's owner and its message use them: three times at the onset before)
    assert len([d for _, d in multichannel(drafts) if not d.cleared]) >= 3
    assert channel_anomalies(drafts)
    assert Counting.asked and max(Counter(Counting.asked).values()) == 1


@pytest.mark.parametrize("params", [
    pytest.param({}, marks=pytest.mark.xfail(strict=True, reason=(
        "known defect (issue 12, open): with the shipped settings the multichannel model learns a "
        "drifting gauge's vectors while they score below the threshold, and its limit moves ahead "
        "of the drift. The slow residual (slow = 120, next case) sees it, but is not on by default: "
        "on the equipment benchmark it changed nothing (the simulated pump's normal residual is "
        "heavy-tailed, so its fitted limit sits above Q's) and it costs ~70 % more CPU per vector; "
        "holding back vectors that score >= clear_threshold (commit 5ddb650, reverted) or whose Q "
        "is >= half its limit made operating points the first day did not cover alarm (tuning "
        "valve_closure seed 2: product F1 0.98 -> 0.75 and 0.88)"))),
    pytest.param({"slow": 120}, id="slow-residual"),
])
def test_a_slow_drift_off_the_joint_pattern_is_never_learned_and_alarms_every_time(
        params: dict[str, Any]) -> None:
    # Given a warm device, and gauge b drifting off its line by 6 over half an hour (inside its
    # own range: only the machine's model can see it), then reading true again for 15 minutes
    rows = vectors()
    dev = DevicePipeline(sensor(), multichannel=make_vector_detector(
        "pca_t2q", {"warmup_s": 600.0, **params}))
    run(dev, rows[:NORMAL])
    normal = rows[NORMAL - 1200:NORMAL]
    ramp = 1800
    start = NORMAL
    for occurrence in range(3):
        drift = [[r[0], r[1] + 6.0 * min(1.0, k / ramp), r[2], r[3]]
                 for k, r in enumerate((normal * 2)[:ramp + 300])]
        # When it drifts so (three times)
        drafts = run(dev, drift, start=start)
        # Then the multichannel alarm starts each time, well before the end of the ramp (shipped
        # settings: no alarm the first time, peak score 0.93; scores of 0.01 the next times: the
        # model had learned the drift while it scored below the threshold)
        onsets = [i - start for i, d in multichannel(drafts) if not d.cleared]
        assert onsets and onsets[0] < ramp // 2, f"occurrence {occurrence}: onsets {onsets[:3]}"
        # and clears once the gauge reads true again
        start += len(drift)
        cleared = multichannel(run(dev, normal[:900], start=start))
        assert [d for _, d in cleared if d.cleared] and not dev.alarm
        start += 900
