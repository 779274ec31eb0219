"""Serial garbage through the agent's real path (issue 13, items 9 and "done when").

Bytes go through the lines driver's decoder (edge/drivers/lines.py -> edge/lines.py), each
result becomes the event the stream thread would queue, and the agent handles it (health,
calibration and detection in edge/pipeline.py, the durable outbox): the parser never
raises, every bad line is counted, and the WARNING lines about them are a few per sensor and
reason a minute (1 MB of noise logged 3,936 lines before).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge.agent import BAD_READ_LINES, Agent
from edge.config import load_edge_config
from edge.drivers.base import DecodeError, SensorEvent
from edge.drivers.lines import LinesDecoder
from edge.lines import REASONS, nmea_checksum
from lifeline import wire
from tests.support.edgetoml import lines_sensor, write_edge_toml

T0 = 1_790_000_000.0


def edge_config(tmp_path: Path, scale: float = 1.0) -> Path:
    return write_edge_toml(tmp_path / "edge.toml", device="edge-fuzz-1", zone="north",
                           state_dir=tmp_path / "state", mqtt={"host": "127.0.0.1", "port": 1},
                           sensors=[lines_sensor("pressure", "/dev/null", columns=["p", "q"],
                                                 scale=scale, low=250.0)])


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[Agent]:
    built = Agent(load_edge_config(edge_config(tmp_path)))
    try:
        yield built
    finally:
        built.outbox.close()


def events(decoder: LinesDecoder, data: bytes, ts: float) -> list[SensorEvent]:
    """What the stream thread queues for ``data`` (edge/drivers/stream.py)."""
    out = []
    for item in decoder.feed(data):
        if isinstance(item, DecodeError):
            out.append(SensorEvent("pressure", "bad", ts, reason=item.reason, detail=str(item)))
        else:
            out.append(SensorEvent("pressure", "reading", ts, values=item))
    return out


def test_noise_is_counted_and_logged_a_few_lines_per_reason(
        agent: Agent, caplog: pytest.LogCaptureFixture) -> None:
    decoder = LinesDecoder(agent.config.sensors[0])
    # Given a sensor sending 2,000 bad lines of two kinds within ten seconds
    noise = [b"abc,def\n", b"1,2,3\n"] * 1000
    with caplog.at_level(logging.WARNING, logger="edge.agent"):
        for n, line in enumerate(noise):
            for event in events(decoder, line, T0 + n * 0.005):
                agent.handle(event)
        # Then every one is counted, and at most BAD_READ_LINES warnings per reason
        assert agent.counters["bad_lines"] == 2000
        bad = [r.getMessage() for r in caplog.records if "bad read" in r.getMessage()]
        assert len(bad) == 2 * BAD_READ_LINES
        assert {re.search(r"reason=(\w+)", m).group(1) for m in bad} == {  # type: ignore[union-attr]
            "not_number", "field_count"}
        # And the first line after the minute says how many were left out
        caplog.clear()
        for event in events(decoder, b"abc,def\n", T0 + 61):
            agent.handle(event)
    [line] = [r.getMessage() for r in caplog.records]
    assert "reason=not_number" in line and f"({1000 - BAD_READ_LINES} more" in line


LINE_PARTS = st.one_of(
    st.binary(max_size=80),
    st.lists(st.one_of(st.floats(allow_nan=True, allow_infinity=True).map(repr),
                       st.sampled_from(["1e308", "-1e308", "1e309", "nan", "inf", "-0", "",
                                        " 7 ", "0x10", "1_0", "١٢"])),
             min_size=0, max_size=4).map(lambda xs: ",".join(xs).encode(errors="replace")),
)


@st.composite
def serial_bytes(draw: st.DrawFn) -> bytes:
    """Lines as a broken or hostile sensor sends them: random bytes, numbers of every size,
    key=value, NMEA-wrapped with right and wrong checksums, very long lines, no newline."""
    chunks = []
    for _ in range(draw(st.integers(1, 12))):
        body = draw(LINE_PARTS)
        style = draw(st.integers(0, 4))
        if style == 1:
            body = b"$" + body + b"*" + nmea_checksum(body).encode()
        elif style == 2:
            body = b"$" + body + b"*00"
        elif style == 3:
            body = body.replace(b",", b" q=", 1).join([b"p=", b""])
        elif style == 4:
            body = body * draw(st.integers(1, 200))
        chunks.append(body + draw(st.sampled_from([b"\n", b"\r\n", b"", b"\n\n"])))
    return b"".join(chunks)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None,
          max_examples=200)
@given(serial_bytes())
def test_fuzz_the_parser_never_raises_and_bad_lines_are_counted(agent: Agent,
                                                                data: bytes) -> None:
    decoder = LinesDecoder(agent.config.sensors[0])
    before = agent.counters["bad_lines"]
    found = decoder.feed(data)  # never raises
    bad = [e for e in found if isinstance(e, DecodeError)]
    assert all(e.reason in REASONS for e in bad)
    for event in events(LinesDecoder(agent.config.sensors[0]), data, T0):
        if event.kind == "bad":
            agent.handle(event)
    assert agent.counters["bad_lines"] - before == len(bad)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None,
          max_examples=200)
@given(serial_bytes())
def test_fuzz_calibration_of_any_parsed_line_never_stops_the_agent(tmp_path_factory: pytest.TempPathFactory,
                                                                   data: bytes) -> None:
    # scale 10: a reading of 1e308 becomes inf after calibration (issue 13, item 2)
    agent = Agent(load_edge_config(edge_config(tmp_path_factory.mktemp("edge"), scale=10.0)))
    try:
        bad = readings = 0
        for n, event in enumerate(events(LinesDecoder(agent.config.sensors[0]),
                                         data + b"1e308,1\n-1e308,1\n", T0)):
            bad += event.kind == "bad"
            readings += event.kind == "reading"
            agent.handle(SensorEvent(event.sensor, event.kind, T0 + n, event.values,
                                     event.reason, event.detail))
        # a value that calibrates to a non-finite number is a bad read too, counted as one
        non_finite = agent.sensors[agent.config.sensors[0].id].health.counters.get("non_finite", 0)
        assert non_finite >= 1  # at least the 1e308 that scale 10 makes infinite
        assert agent.counters["bad_lines"] == bad + non_finite
        for pending in agent.outbox.pending(10_000):  # whatever reached the outbox is valid
            wire.decode_alert(pending.payload)
    finally:
        agent.outbox.close()
