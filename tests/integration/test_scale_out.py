"""Several hubs on one PostgreSQL store (issue 17): fusion stays exact, ids stay unique.

Two hubs' ingests in one process show each rule without timing (one incident id never
given twice; a hub fuses with what another hub wrote, not with its own memory); then
1, 2 and 3 ``lifeline-hub run`` subprocesses sharing the city scenario of
``bench_fusion`` through ``[mqtt] share_group`` make exactly the incidents one SQLite hub
makes (benchmarks/bench_scale_out.py is the same replay, timed).
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

from benchmarks.bench_scale_out import HubRun, replay_hubs
from benchmarks.city_scenario import Scenario, generate
from hub.config import HubConfig, StoreConfig, load_hub_config
from hub.service.ingest import Ingest
from hub.store import Store
from lifeline import wire
from lifeline.grades import Grade
from tests.support.processes import wait_for

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def _config(tmp_path: Path, store_url: str) -> HubConfig:
    path = tmp_path / "hub.toml"
    path.write_text(f'[mqtt]\nshare_group = "lifeline-hubs"\n\n[store]\nurl = "{store_url}"\n\n'
                    '[fusion]\nwindow_s = 300\n\n[rules.water]\nreach = "neighbours"\n\n'
                    '[zones.a]\nneighbours = ["b"]\n\n[zones.b]\n\n[zones.c]\n')
    return load_hub_config(path)


def _city_and_one_sqlite_hub(tmp_path: Path, timeout_s: float) -> tuple[Scenario, HubRun]:
    """The city scenario of bench_fusion (six hours of two districts, ending 15 min ago), and
    what one hub on SQLite makes of it: the reference several hubs are held to."""
    scenario = generate(seed=2, districts=2, hours=6.0, base=time.time() - 6 * 3600 - 900)
    return scenario, replay_hubs(scenario, tmp_path / "sqlite", 1, None, timeout_s=timeout_s)


def _alert(zone: str, ts: float, device: str) -> tuple[str, bytes]:
    alert = wire.Alert(id=uuid.uuid4().hex, device=device, zone=zone, sensor="p", channel="kpa",
                       kind="water.pressure", ts=ts, value=150.0, score=1.0, grade=Grade.YELLOW,
                       reason=wire.Reason.LIMIT, seq=1, unit="kPa")
    return wire.alert_topic(device), wire.encode(alert)


def test_two_hubs_on_one_store_give_unique_ids_and_fuse_with_each_others_incidents(
        tmp_path: Path, postgres_url: str) -> None:
    # Given two hubs' ingests on one PostgreSQL store
    config = _config(tmp_path, postgres_url)
    now = time.time()
    stores = [Store.writer(config.store), Store.writer(config.store)]
    try:
        hub_a, hub_b = (Ingest(store, config, now) for store in stores)
        # When each opens an incident in a zone of its own, one after the other
        hub_a.batch([_alert("a", now - 60, "dev-1")], now)
        hub_b.batch([_alert("c", now - 60, "dev-2")], now)
        # Then the two incidents have different ids (both hubs counted from 1 before)
        ids = sorted(i.id for i in stores[0].incidents())
        assert len(ids) == 2 and ids[0] != ids[1], ids
        # When hub B takes an alert next to hub A's incident (zone b neighbours a)
        hub_b.batch([_alert("b", now - 50, "dev-3")], now)
        # Then it joined A's incident: B read it from the store, not from its own memory
        open_ = {i.zone: i for i in stores[0].incidents() if i.active}
        assert set(open_) == {"a", "c"}, open_
        assert open_["a"].alert_count == 2 and set(open_["a"].devices) == {"dev-1", "dev-3"}
        # And hub A, fusing next in that zone, builds on what B wrote
        hub_a.batch([_alert("a", now - 40, "dev-4")], now)
        assert stores[0].incident(open_["a"].id).alert_count == 3  # type: ignore[union-attr]
        assert stores[0].count_incidents() == 2
    finally:
        for store in stores:
            store.close()


@pytest.mark.slow
def test_one_two_and_three_hubs_on_postgres_make_the_incidents_of_one_sqlite_hub(
        tmp_path: Path, shared_postgres: object) -> None:
    from tests.support.postgres import Postgres

    assert isinstance(shared_postgres, Postgres)
    # Given the city scenario of bench_fusion: bursts over neighbouring segments, leaks, gas
    # leaks drifting between manholes, flapping, devices dropping off and their backlogs
    # When one hub on SQLite takes it, and 1, 2, 3 hubs on PostgreSQL share it
    scenario, single = _city_and_one_sqlite_hub(tmp_path, timeout_s=40)
    assert len(single.incidents) >= 10
    for hubs in (1, 2, 3):
        url = shared_postgres.new_database(f"scale_{hubs}_{uuid.uuid4().hex[:6]}")
        run = replay_hubs(scenario, tmp_path / f"pg-{hubs}", hubs, url, timeout_s=40)
        # Then every hub took a share of the alerts, all were stored once
        assert len(run.stored_by) == hubs and all(n > 0 for n in run.stored_by), run.stored_by
        assert sum(run.stored_by) == run.alerts
        # And the incidents (zone, hazard, members, grade, status) are the SQLite hub's
        assert run.incidents == single.incidents, (
            sorted(single.incidents - run.incidents)[:3], sorted(run.incidents - single.incidents)[:3])



def test_an_outbox_row_is_claimed_by_one_hub_and_a_lease_has_one_holder(
        tmp_path: Path, postgres_url: str) -> None:
    config = _config(tmp_path, postgres_url)
    stores = [Store.writer(config.store), Store.writer(config.store)]
    try:
        a, b = stores
        now = time.time()
        with a.transaction():
            a.outbox.add("ops", "http://127.0.0.1:9/hook", "{}", now)
            a.outbox.add("ops", "http://127.0.0.1:9/hook", "{}", now)
        ids = [r.id for r in a.outbox.due(now)]
        # Given hub A claimed the due rows for a delivery it is about to send
        with a.transaction():
            assert a.outbox.claim(ids, now, until=now + 60) == ids
        # Then hub B, asking at the same moment, gets none of them, nor sees them due
        with b.transaction():
            assert b.outbox.claim(ids, now, until=now + 60) == []
        assert b.outbox.due(now) == []
        # And once the claim ran out (A died mid-send), B may take them
        with b.transaction():
            assert b.outbox.claim(ids, now + 61, until=now + 121) == ids
        # And the singleton lease has one holder while its connection lives, then the next
        assert a.try_lease("singleton") and a.try_lease("singleton")
        assert not b.try_lease("singleton")
        a.close()
        # (the server frees a session's locks as its backend exits, just after the close)
        wait_for(lambda: b.try_lease("singleton") or None, 5, "the lease passed on")
    finally:
        for store in stores:
            store.close()


@pytest.mark.slow
def test_sigterm_leaves_the_share_group_without_losing_or_parking_alerts(
        tmp_path: Path, postgres_url: str) -> None:
    import subprocess

    from benchmarks.loadgen import Publisher
    from lifeline.localbroker import Broker, stop_process
    from tests.support.processes import script

    broker = Broker(tmp_path / "broker", extra_config="max_queued_messages 100000\n")
    broker.start()
    logs = [tmp_path / f"hub-{n}.log" for n in range(2)]
    hubs = []
    publisher = None
    try:
        # Given two hubs of one share group on one store, as configs/hub-a.toml and
        # hub-b.toml ship (with this test's broker and database), alerts streaming in
        for n, log in enumerate(logs):
            config = tmp_path / f"hub-{n}.toml"
            shipped = (REPO / "configs" / f"hub-{'ab'[n]}.toml").read_text()
            assert shipped.count("broker.district.example") == 1 and shipped.count(
                "postgresql://lifeline@db.district.example/lifeline") == 1
            config.write_text(shipped.replace("broker.district.example", "127.0.0.1")
                              .replace("port = 1883", f"port = {broker.port}")
                              .replace("postgresql://lifeline@db.district.example/lifeline",
                                       postgres_url))
            with open(log, "ab") as out:
                hubs.append(subprocess.Popen([script("lifeline-hub"), "run", "--config",
                                              str(config)], stdout=out, stderr=out,
                                             start_new_session=True))
        wait_for(lambda: all(p.exists() and "subscribed to" in p.read_text() for p in logs),
                 20, "both hubs subscribed")
        publisher = Publisher(broker.port, f"pub-{uuid.uuid4().hex[:6]}", window=20)
        now = time.time()
        sent = [_alert(f"z{n % 7}", now - 300 + n * 0.1, f"dev-{n % 5}") for n in range(400)]
        for topic, payload in sent[:200]:
            publisher.publish(topic, payload)
        # When hub 0 gets SIGTERM in the middle of the stream, and the stream goes on
        hubs[0].terminate()
        for topic, payload in sent[200:]:
            publisher.publish(topic, payload)
        assert hubs[0].wait(15) == 0
        # Then it left cleanly: unsubscribed, drained, committed, acknowledged
        assert "left share group lifeline-hubs" in logs[0].read_text()
        # And every alert is stored, none parked for the hub that left: hub 1 took the rest
        # (a plain publisher here: no edge resends what a hub did not acknowledge)
        store = Store.reader(StoreConfig(url=postgres_url))
        assert store is not None
        try:
            wait_for(lambda: store.count_alerts() == len(sent) or None, 20, "every alert stored")
        finally:
            store.close()
    finally:
        if publisher is not None:
            publisher.close()
        for hub in hubs:
            stop_process(hub, timeout=10)
        broker.stop()


def test_a_hub_taking_the_lease_applies_the_statuses_the_old_holder_never_committed(
        tmp_path: Path, postgres_url: str) -> None:
    config = _config(tmp_path, postgres_url)
    now = time.time()
    stores = [Store.writer(config.store), Store.writer(config.store)]
    try:
        holder, other = (Ingest(store, config, now) for store in stores)
        holder.take_over(now)

        def status(state: str, ts: float) -> tuple[str, bytes]:
            return wire.status_topic("dev-9"), wire.encode(
                wire.Status(device="dev-9", zone="c", state=state, ts=ts))

        # Given the lease holder committed the device's first status, and both hubs got it
        first = status("online", now - 100)
        holder.batch([first], now)
        other.batch([first], now)
        # When the device goes offline and comes back, and the holder dies before it
        # committed either (only the other hub's copies are left)
        other.batch([status("offline", now - 60), status("online", now - 30)], now)
        assert stores[1].incidents() == []  # not the lease holder: statuses wait
        other.take_over(now)
        # Then the new holder applies both, not only the latest: the outage is on record
        [outage] = stores[1].incidents()
        assert (outage.hazard, outage.status.value, outage.devices) == (
            "device", "resolved", ("dev-9",))
        assert stores[1].device_statuses()["dev-9"] == wire.encode(
            wire.decode_status(status("online", now - 30)[1])).decode()
    finally:
        for store in stores:
            store.close()


@pytest.mark.slow
def test_two_hubs_ride_out_a_postgresql_restart_mid_stream_and_lose_nothing(
        tmp_path: Path, postgres: object) -> None:
    import subprocess
    import threading

    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from benchmarks.bench_scale_out import BROKER_CONFIG, hub_toml, incident_set
    from benchmarks.loadgen import Publisher
    from hub.store.dialect import lock_key
    from lifeline.localbroker import Broker, stop_process
    from tests.support.postgres import Postgres
    from tests.support.processes import script

    assert isinstance(postgres, Postgres)
    # Given the city scenario (as above), and what one SQLite hub makes of it
    scenario, single = _city_and_one_sqlite_hub(tmp_path, timeout_s=30)
    alerts = [m.alert for m in scenario.messages if m.alert is not None]
    items = [(wire.alert_topic(m.alert.device), wire.encode(m.alert)) if m.alert is not None
             else (wire.status_topic(m.status.device), wire.encode(m.status))  # type: ignore[union-attr]
             for m in scenario.messages]
    broker = Broker(tmp_path / "broker", extra_config=BROKER_CONFIG)
    broker.start()
    logs = [tmp_path / f"hub-{n}.log" for n in range(2)]
    hubs: list[subprocess.Popen[bytes]] = []
    acked: list[str] = []
    listener = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"acks-{uuid.uuid4().hex[:6]}",
                           protocol=mqtt.MQTTv5)
    listener.on_message = lambda c, u, m: acked.extend(wire.decode_ack(bytes(m.payload)).ids)
    granted = threading.Event()
    listener.on_subscribe = lambda *args: granted.set()
    publisher = None
    reader: Store | None = None
    try:
        # And two hubs of one share group on one PostgreSQL, and the edges' ack topics heard
        for n, log in enumerate(logs):
            config = tmp_path / f"hub-{n}.toml"
            config.write_text(hub_toml(scenario, broker.port, f"hub-{n}-{uuid.uuid4().hex[:6]}",
                                       postgres.url, tmp_path, share=True))
            with open(log, "ab") as out:
                hubs.append(subprocess.Popen([script("lifeline-hub"), "run", "--config",
                                              str(config)], stdout=out, stderr=out,
                                             start_new_session=True))
        wait_for(lambda: all(p.exists() and "subscribed to" in p.read_text() for p in logs),
                 20, "both hubs subscribed")
        listener.connect("127.0.0.1", broker.port)
        listener.loop_start()
        listener.subscribe(f"{wire.TOPIC_ROOT}/+/ack", qos=1)
        assert granted.wait(10)
        publisher = Publisher(broker.port, f"pub-{uuid.uuid4().hex[:6]}", window=20)
        half = len(items) // 2
        for topic, payload in items[:half]:
            publisher.publish(topic, payload)
        # When PostgreSQL stops while the hubs are committing, the stream goes on during
        # the outage, and the database comes back once both hubs are waiting for it
        reader = Store.reader(StoreConfig(url=postgres.url))
        assert reader is not None
        wait_for(lambda: reader.count_alerts() >= len(alerts) // 4 or None,  # type: ignore[union-attr]
                 20, "a quarter stored", every=0.02)
        reader.close()
        reader = None
        postgres.stop(mode="fast")
        for topic, payload in items[half:]:
            publisher.publish(topic, payload)
        wait_for(lambda: all("waiting for the database" in p.read_text() for p in logs), 20,
                 "both hubs waiting for the database")
        postgres.start()
        # Then both hubs resume in the same process
        wait_for(lambda: all("is back; resuming" in p.read_text() for p in logs), 20,
                 "both hubs resumed")
        assert [h.poll() for h in hubs] == [None, None]
        # And every alert is stored exactly once and acknowledged
        reader = Store.reader(StoreConfig(url=postgres.url))
        assert reader is not None
        wait_for(lambda: reader.count_alerts() == len(alerts) or None,  # type: ignore[union-attr]
                 20, f"all {len(alerts)} alerts stored")
        stored = [r[0] for r in reader.db.execute("SELECT id FROM alerts")]
        assert sorted(stored) == sorted(a.id for a in alerts)
        wait_for(lambda: set(acked) >= {a.id for a in alerts} or None, 20, "every alert acked")
        # And the incidents are those one SQLite hub makes of the same alerts
        wait_for(lambda: incident_set(reader) == single.incidents or None,  # type: ignore[arg-type]
                 10, "the SQLite hub's incidents")
        # And the singleton lease has exactly one holder again
        key = lock_key("lease:singleton") & 0xFFFF_FFFF_FFFF_FFFF
        holders = reader.db.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND "
            "objsubid = 1 AND classid::bigint = ? AND objid::bigint = ?",
            (key >> 32, key & 0xFFFF_FFFF)).fetchone()[0]
        assert holders == 1
        taken = [p.read_text().split("is back; resuming", 1)[1].count("lease singleton taken")
                 for p in logs]
        assert sorted(taken) == [0, 1], taken
    finally:
        if reader is not None:
            reader.close()
        if publisher is not None:
            publisher.close()
        listener.disconnect()
        listener.loop_stop()
        for hub in hubs:
            stop_process(hub, timeout=10)
        broker.stop()
