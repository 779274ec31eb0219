"""``[mqtt] share_group``: the hub takes alerts as one member of an MQTT 5 shared subscription,
statuses as before (every hub sees every device's). A real Mosquitto, a real hub, and a
second member of the group played by a plain client. Several hubs on one store:
tests/integration/test_scale_out.py and docs/scale-out.md."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from hub.config import load_hub_config
from lifeline import wire
from lifeline.grades import Grade
from lifeline.localbroker import Broker
from lifeline.tomlconfig import ConfigError
from tests.integration.test_hub import BOUND_S, alert, edge_client, hub_config, wait_subscribed
from tests.support.processes import cli_json, running, wait_for

pytestmark = pytest.mark.integration

GROUP = "lifeline-hubs"


class OtherMember:
    """Another member of the hubs' share group: counts the alerts the broker gave it."""

    def __init__(self, port: int) -> None:
        self.ids: list[str] = []
        self.subscribed = threading.Event()
        self.paho = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"other-{uuid.uuid4().hex}",
                                protocol=mqtt.MQTTv5)
        self.paho.on_message = lambda c, u, m: self.ids.append(
            wire.decode_alert(bytes(m.payload)).id)
        self.paho.on_subscribe = lambda c, u, mid, codes, props: self.subscribed.set()
        self.paho.connect("127.0.0.1", port)
        self.paho.loop_start()
        self.paho.subscribe(wire.shared_subscription(GROUP, wire.ALERT_SUBSCRIPTION), qos=1)
        assert self.subscribed.wait(BOUND_S)

    def close(self) -> None:
        self.paho.disconnect()
        self.paho.loop_stop()


def test_alerts_are_shared_with_the_group_and_statuses_are_not(tmp_path: Path,
                                                               broker: Broker) -> None:
    config = hub_config(tmp_path, broker)
    config.write_text(config.read_text().replace("[mqtt]\n", f'[mqtt]\nshare_group = "{GROUP}"\n'))
    log = tmp_path / "hub.log"
    with running("lifeline-hub", ["run", "--config", str(config)], log), \
            edge_client(broker) as edge:
        wait_subscribed(log)
        assert (f"subscribed to $share/{GROUP}/lifeline/v1/+/alert and lifeline/v1/+/status"
                in log.read_text())
        edge.listen_for_acks("edge-test-1")
        other = OtherMember(broker.port)
        try:
            # Given another member in the hub's share group, when an edge sends 20 alerts
            # and four devices say they are online
            now = time.time()
            sent = [alert(n, Grade.YELLOW, now - 30 + n) for n in range(1, 21)]
            for a in sent:
                edge.publish(wire.alert_topic(a.device), wire.encode(a))
            for n in range(4):
                device = f"edge-s{n}"
                edge.publish(wire.status_topic(device), wire.encode(
                    wire.Status(device=device, zone="south", state="online", ts=now)))

            def stored() -> int:
                return int(cli_json("lifeline-hub", ["status", "--config", str(config)])["alerts"])

            # Then each alert went to one member: the hub stored its share, the other got the rest
            wait_for(lambda: stored() + len(other.ids) == len(sent), BOUND_S,
                     "every alert with one member")
            assert 0 < len(other.ids) < len(sent)
            assert stored() == len(sent) - len(other.ids)
            # And the hub acknowledged to the edge exactly what it stored
            wait_for(lambda: len(edge.acked) == stored(), BOUND_S, "the hub's acks")
            assert set(edge.acked) == {a.id for a in sent} - set(other.ids)
            # And every status reached the hub (not shared)
            wait_for(lambda: sum(d["state"] == "online" for d in cli_json(
                "lifeline-hub", ["status", "--config", str(config)])["devices"]) == 4,
                BOUND_S, "the four statuses")
        finally:
            other.close()


@pytest.mark.parametrize(("value", "problem"), [
    ('"hubs/a"', r"hub.toml: mqtt.share_group: 'hubs/a' is not a usable share group name"),
    ('""', r"hub.toml: mqtt.share_group: '' is not a usable share group name"),
    ("3", r"hub.toml: mqtt.share_group: expected a string, found number 3"),
])
def test_a_bad_share_group_is_a_config_error(tmp_path: Path, value: str, problem: str) -> None:
    (tmp_path / "hub.toml").write_text(f"[mqtt]\nshare_group = {value}\n")
    with pytest.raises(ConfigError, match=problem):
        load_hub_config(tmp_path / "hub.toml")


def test_without_share_group_the_hub_subscribes_plainly(tmp_path: Path) -> None:
    (tmp_path / "hub.toml").write_text('[mqtt]\nshare_group = "lifeline-hubs"\n')
    assert load_hub_config(tmp_path / "hub.toml").mqtt.share_group == "lifeline-hubs"
    (tmp_path / "hub.toml").write_text("[mqtt]\n")
    assert load_hub_config(tmp_path / "hub.toml").mqtt.share_group == ""


def test_the_edge_has_no_share_group(tmp_path: Path) -> None:
    from edge.config import load_edge_config

    text = (Path(__file__).resolve().parents[2] / "configs" / "edge.toml").read_text()
    (tmp_path / "edge.toml").write_text(text.replace("[mqtt]\n", '[mqtt]\nshare_group = "x"\n', 1))
    with pytest.raises(ConfigError, match=r"edge.toml(:\d+)?: mqtt.share_group: is not a valid option"):
        load_edge_config(tmp_path / "edge.toml")
