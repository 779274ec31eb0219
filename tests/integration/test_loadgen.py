"""The benchmarks' load generator holds a bounded window of unacknowledged publishes (issue 16)."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.loadgen import Publisher, alert_payloads
from lifeline.localbroker import Broker

pytestmark = [pytest.mark.integration, pytest.mark.slow]

COUNT = 100_000


def test_a_100000_alert_backlog_is_acknowledged_in_full(tmp_path: Path) -> None:
    # Given a private Mosquitto and a publisher with a window of 2,000 unacknowledged messages
    broker = Broker(tmp_path / "broker")
    broker.start()
    try:
        publisher = Publisher(broker.port, "test-loadgen", window=2_000)
        try:
            # When it publishes 100,000 alerts as fast as it may (more than MQTT's 65,535 ids)
            payloads = alert_payloads(1_000, devices=500, zones=20)  # the broker does not read them
            for index in range(COUNT):
                _, topic, payload = payloads[index % len(payloads)]
                publisher.publish(topic, payload)
            # Then the broker acknowledges every one, and no more than the window waited at once
            assert publisher.wait_acked(COUNT, timeout=120), f"acked {publisher.acked} of {COUNT}"
            assert publisher.acked == COUNT
            assert publisher.peak_unacked <= 2_000
        finally:
            publisher.close()
    finally:
        broker.stop()


def test_the_window_must_fit_the_packet_id_space() -> None:
    with pytest.raises(ValueError, match="window must be 1..65534"):
        Publisher(1, "never-connects", window=70_000)
