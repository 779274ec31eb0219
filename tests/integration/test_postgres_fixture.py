"""The test PostgreSQL is real and private: a cluster of our own, reachable only by socket."""

from __future__ import annotations

import psycopg
import pytest

from tests.support.postgres import Postgres

pytestmark = pytest.mark.integration


def test_a_private_cluster_answers_on_its_socket_and_nothing_else(postgres: Postgres) -> None:
    with psycopg.connect(postgres.url) as conn:
        assert conn.execute("SELECT current_database(), current_user").fetchone() == (
            "lifeline", "lifeline")
        assert conn.execute("SHOW listen_addresses").fetchone() == ("",)
        conn.execute("CREATE TABLE t (x int)")
        conn.execute("INSERT INTO t VALUES (1)")
        assert conn.execute("SELECT sum(x) FROM t").fetchone() == (1,)


def test_a_restarted_cluster_keeps_its_data(postgres: Postgres) -> None:
    with psycopg.connect(postgres.url) as conn:
        conn.execute("CREATE TABLE kept (x int)")
        conn.execute("INSERT INTO kept VALUES (42)")
    postgres.stop(mode="fast")
    postgres.start()
    with psycopg.connect(postgres.url) as conn:
        assert conn.execute("SELECT x FROM kept").fetchone() == (42,)
