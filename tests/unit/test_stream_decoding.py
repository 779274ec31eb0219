"""The pieces of the shared stream reader that need no port: cutting lines out of bytes as
they arrive, and queueing a wake-up's events at once without ever blocking."""

from __future__ import annotations

import queue
import threading
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.config import SensorConfig, load_edge_config
from edge.drivers.base import DecodeError, SensorEvent, put_batch
from edge.drivers.lines import MAX_PENDING, LinesDecoder
from edge.drivers.stream import StreamMux, StreamReader
from tests.support.edgetoml import lines_sensor as edge_sensor
from tests.support.edgetoml import write_edge_toml


def lines_sensor(tmp_path: Path, sensor_id: str = "p") -> SensorConfig:
    path = write_edge_toml(tmp_path / f"{sensor_id}.toml",
                           sensors=[edge_sensor(sensor_id, "/dev/null", columns=["a", "b"])])
    return load_edge_config(path).sensors[0]


def outcomes(items: list[tuple[float, ...] | DecodeError]) -> list[object]:
    return [item.reason if isinstance(item, DecodeError) else item for item in items]


STREAM = b"1,2\n\n3,4\r\nx,5\n6\n7,8\n" + b"\xff,1\n" + b"9,10\n"


@given(st.lists(st.integers(min_value=0, max_value=len(STREAM)), max_size=8))
def test_lines_are_the_same_however_the_bytes_are_cut(tmp_path_factory: pytest.TempPathFactory,
                                                      cuts: list[int]) -> None:
    # Given the same bytes, read in one piece or cut anywhere (as a port hands them over)
    sensor = lines_sensor(tmp_path_factory.mktemp("s"))
    whole = outcomes(LinesDecoder(sensor).feed(STREAM))
    decoder = LinesDecoder(sensor)
    got: list[object] = []
    bounds = [0, *sorted(cuts), len(STREAM)]
    for start, end in zip(bounds, bounds[1:], strict=False):
        got += outcomes(decoder.feed(STREAM[start:end]))
    # Then the readings and errors are the same, in order; blank lines give nothing
    assert got == whole == [(1.0, 2.0), (3.0, 4.0), "not_number", "field_count", (7.0, 8.0),
                            "not_ascii", (9.0, 10.0)]


def test_a_line_that_never_ends_is_counted_as_garbage_not_kept(tmp_path: Path) -> None:
    decoder = LinesDecoder(lines_sensor(tmp_path))
    # When a device babbles without a newline for more than MAX_PENDING bytes
    assert decoder.feed(b"1" * MAX_PENDING) == []
    got = decoder.feed(b"1")
    # Then it becomes one bad read (too long) and the next line parses again
    assert outcomes(got) == ["too_long"]
    assert outcomes(decoder.feed(b"\n1,2\n")) == [(1.0, 2.0)]


def event(n: int, sensor: str = "p") -> SensorEvent:
    return SensorEvent(sensor, "reading", float(n), values=(float(n),))


def test_a_batch_fills_what_room_the_queue_has_and_hands_back_the_rest() -> None:
    out: queue.Queue[SensorEvent] = queue.Queue(maxsize=3)
    out.put_nowait(event(0))
    # When five events arrive for two free places
    rest = put_batch(out, [event(n) for n in range(1, 6)])
    # Then the first two are queued, in order, and the others come back (never blocking)
    assert [out.get_nowait().ts for _ in range(3)] == [0.0, 1.0, 2.0]
    assert [e.ts for e in rest] == [3.0, 4.0, 5.0]
    assert put_batch(queue.Queue(), []) == []


class _Reader(StreamReader):
    def new_decoder(self) -> LinesDecoder:
        return LinesDecoder(self.config)


def test_events_a_full_queue_drops_are_counted_for_their_sensor(tmp_path: Path) -> None:
    # Given two sensors sharing a mux (not started) and a queue with room for two events
    out: queue.Queue[SensorEvent] = queue.Queue(maxsize=2)
    mux = StreamMux()
    a = _Reader(lines_sensor(tmp_path, "a"), out, threading.Event(), mux)
    b = _Reader(lines_sensor(tmp_path, "b"), out, threading.Event(), mux)
    mux._readers = [a, b]
    # When a wake-up gathered one event of a and three of b
    a.emit(event(1, "a"))
    for n in range(3):
        b.emit(event(n, "b"))
    mux.flush()
    # Then a's event and b's first are queued; b's other two are dropped and counted as b's
    assert [(e.sensor, e.ts) for e in (out.get_nowait(), out.get_nowait())] == [("a", 1.0),
                                                                                 ("b", 0.0)]
    assert (a.dropped, b.dropped) == (0, 2)
    assert a.batch == [] and b.batch == []
