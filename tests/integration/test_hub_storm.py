"""A storm and a red alarm through the real hub (issue 13 item 4): the red one goes first.

One device alerts from 3,000 sensors of one zone at once (an earthquake's worth of
tilt alarms, yellow); right after, a gas sensor in another zone sends a red alarm.
With the storm's messages waiting in the hub, the red alarm's incident must not wait
for all of them: ``lifeline-hub run`` (a subprocess) against a real Mosquitto, the
order read back from the store's events feed (ids increase with each commit).
"""

from __future__ import annotations

import sqlite3
import time
import uuid
from contextlib import closing
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from lifeline import wire
from lifeline.grades import Grade
from lifeline.localbroker import Broker
from tests.support.processes import running, wait_for

pytestmark = pytest.mark.integration

STORM = 3000
BOUND_S = 60
# room at the broker for the storm while the hub works through it (as the shipped config)
QUEUES = "max_queued_messages 100000\nmax_queued_bytes 67108864\n"


def storm_alert(n: int, now: float) -> wire.Alert:
    return wire.Alert(id=f"quake-{n}", device="tilt-grid-1", zone="old-town", sensor=f"tilt-{n}",
                      channel="deg", kind="structure.tilt", ts=now + n * 0.0001, value=2.5,
                      score=0.9, grade=Grade.YELLOW, reason=wire.Reason.LIMIT, seq=n)


def red_alarm(now: float) -> wire.Alert:
    return wire.Alert(id="gas-red-1", device="gas-harbour-3", zone="harbour", sensor="methane",
                      channel="lel", kind="gas.methane", ts=now, value=62.0, score=1.0,
                      grade=Grade.RED, reason=wire.Reason.LIMIT, seq=1)


def count(db: Path, sql: str) -> int:
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)) as conn:
        return int(conn.execute(sql).fetchone()[0])


def test_a_red_alarm_after_a_storm_is_an_incident_before_the_storm_is_fused(
        tmp_path: Path) -> None:
    broker = Broker(tmp_path / "broker", extra_config=QUEUES)
    broker.start()
    config = tmp_path / "hub.toml"
    config.write_text(f'[mqtt]\nhost = "127.0.0.1"\nport = {broker.port}\n'
                      f'client_id = "hub-{uuid.uuid4().hex[:8]}"\n\n[store]\npath = "hub.db"\n')
    db, log = tmp_path / "hub.db", tmp_path / "hub.log"
    edge = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"edge-{uuid.uuid4().hex}",
                       protocol=mqtt.MQTTv5)
    edge.max_inflight_messages_set(1000)
    edge.max_queued_messages_set(0)
    try:
        with running("lifeline-hub", ["run", "--config", str(config)], log):
            wait_for(lambda: log.exists() and "subscribed to" in log.read_text(), BOUND_S,
                     "the hub to subscribe")
            edge.connect("127.0.0.1", broker.port)
            edge.loop_start()
            now = time.time()
            # Given a storm of 3,000 yellow alerts from one device, all sent to the broker
            sent = [edge.publish(wire.alert_topic("tilt-grid-1"),
                                 wire.encode(storm_alert(n, now)), qos=1)
                    for n in range(STORM)]
            for info in sent:
                info.wait_for_publish(timeout=BOUND_S)
            # When a red gas alarm in another zone is sent right after it
            edge.publish(wire.alert_topic("gas-harbour-3"), wire.encode(red_alarm(now)),
                         qos=1).wait_for_publish(timeout=BOUND_S)
            # Then (once everything is stored) the red alarm opened its incident before
            # the storm's last alert was fused: it overtook the storm inside the hub
            wait_for(lambda: db.exists() and count(db, "SELECT count(*) FROM incident_alerts")
                     == STORM + 1, BOUND_S, "every alert to be fused")
    finally:
        edge.loop_stop()
        edge.disconnect()
        broker.stop()
    red_opened = count(db, "SELECT min(id) FROM events WHERE kind = 'opened' AND "
                           "json_extract(payload, '$.alert.id') = 'gas-red-1'")
    storm_before = count(db, "SELECT count(*) FROM events WHERE kind IN ('opened', 'joined') "
                             f"AND json_extract(payload, '$.alert.device') = 'tilt-grid-1' "
                             f"AND id < {red_opened}")
    print(f"storm alerts fused before the red alarm: {storm_before} of {STORM}")
    assert storm_before < STORM, f"the red alarm waited for all {STORM} storm alerts"
    assert count(db, "SELECT count(*) FROM incidents WHERE status != 'merged'") == 2
