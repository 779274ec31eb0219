"""``lifeline-edge replay --all-columns`` / ``--columns a,b,c``: replay a whole device from a CSV.

Several numeric columns of a recording run as one multi-column sensor through the device
pipeline (edge/device_pipeline.py), exactly as the agent runs them: each channel's detector and
decider, and (from 3 channels, unless the sensor's ``multichannel = "none"``) the multichannel
detector and its decider::

    lifeline-edge replay skid.csv --all-columns --scores scores.csv
    lifeline-edge replay skid.csv --columns pressure,flow,current --config edge.toml --sensor skid-1

``--scores`` gets ``timestamp``, one ``<column>_score`` per column, ``multichannel_score``,
``anomaly_score`` (the largest of them) and ``alarm`` (1 while any alarm of the sensor is active).
Alerts print to stdout as JSON lines with their channel. ``--all-columns`` takes every column but
``timestamp`` whose values are numbers; a row with an empty value in a replayed column is skipped
(counted in the log). Values are taken as calibrated readings, as in the single-column replay.
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
from pathlib import Path
from typing import TextIO

from edge.config import ChannelConfig, DetectionConfig, SensorConfig, load_edge_config
from edge.detectors import DEFAULT_DETECTOR, REGISTRY
from edge.device_pipeline import DevicePipeline
from edge.replay import ReplayError, parse_time

log = logging.getLogger(__name__)
PROBE_ROWS = 100  # rows read to decide which columns are numeric


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--all-columns", action="store_true",
                       help="replay every numeric column as one multi-column sensor")
    group.add_argument("--columns", default=None, metavar="A,B,C",
                       help="replay these columns as one multi-column sensor")


def wanted(args: argparse.Namespace) -> bool:
    """True when the options ask for a whole-device replay."""
    return bool(getattr(args, "all_columns", False) or getattr(args, "columns", None))


def numeric_columns(path: Path) -> list[str]:
    """Columns other than ``timestamp`` whose first non-empty values all read as numbers."""
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        fields = [f for f in (reader.fieldnames or []) if f != "timestamp"]
        numeric = dict.fromkeys(fields, True)
        seen = dict.fromkeys(fields, False)
        for i, row in enumerate(reader):
            if i >= PROBE_ROWS:
                break
            for f in fields:
                text = (row.get(f) or "").strip()
                if not text:
                    continue
                seen[f] = True
                try:
                    float(text)
                except ValueError:
                    numeric[f] = False
    return [f for f in fields if numeric[f] and seen[f]]


def device_sensor(args: argparse.Namespace, columns: list[str]) -> SensorConfig:
    """The sensor to replay: from ``--config`` (its detection, limits and channels), else defaults."""
    channels = tuple(ChannelConfig(name=c) for c in columns)
    sensor = SensorConfig(id=args.sensor or "replay", kind="water.replay", driver="lines",
                          port="-", baudrate=9600, channels=channels, detection=DetectionConfig())
    if args.config is not None:
        config = load_edge_config(args.config)  # ConfigError: the CLI prints it and exits 2
        candidates = [s for s in config.sensors if (args.sensor is None or s.id == args.sensor)
                      and set(columns) <= set(s.columns)]
        if len(candidates) != 1:
            which = f"sensor {args.sensor!r}" if args.sensor else "exactly one sensor"
            raise ReplayError(f"{args.config}: {which} with columns {', '.join(columns)} is needed, "
                              f"found {len(candidates)}; pass --sensor and --columns", 2)
        found = candidates[0]
        by_name = {c.name: c for c in found.channels}
        # recorded values are calibrated already: no scale or offset
        channels = tuple(dataclasses.replace(by_name[c], scale=1.0, offset=0.0) for c in columns)
        sensor = dataclasses.replace(found, channels=channels)
    if args.detector is not None:
        configured = DEFAULT_DETECTOR if sensor.detection.detector == "default" else sensor.detection.detector
        if args.detector != configured:  # the configured params belong to the configured detector
            sensor = dataclasses.replace(sensor, detection=dataclasses.replace(
                sensor.detection, detector=args.detector, params={}))
    if sensor.detection.detector not in (*REGISTRY, "default"):
        raise ReplayError(f"unknown detector {sensor.detection.detector!r}; "
                          f"known: {', '.join(sorted(REGISTRY))}", 2)
    return sensor


def read_vectors(handle: TextIO, columns: list[str], source: Path,
                 skipped: list[int]) -> Iterator[tuple[str, float, list[float]]]:
    """Yield ``(timestamp text, epoch seconds, values)``; rows with an empty value are skipped."""
    reader = csv.DictReader(handle)
    fields = reader.fieldnames or []
    for needed in ("timestamp", *columns):
        if needed not in fields:
            raise ReplayError(f"{source}: no column {needed!r} (columns: {', '.join(fields)})", 2)
    for line, row in enumerate(reader, start=2):
        texts = [row[c] for c in columns]
        if any(t is None or not t.strip() for t in texts):
            skipped[0] += 1
            continue
        try:
            values = [float(t) for t in texts]
            ts = parse_time(row["timestamp"])
        except ValueError as exc:
            raise ReplayError(f"{source}:{line}: {exc}", 1) from exc
        if not all(math.isfinite(v) for v in values):
            raise ReplayError(f"{source}:{line}: non-finite value", 1)
        yield row["timestamp"], ts, values


def replay_device(rows: Iterator[tuple[str, float, list[float]]], device: DevicePipeline,
                  scores_out: TextIO, alerts_out: TextIO) -> int:
    """Run every vector through the device pipeline; write the scores; print the alerts."""
    names = [p.channel.name for p in device.channels]
    writer = csv.writer(scores_out, lineterminator="\n")
    writer.writerow(["timestamp", *(f"{n}_score" for n in names), "multichannel_score",
                     "anomaly_score", "alarm"])
    alerts = 0
    for stamp, ts, values in rows:
        drafts = device.process(ts, values)
        scores = [*device.scores, device.score]
        writer.writerow([stamp, *(f"{s:.6f}" for s in scores), f"{max(scores):.6f}",
                         1 if device.alarm else 0])
        for d in drafts:
            alerts += 1
            alerts_out.write(json.dumps({
                "timestamp": stamp, "ts": ts, "channel": d.channel, "value": d.value,
                "score": round(d.score, 6), "reason": str(d.reason), "grade": d.grade.label,
                "message": d.message, "cleared": d.cleared}) + "\n")
    return alerts


def run(args: argparse.Namespace) -> int:
    try:
        if args.all_columns:
            columns = numeric_columns(args.file)
            if not columns:
                raise ReplayError(f"{args.file}: no numeric column besides 'timestamp'", 2)
        else:
            columns = [c.strip() for c in args.columns.split(",") if c.strip()]
            if len(set(columns)) != len(columns) or not columns:
                raise ReplayError(f"--columns {args.columns!r}: name each column once", 2)
        sensor = device_sensor(args, columns)
        device = DevicePipeline(sensor)
        skipped = [0]
        with args.file.open(newline="") as source, args.scores.open("w", newline="") as scores:
            alerts = replay_device(read_vectors(source, columns, args.file, skipped), device,
                                   scores, sys.stdout)
    except ReplayError as exc:
        print(f"lifeline-edge replay: {exc}", file=sys.stderr)
        return exc.code
    except (TypeError, KeyError) as exc:  # detector names or params the detectors do not take
        print(f"lifeline-edge replay: bad detector settings: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"lifeline-edge replay: {exc}", file=sys.stderr)
        return 1
    if skipped[0]:
        log.warning("skipped %d row(s) of %s with an empty value in a replayed column",
                    skipped[0], args.file)
    log.info("replayed %s columns %s as one device (multichannel %s): %d alert(s); scores in %s",
             args.file, ",".join(columns), "on" if device.multichannel is not None else "off",
             alerts, args.scores)
    return 0
