"""What is the PostgreSQL store's own: its schema and migrations, the driver's errors seen as
the store's, text PostgreSQL cannot hold, and the LISTEN/NOTIFY wake-up ``tail`` uses.

Everything else the store does is one set of tests run on both backends (``store_config``
in tests/conftest.py); these need a real PostgreSQL, the shared cluster of the run.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from hub.config import StoreConfig, load_hub_config
from hub.core.incident import Incident, IncidentStatus, Opened
from hub.store import BackendError, Store, StoreError, store_failure
from hub.store.schema import SCHEMA_VERSION
from lifeline import wire
from lifeline.grades import Grade
from lifeline.tomlconfig import ConfigError
from tests.support.ingest import ingesting

NOW = 1_800_000_000.0


def alert(n: int, message: str = "200 kPa below low limit 250") -> wire.Alert:
    return wire.Alert(id=f"{n:032x}", device="edge-1", zone="north", sensor="main-pressure",
                      channel="pressure_kpa", kind="water.pressure", ts=NOW + n, value=200.0,
                      score=1.0, grade=Grade.ORANGE, reason=wire.Reason.LIMIT, seq=n + 1,
                      unit="kPa", message=message)


def opened(incident_id: int) -> Opened:
    return Opened(Incident(id=incident_id, zone="north", hazard="water", grade=Grade.ORANGE,
                           status=IncidentStatus.OPEN, opened_at=NOW, updated_at=NOW,
                           first_ts=NOW, last_ts=NOW, last_arrival=NOW, devices=("edge-1",)))


def test_the_schema_is_created_once_and_a_newer_one_is_refused(postgres_url: str) -> None:
    config = StoreConfig(url=postgres_url)
    # Given an empty database: the first writer creates the store, the next finds it done
    first = Store.writer(config)
    assert (first.migrated_from, first.has_schema()) == (0, True)
    first.close()
    again = Store.writer(config)
    assert again.migrated_from == SCHEMA_VERSION
    # When a newer hub has upgraded it
    with again.transaction():
        again.set_meta("schema_version", str(SCHEMA_VERSION + 1))
    again.close()
    # Then this hub refuses it and changes nothing
    with pytest.raises(StoreError, match=rf"has store schema {SCHEMA_VERSION + 1}, newer than "
                       rf"this hub understands \({SCHEMA_VERSION}\); upgrade lifeline"):
        Store.writer(config)


def test_a_reader_of_a_database_without_the_store_sees_it_empty(postgres_url: str) -> None:
    store = Store.reader(StoreConfig(url=postgres_url))
    assert store is not None
    try:
        assert not store.has_schema()
        assert (store.incidents(), store.incident_rows(), store.last_event_id()) == ([], [], 0)
    finally:
        store.close()


def test_a_store_that_cannot_be_reached_is_a_store_error(tmp_path: Path) -> None:
    url = f"postgresql://lifeline@/lifeline?host={tmp_path}"  # no server on that socket
    with pytest.raises(StoreError, match=r"^cannot connect to the store postgresql://lifeline@"):
        Store.writer(StoreConfig(url=url))


def test_text_with_nul_is_kept_exactly_in_the_alerts_json(tmp_path: Path,
                                                          store_config: StoreConfig) -> None:
    # Given an alert whose message holds a NUL (the wire accepts it; PostgreSQL text cannot)
    with ingesting(tmp_path, NOW, store_config) as ingest:
        # When the hub stores it
        ingest.batch([(wire.alert_topic("edge-1"), wire.encode(alert(1, "a\x00b")))], NOW)
        # Then it is stored once, and the desk shows its message as it was sent
        assert (ingest.counters.stored, ingest.counters.invalid.total()) == (1, 0)
        [incident] = ingest.store.incidents()
        [shown] = ingest.store.incident_alerts(incident.id)
        assert shown["message"] == "a\x00b"


def test_a_lost_connection_is_the_store_failing_not_one_message(tmp_path: Path,
                                                                 postgres_url: str) -> None:
    with ingesting(tmp_path, NOW, StoreConfig(url=postgres_url)) as ingest:
        ingest.batch([(wire.alert_topic("edge-1"), wire.encode(alert(1)))], NOW)
        # Given the hub's connection ended by the server (a restart, an administrator)
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
                          "application_name = 'lifeline-hub'")
        # When the next batch is written
        with pytest.raises(BackendError, match=r"^PostgreSQL: ") as failed:
            ingest.batch([(wire.alert_topic("edge-1"), wire.encode(alert(2)))], NOW + 1)
        # Then it is the store failing (the hub stops; nothing of the batch was acked)
        assert store_failure(failed.value)
    # And what was committed before is there, once
    store = Store.writer(StoreConfig(url=postgres_url))
    try:
        assert store.count_alerts() == 1
    finally:
        store.close()


def test_a_value_the_database_refuses_fails_its_message_only(
        open_store: Callable[[], Store]) -> None:
    # Given a batch in which one write breaks a constraint (an incident id given twice)
    store = open_store()
    with store.transaction():
        with pytest.raises(Exception, match=r"(?i)unique") as refused, store.savepoint():
            store.db.execute("INSERT INTO incidents (id, zone, hazard, grade, status, "
                             "opened_at, updated_at, first_ts, last_ts, last_arrival, "
                             "alert_count, devices) VALUES (1, 'z', 'water', 1, 'open', 0, 0, 0,"
                             " 0, 0, 1, '[]'), (1, 'z', 'water', 1, 'open', 0, 0, 0, 0, 0, 1,"
                             " '[]')")
        # Then it is a value error, not the store failing, and the transaction goes on
        assert not store_failure(refused.value)
        store.apply([opened(2)], NOW)
    assert [i.id for i in store.incidents()] == [2]


def test_a_reader_listening_wakes_on_the_commit_that_adds_to_the_feed(
        postgres_url: str) -> None:
    config = StoreConfig(url=postgres_url)
    writer = Store.writer(config)
    reader = Store.reader(config)
    assert reader is not None
    try:
        # Given tail's connection listening, and nothing new
        assert reader.listen()
        seen = reader.data_version()
        assert not reader.wait_for_events(0.05)
        assert reader.data_version() == seen
        # When the hub commits a change from another thread while tail waits
        def commit() -> None:
            with writer.transaction():
                writer.apply([opened(1)], NOW)

        thread = threading.Timer(0.2, commit)
        thread.start()
        # Then the wait returns with the news, and the feed has it
        assert reader.wait_for_events(10.0)
        thread.join()
        assert reader.data_version() != seen
        assert [e.kind for e in reader.events_after(0)] == ["opened"]
        # And a transaction rolled back wakes nobody
        with pytest.raises(RuntimeError), writer.transaction():
            writer.apply([opened(2)], NOW)
            raise RuntimeError("rolled back")
        assert not reader.wait_for_events(0.2)
    finally:
        reader.close()
        writer.close()


def test_sqlite_readers_do_not_listen(tmp_path: Path) -> None:
    store = Store.open_writer(tmp_path / "hub.db")
    try:
        assert not store.listen()
        with pytest.raises(StoreError, match="needs listen"):
            store.wait_for_events(0.01)
    finally:
        store.close()


@pytest.mark.parametrize(("store", "problem"), [
    ('path = "hub.db"\nurl = "postgresql://lifeline@/lifeline"',
     r"hub.toml: store.url: path and url are both set: path is a SQLite file, url a "
     r"PostgreSQL database; keep one of them"),
    ('url = "mysql://db/lifeline"',
     r"hub.toml: store.url: 'mysql://db/lifeline' is not a PostgreSQL URL"),
    ('url = "postgresql://hub:s3cret@db/lifeline"',
     r"hub.toml: store.url: must not hold a password: put it in a libpq password file"),
    ('url = "postgresql://hub@db/lifeline?password=s3cret"',
     r"hub.toml: store.url: must not hold a password"),
    ('uri = "postgresql://hub@db/lifeline"',
     r"hub.toml: store.uri: is not a valid option for \[store\]; did you mean 'url'\?"),
])
def test_store_url_problems_are_config_errors(tmp_path: Path, store: str, problem: str) -> None:
    (tmp_path / "hub.toml").write_text(f"[store]\n{store}\n")
    with pytest.raises(ConfigError, match=problem) as error:
        load_hub_config(tmp_path / "hub.toml")
    assert "s3cret" not in str(error.value)


def test_a_url_store_is_postgresql_and_path_stays_the_default(tmp_path: Path) -> None:
    url = "postgresql://lifeline@/lifeline?host=/run/postgresql"
    (tmp_path / "hub.toml").write_text(f'[store]\nurl = "{url}"\nretain_days = 30\n')
    config = load_hub_config(tmp_path / "hub.toml")
    assert (config.store.url, config.store.location, config.store.retain_days) == (url, url, 30)
    (tmp_path / "hub.toml").write_text('[store]\npath = "hub.db"\n')
    sqlite = load_hub_config(tmp_path / "hub.toml").store
    assert sqlite.url is None and sqlite.location == str(tmp_path / "hub.db")


def test_a_sqlite_hub_never_imports_psycopg(tmp_path: Path) -> None:
    probe = ("import sys; from pathlib import Path; from hub.config import StoreConfig; "
             "from hub.store import Store; "
             f"Store.writer(StoreConfig(path=Path({str(tmp_path / 'hub.db')!r}))).close(); "
             "print('psycopg' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=60, check=True)
    assert done.stdout.strip() == "False"


def test_write_transactions_take_turns_as_on_sqlite(open_store: Callable[[], Store],
                                                    store_config: StoreConfig) -> None:
    """The desk's action must not interleave with a hub batch already under way: the batch
    would then write back the incident it holds in memory over the operator's change."""
    hub, desk = open_store(), open_store()
    # Given the desk's connection that gives up waiting for a lock after 0.1 s
    if store_config.url is None:
        desk.db.execute("PRAGMA busy_timeout=100")
    else:
        desk.db.execute("SET lock_timeout = '100ms'")
    # When the hub is inside a write transaction
    with hub.transaction():
        hub.apply([opened(1)], NOW)
        # Then the desk cannot start one until it ends
        with pytest.raises(Exception, match=r"(?i)database is locked|lock timeout"), \
                desk.transaction():
            pass
    # And once it has, the desk writes
    with desk.transaction():
        desk.bump_desk_revision()
    assert hub.desk_revision() == 1


def test_migrate_creates_or_upgrades_and_says_so(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    from hub.cli import main

    (tmp_path / "hub.toml").write_text('[store]\npath = "hub.db"\n')
    argv = ["migrate", "--config", str(tmp_path / "hub.toml")]
    assert main(argv) == 0
    assert capsys.readouterr().out == f"store {tmp_path / 'hub.db'}: schema {SCHEMA_VERSION} (created)\n"
    assert main(argv) == 0
    assert capsys.readouterr().out.endswith(f": schema {SCHEMA_VERSION} (already up to date)\n")


def test_a_schema_4_database_gets_the_maintenance_table(postgres_url: str) -> None:
    # Given a PostgreSQL store of schema 4 (before maintenance marks), with its rows
    config = StoreConfig(url=postgres_url)
    store = Store.writer(config)
    with store.transaction():
        store.set_meta("desk_revision", "7")
        store.db.execute("DROP TABLE maintenance")
        store.set_meta("schema_version", "4")
    store.close()
    # When a hub of schema 5 opens it
    store = Store.writer(config)
    try:
        # Then it is upgraded in place, its rows kept, and marks can be kept
        assert (store.migrated_from, store.meta("schema_version"), store.desk_revision()) == (
            4, str(SCHEMA_VERSION), 7)
        assert store.maintenance.marks() == []
    finally:
        store.close()
