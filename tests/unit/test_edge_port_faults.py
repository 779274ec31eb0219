"""A vanished serial port, seen from the agent: the fault alert always fits the wire, and a
reader waiting out its reopen backoff still counts as alive for the watchdog."""

from __future__ import annotations

import queue
import threading
import time
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from edge.agent import Agent, fit_text
from edge.config import load_edge_config
from edge.drivers.base import ReaderThread, SensorEvent
from lifeline import wire
from tests.support.faults import edge_toml

# pyserial quotes the path twice in its error: a udev by-id path makes a long message
BY_ID = "/dev/serial/by-id/usb-FTDI_FT232R_USB_UART_A50285BI-if00-port0"
OPEN_FAILED = (f"cannot open {BY_ID}: [Errno 2] could not open port {BY_ID}: [Errno 2] "
               f"No such file or directory: '{BY_ID}'")


@given(st.text(max_size=2 * wire.MAX_TEXT))
def test_fit_text_keeps_short_text_and_cuts_long_text_to_the_limit(text: str) -> None:
    fitted = fit_text(text)
    assert len(fitted) <= wire.MAX_TEXT
    assert fitted == text if len(text) <= wire.MAX_TEXT else fitted[:-1] == text[:wire.MAX_TEXT - 1]


def test_a_port_error_with_a_long_path_becomes_a_fault_alert_not_a_crash(tmp_path: Path) -> None:
    # Given an agent (not started: no threads, no broker) reading a udev by-id path
    path = tmp_path / "edge.toml"
    path.write_text(edge_toml(tmp_path / "state", port=1, sensors=(
        f'\n[[sensors]]\nid = "p"\nkind = "water.pressure"\ndriver = "lines"\nport = "{BY_ID}"\n'
        'columns = ["kpa"]\nhigh = 600.0\n')))
    agent = Agent(load_edge_config(path))
    try:
        # When the port vanishes and pyserial's error quotes the path three times
        assert len(f"port: serial port unavailable: {OPEN_FAILED}") > wire.MAX_TEXT
        now = time.time()  # the agent's health clock started at its construction
        agent.handle(SensorEvent("p", "port_error", now, detail=OPEN_FAILED))
        agent.check_health(now + 0.5)
        # Then the fault is in the outbox as an alert that encodes and decodes, cut to fit
        pending = agent.outbox.pending(10)
        faults = [wire.decode_alert(p.payload) for p in pending]
        assert [a.reason for a in faults] == [wire.Reason.SENSOR_FAULT]
        assert faults[0].message.startswith("port: serial port unavailable: cannot open ")
        assert len(faults[0].message) == wire.MAX_TEXT and faults[0].message.endswith("\u2026")
    finally:
        agent.outbox.close()


class _Waits(threading.Event):
    """A stop event that records every wait (and the reader's heartbeat before it)."""

    def __init__(self, reader: list[ReaderThread]) -> None:
        super().__init__()
        self.reader = reader
        self.waits: list[tuple[float, float]] = []

    def wait(self, timeout: float | None = None) -> bool:
        assert timeout is not None
        self.waits.append((timeout, self.reader[0].heartbeat))
        return super().wait(timeout)


def test_waiting_out_the_backoff_beats_at_least_every_half_second() -> None:
    # Given a reader thread (not started) whose stop event records each wait
    holder: list[ReaderThread] = []
    stop = _Waits(holder)
    holder.append(ReaderThread("s", "/dev/null", queue.Queue(), stop))
    # When it waits out a backoff (up to 7.5 s in the field, longer than the agent's 2 s
    # staleness floor without systemd)
    holder[0].pause(1.2)
    # Then it waits in slices of at most 0.5 s, beating before each one
    timeouts = [t for t, _ in stop.waits]
    beats = [b for _, b in stop.waits]
    assert len(timeouts) >= 2 and max(timeouts) <= 0.5
    assert beats == sorted(beats) and len(set(beats)) == len(beats)
