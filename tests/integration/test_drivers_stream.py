"""One thread serving several streaming ports, as the agent runs its lines and vibration
sensors: each port keeps its own readings, faults and reopening."""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from edge.agent import Agent
from edge.config import SensorConfig, load_edge_config
from edge.drivers import SensorEvent, make_reader
from edge.drivers.stream import StreamMux, StreamReader
from tests.support.edgetoml import lines_sensor, write_edge_toml
from tests.support.pty import PtySensor

pytestmark = pytest.mark.integration


def sensors(tmp_path: Path, ports: dict[str, str]) -> tuple[SensorConfig, ...]:
    path = write_edge_toml(tmp_path / "edge.toml",
                           sensors=[lines_sensor(sid, port) for sid, port in ports.items()])
    return load_edge_config(path).sensors


class Events:
    """What the readers queued, by sensor."""

    def __init__(self) -> None:
        self.queue: queue.Queue[SensorEvent] = queue.Queue()
        self.seen: list[SensorEvent] = []

    def until(self, what: str, check: Callable[[], bool], timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                self.seen.append(self.queue.get(timeout=0.05))
            except queue.Empty:
                pass
            if check():
                return
        raise AssertionError(f"timed out waiting for {what}; last events {self.seen[-5:]}")

    def of(self, sensor: str, kind: str) -> list[SensorEvent]:
        return [e for e in self.seen if e.sensor == sensor and e.kind == kind]


def value_line(value: float) -> Callable[[int], bytes]:
    return lambda n: f"{value + n % 3}\n".encode()


def test_two_ports_one_thread_a_vanished_port_reopens_the_other_keeps_reading(
        tmp_path: Path) -> None:
    link = tmp_path / "rs485-b"  # like udev's /dev/lifeline/<name>
    events = Events()
    with PtySensor() as a, PtySensor() as first_b:
        os.symlink(first_b.path, link)
        configs = sensors(tmp_path, {"a": a.path, "b": str(link)})
        mux = StreamMux()
        readers = [make_reader(c, events.queue, threading.Event(), mux) for c in configs]
        try:
            # Given two line sensors served by one mux
            a.stream(value_line(100), 20)
            first_b.stream(value_line(200), 20)
            threads_before = set(threading.enumerate())
            for reader in readers:
                reader.start()
            events.until("readings from both", lambda: len(events.of("a", "reading")) >= 5
                         and len(events.of("b", "reading")) >= 5)
            # Then one thread reads both ports, and each sensor gets only its own values
            assert set(threading.enumerate()) - threads_before == {mux}
            assert all(isinstance(r, StreamReader) and r.mux is mux for r in readers)
            assert {e.values[0] for e in events.of("a", "reading")} <= {100.0, 101.0, 102.0}
            assert {e.values[0] for e in events.of("b", "reading")} <= {200.0, 201.0, 202.0}
            # When b's port vanishes (udev removes its link, the pty closes)
            os.unlink(link)
            first_b.close()
            # Then b reports a port error, and a keeps reading meanwhile
            events.until("b's port error", lambda: bool(events.of("b", "port_error")))
            count = len(events.of("a", "reading"))
            events.until("more of a", lambda: len(events.of("a", "reading")) > count + 5)
            assert not events.of("a", "port_error")
            with PtySensor() as second_b:
                # When a device appears again under the same name
                os.symlink(second_b.path, link)
                second_b.stream(value_line(300), 20)
                # Then b's port is reopened (port_ok again) and its new readings arrive
                events.until("b reopened", lambda: len(events.of("b", "port_ok")) >= 2
                             and any(e.values[0] >= 300 for e in events.of("b", "reading")))
                # When b is stopped (a reload removed it)
                readers[1].stop.set()
                mux.wake()
                time.sleep(0.3)
                mark = len(events.seen)
                events.until("more of a after b stopped",
                             lambda: len(events.of("a", "reading")) > count + 15)
                # Then nothing more comes from b, while a goes on, on the same thread
                assert not [e for e in events.seen[mark:] if e.sensor == "b"]
                assert mux.is_alive() and readers[0].is_alive()
        finally:
            mux.shutdown()
            mux.join(timeout=3)
    assert not mux.is_alive()


def test_a_reader_alone_gets_a_thread_of_its_own_that_ends_when_it_is_stopped(
        tmp_path: Path) -> None:
    events = Events()
    with PtySensor() as a:
        (config,) = sensors(tmp_path, {"a": a.path})
        # Given a reader made without a mux (the probe, the driver tests)
        reader = make_reader(config, events.queue, threading.Event())
        reader.start()
        a.stream(value_line(1), 20)
        events.until("a reading", lambda: bool(events.of("a", "reading")))
        assert reader.is_alive()
        # When it is stopped, Then its thread ends
        reader.stop.set()
        reader.join(timeout=3)
        assert not reader.is_alive()


def test_a_port_that_cannot_be_opened_is_retried_while_the_thread_keeps_beating(
        tmp_path: Path) -> None:
    events = Events()
    (config,) = sensors(tmp_path, {"a": str(tmp_path / "not-plugged-in")})
    reader = make_reader(config, events.queue, threading.Event())
    reader.start()
    try:
        # Given a port that does not exist, When the reader has tried a few times
        events.until("three port errors", lambda: len(events.of("a", "port_error")) >= 3)
        # Then each failure is reported with the path, and the shared thread is alive and
        # beating (waiting out a backoff is not hanging: the watchdog stays fed)
        assert "not-plugged-in" in events.of("a", "port_error")[0].detail
        assert reader.is_alive() and time.monotonic() - reader.heartbeat < 2.0
    finally:
        reader.stop.set()
        reader.join(timeout=3)


def test_the_agent_serves_its_streaming_sensors_from_one_mux(tmp_path: Path) -> None:
    # Given an agent (not started: no threads, no broker) with three line sensors
    path = write_edge_toml(tmp_path / "edge.toml", state_dir=tmp_path / "state",
                           mqtt={"host": "127.0.0.1", "port": 1},
                           sensors=[lines_sensor(s, f"/dev/null-{s}") for s in "abc"])
    agent = Agent(load_edge_config(path))
    try:
        # Then every reader is served by the agent's one mux, which no reader has started yet
        assert {id(getattr(r, "mux", None)) for r in agent.readers.values()} == {id(agent.mux)}
        assert not agent.mux.is_alive()
    finally:
        agent.outbox.close()
