"""Two boards with one identity (issue 14 item 11): the edge says so plainly, against a real broker."""

from __future__ import annotations

import logging
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from edge.config import load_edge_config
from edge.mqtt_link import MqttLink
from lifeline.localbroker import Broker
from tests.integration.test_cli_commissioning import edge_toml
from tests.support.processes import wait_for

pytestmark = pytest.mark.integration



def test_another_client_with_this_device_id_is_named_as_the_cause(
        broker: Broker, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    link = MqttLink(load_edge_config(edge_toml(tmp_path, port=broker.port)), "test")
    # Given a second board configured with the same identity, reconnecting as paho does
    twin = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=link.client_id,
                       protocol=mqtt.MQTTv5)
    twin.reconnect_delay_set(min_delay=1, max_delay=1)
    caplog.set_level(logging.WARNING, logger="edge.mqtt_link")
    try:
        # When both run
        link.start()
        wait_for(lambda: link.connected.is_set(), 10, "the edge to connect")
        twin.connect("127.0.0.1", broker.port)
        twin.loop_start()
        # Then the edge counts the takeovers and logs an error that names the cause
        wait_for(lambda: link.counters["session_takeovers"] >= 1, 30,
                 "the edge to notice the session takeover")
        errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
        assert any("another client is using this device's MQTT client id" in e
                   and "lifeline-edge-edge-north-1" in e for e in errors), errors
    finally:
        twin.loop_stop()
        twin.disconnect()
        link.client.loop_stop()
        link.client.disconnect()
