"""The hot path's database helpers: ``fastsql.one_statement``, ``fastsql.hot_cursor`` and the
PostgreSQL backend's health check that reads the socket instead of sending ``SELECT 1``, and its
connections without the JIT compiler."""

from __future__ import annotations

import select
import time
from typing import Any
from unittest import mock

import psycopg
import pytest
from django.db import connection, transaction

from fangzhou.lib.fastsql import hot_cursor, one_statement

postgresql_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's backend")


@pytest.mark.django_db(transaction=True)
def test_one_statement_is_all_or_nothing_and_never_nested() -> None:
    with one_statement(), connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    if connection.vendor == "postgresql":  # autocommit: a second statement would not be atomic
        with pytest.raises(RuntimeError, match="second statement"), one_statement(), connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.execute("SELECT 2")
    else:  # SQLite: atomic(durable=True) itself
        with one_statement(), connection.cursor() as cursor:
            assert connection.in_atomic_block
            cursor.execute("SELECT 1")
            cursor.execute("SELECT 2")
    with transaction.atomic(), pytest.raises(RuntimeError, match="durable"), one_statement():
        pass  # inside a caller's transaction, as atomic(durable=True)


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_the_health_check_sends_nothing_to_a_live_connection_and_notices_a_closed_one() -> None:
    connection.ensure_connection()
    sent: list[str] = []
    execute = psycopg.Connection.execute

    def counting(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
        sent.append(str(query))
        return execute(self, query, *args, **kwargs)

    with mock.patch.object(psycopg.Connection, "execute", counting):
        assert connection.is_usable() and sent == []
    pid = connection.connection.info.backend_pid
    try:
        with psycopg.connect(**{**connection.get_connection_params(), "autocommit": True}) as other:
            other.execute("SELECT pg_terminate_backend(%s)", [pid])
        deadline = time.monotonic() + 5
        while not select.select([connection.connection.fileno()], [], [], 0.1)[0] and time.monotonic() < deadline:
            pass
        with mock.patch.object(psycopg.Connection, "execute", counting):
            assert not connection.is_usable()
        assert sent in ([], ["SELECT 1"])  # at most one question, once something waited on the socket
    finally:
        connection.close()
    with connection.cursor() as cursor:  # a new connection
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)


@postgresql_only
@pytest.mark.django_db
def test_the_hot_cursor_prepares_its_statements_unless_turned_off(settings: Any) -> None:
    def prepared(marker: str) -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s", [f"%{marker}%"])
            (count,) = cursor.fetchone()
        return int(count)

    with hot_cursor(connection) as cursor:
        cursor.execute("SELECT %s::int AS hot_marker_on", [1])
        assert cursor.fetchone() == (1,)
    assert prepared("hot_marker_on") == 1
    settings.FANGZHOU_DB_PREPARE = False
    with hot_cursor(connection) as cursor:
        cursor.execute("SELECT %s::int AS hot_marker_off", [1])
    assert prepared("hot_marker_off") == 0


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_every_new_connection_runs_without_the_jit_compiler_unless_asked(settings: Any) -> None:
    def jit_of_a_new_connection() -> str:
        connection.close()
        with connection.cursor() as cursor:
            cursor.execute("SHOW jit")
            return str(cursor.fetchone()[0])

    assert jit_of_a_new_connection() == "off"
    settings.FANGZHOU_DB_JIT = True
    assert jit_of_a_new_connection() == "on"  # the server's own default again
