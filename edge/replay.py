"""``lifeline-edge replay``: run a detector over a recorded CSV, as the agent would, and show the alerts.

Technicians tune a site from recorded data with it, and benchmarks run through it::

    lifeline-edge replay pressure.csv --column value --scores scores.csv
    lifeline-edge replay pressure.csv --config edge.toml --sensor main-1 --column pressure

Every row gets a line ``timestamp,value,anomaly_score,alarm`` in ``--scores``: ``alarm`` is 1
while an alert state of the channel is active (from its onset to its cleared alert), else 0.
Every alert the agent's pipeline (``edge/pipeline.py``: score, decide, learn only what is
normal; ``edge/decide.py``: threshold with hysteresis, minimum run, cool-down, physical limits,
cleared alerts) would raise is printed to stdout as one JSON object per line. Values are
taken as calibrated readings (recorded data is), so ``scale``/``offset`` are not applied.
Timestamps may be epoch seconds or ISO 8601 (without an offset they are taken as UTC).

Exit codes: 0 ok, 1 the CSV could not be read, 2 usage or configuration error.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import logging
import math
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from edge.config import ChannelConfig, DetectionConfig, SensorConfig, load_edge_config
from edge.detectors import DEFAULT_DETECTOR, REGISTRY, Detector, make_detector
from edge.pipeline import ChannelPipeline
from lifeline.errors import EdgeError

log = logging.getLogger(__name__)


class ReplayError(EdgeError):
    """A problem with the input or the options; ``code`` is the exit code to return."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, metavar="FILE.csv", help="CSV with a 'timestamp' column")
    parser.add_argument("--column", default="value", help="column to replay (default: value)")
    parser.add_argument("--detector", default=None, choices=sorted(REGISTRY),
                        help=f"detector to run (default: the configured one, else {DEFAULT_DETECTOR})")
    parser.add_argument("--config", type=Path, default=None,
                        help="edge.toml: use the sensor's detection settings and channel limits")
    parser.add_argument("--sensor", default=None,
                        help="sensor id in --config (default: the only sensor with --column)")
    parser.add_argument("--scores", type=Path, required=True, metavar="OUT.csv",
                        help="write timestamp,value,anomaly_score,alarm for every row here")
    from edge import replay_device  # a whole device: --all-columns / --columns (edge/replay_device.py)

    replay_device.add_arguments(parser)


def parse_time(text: str) -> float:
    """Epoch seconds, or ISO 8601 (UTC when it carries no offset)."""
    try:
        return float(text)
    except ValueError:
        pass
    moment = datetime.fromisoformat(text.strip())
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def settings(args: argparse.Namespace) -> tuple[str, DetectionConfig, ChannelConfig]:
    """Detector name, detection settings and channel limits from the options and ``--config``."""
    channel = ChannelConfig(name=args.column)
    detection = DetectionConfig()
    if args.config is not None:
        config = load_edge_config(args.config)  # ConfigError: the CLI prints it and exits 2
        candidates = [s for s in config.sensors
                      if (args.sensor is None or s.id == args.sensor) and args.column in s.columns]
        if len(candidates) != 1:
            which = f"sensor {args.sensor!r}" if args.sensor else "exactly one sensor"
            raise ReplayError(f"{args.config}: {which} with column {args.column!r} is needed, "
                              f"found {len(candidates)}; pass --sensor and --column", 2)
        sensor = candidates[0]
        detection = sensor.detection
        channel = next(c for c in sensor.channels if c.name == args.column)
    configured = DEFAULT_DETECTOR if detection.detector == "default" else detection.detector
    name = args.detector or configured
    if name != configured:  # the configured params belong to the configured detector
        detection = dataclasses.replace(detection, detector=name, params={})
    if name not in REGISTRY:
        raise ReplayError(f"unknown detector {name!r}; known: {', '.join(sorted(REGISTRY))}", 2)
    return name, detection, channel


def read_rows(handle: TextIO, column: str, source: Path) -> Iterator[tuple[str, float, float]]:
    """Yield ``(timestamp text, epoch seconds, value)``; rows with an empty value are skipped."""
    reader = csv.DictReader(handle)
    fields = reader.fieldnames or []
    for needed in ("timestamp", column):
        if needed not in fields:
            raise ReplayError(f"{source}: no column {needed!r} (columns: {', '.join(fields)})", 2)
    for line, row in enumerate(reader, start=2):
        text = row[column]
        if text is None or not text.strip():
            continue
        try:
            yield row["timestamp"], parse_time(row["timestamp"]), float(text)
        except ValueError as exc:
            raise ReplayError(f"{source}:{line}: {exc}", 1) from exc


def replay_pipeline(detection: DetectionConfig, channel: ChannelConfig, detector: Detector,
                    sensor_id: str = "replay", kind: str = "water.replay") -> ChannelPipeline:
    """The agent's pipeline of one channel, for calibrated recorded values."""
    channel = dataclasses.replace(channel, scale=1.0, offset=0.0)
    sensor = SensorConfig(id=sensor_id, kind=kind, driver="lines", port="-", baudrate=9600,
                          channels=(channel,), detection=detection)
    return ChannelPipeline(sensor, channel, detector)


def replay(rows: Iterator[tuple[str, float, float]], pipeline: ChannelPipeline,
           scores_out: TextIO, alerts_out: TextIO) -> int:
    """Run every row through the pipeline, write scores and alarm state, print the alerts;
    return the alert count."""
    writer = csv.writer(scores_out, lineterminator="\n")
    writer.writerow(["timestamp", "value", "anomaly_score", "alarm"])
    alerts = 0
    for stamp, ts, value in rows:
        if not math.isfinite(value):
            raise ReplayError(f"non-finite value {value!r} at {stamp}", 1)
        draft = pipeline.process_value(ts, value)
        score = pipeline.last_score
        writer.writerow([stamp, repr(value), f"{score:.6f}", int(pipeline.alarming)])
        if draft is not None:
            alerts += 1
            alert = {"timestamp": stamp, "ts": ts, "value": value, "score": round(score, 6),
                     "reason": str(draft.reason), "grade": draft.grade.label,
                     "message": draft.message}
            if draft.cleared:
                alert["cleared"] = True
            alerts_out.write(json.dumps(alert) + "\n")
    return alerts


def run(args: argparse.Namespace) -> int:
    from edge import replay_device

    if replay_device.wanted(args):
        return replay_device.run(args)
    name = args.detector or "the configured detector"
    try:
        name, detection, channel = settings(args)
        pipeline = replay_pipeline(detection, channel, make_detector(name, detection.params))
        with args.file.open(newline="") as source, args.scores.open("w", newline="") as scores:
            alerts = replay(read_rows(source, args.column, args.file), pipeline, scores, sys.stdout)
    except ReplayError as exc:
        print(f"lifeline-edge replay: {exc}", file=sys.stderr)
        return exc.code
    except TypeError as exc:  # detector params that the detector does not take
        print(f"lifeline-edge replay: bad params for detector {name!r}: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"lifeline-edge replay: {exc}", file=sys.stderr)
        return 1
    log.info("replayed %s column %s with %s: %d alert(s); scores in %s",
             args.file, args.column, name, alerts, args.scores)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run without the full CLI: ``python -m edge.replay FILE.csv --scores OUT.csv``."""
    parser = argparse.ArgumentParser(prog="lifeline-edge replay", description=__doc__.splitlines()[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    from lifeline.tomlconfig import ConfigError

    try:
        return run(args)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
