"""The session's PostgreSQL server: real connections, fresh databases, stop and start."""

from __future__ import annotations

import pytest

from tests.support.pg import PostgresServer

pytestmark = pytest.mark.postgres


def test_sqlalchemy_select_1(postgres_url: str) -> None:
    sqlalchemy = pytest.importorskip("sqlalchemy")
    assert postgres_url.startswith("postgresql+psycopg://")
    engine = sqlalchemy.create_engine(postgres_url)
    try:
        with engine.connect() as connection:
            assert connection.execute(sqlalchemy.text("select 1")).scalar_one() == 1
            version = connection.execute(sqlalchemy.text("show server_version")).scalar_one()
    finally:
        engine.dispose()
    assert version.startswith("15")


def test_psycopg_select_1(postgres_url: str) -> None:
    psycopg = pytest.importorskip("psycopg")
    with psycopg.connect(postgres_url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        assert conn.execute("select 1").fetchone() == (1,)


def test_each_test_gets_a_fresh_database(postgres_server: PostgresServer) -> None:
    first = postgres_server.new_database("fresh")
    second = postgres_server.new_database("fresh")
    assert first != second
    psycopg = pytest.importorskip("psycopg")
    with psycopg.connect(first.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute("create table t (x int)")
    with psycopg.connect(second.replace("+psycopg", "")) as conn:
        tables = conn.execute(
            "select count(*) from information_schema.tables where table_name = 't'"
        ).fetchone()
    assert tables == (0,)


def test_stop_and_start_keep_the_same_url_and_data(postgres_server: PostgresServer) -> None:
    psycopg = pytest.importorskip("psycopg")
    url = postgres_server.new_database("restart").replace("+psycopg", "")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("create table kept (x int)")
        conn.execute("insert into kept values (42)")

    postgres_server.stop()
    assert not postgres_server.is_running()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(url, connect_timeout=3)

    postgres_server.start()
    assert postgres_server.is_running()
    with psycopg.connect(url) as conn:
        assert conn.execute("select x from kept").fetchone() == (42,)
