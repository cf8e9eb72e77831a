"""Django's PostgreSQL backend, with a health check that costs no round trip and a prepared cursor.

``CONN_HEALTH_CHECKS`` makes Django ask ``is_usable()`` before the first query of every request
on a kept connection, and PostgreSQL's backend answers that with ``SELECT 1``: a round trip per
request, as many as the whole public antigen submit otherwise needs. A connection the server has
closed (a restart, ``pg_terminate_backend``, an idle timeout) has told us so on its socket: the
FATAL message and the end of the stream are waiting there. So an idle connection whose socket has
nothing to read is usable; only one whose socket has something waiting is asked with ``SELECT 1``
(which reads it: a notice, or the end), and closed if that fails. A server that vanished without
closing (a cut cable) is noticed by neither check until the query itself fails.

:meth:`DatabaseWrapper.prepared_cursor` is for the few hottest statements (``fastsql.hot_cursor``):
it binds parameters on the server and has PostgreSQL prepare the statement once per connection
(parsed and planned once, not on every request). Django turns psycopg's automatic preparation off
(``prepare_threshold=None``) for the sake of connection poolers; behind PgBouncer in transaction
mode this needs PgBouncer ≥ 1.21 with ``max_prepared_statements`` set, or
``FANGZHOU_DB_PREPARE=false``.

Each new connection turns PostgreSQL's JIT compiler off (``SET jit = off``, unless
``FANGZHOU_DB_JIT=true``): the application's statements are short, and once a statement's
estimated cost crossed ``jit_above_cost`` (the subdistrict table at 30 communities) compiling it
took as long as running it. Behind PgBouncer in transaction mode a connection's ``SET`` does not
follow the client between transactions: there it is set on the database (docs/deploy.md).
"""

from __future__ import annotations

import select
from typing import Any, cast

import psycopg
from django.conf import settings
from django.db.backends.postgresql import base, operations
from django.db.backends.utils import CursorWrapper
from psycopg import pq

_ServerBindingCursor: Any = base.ServerBindingCursor


class PreparingCursor(_ServerBindingCursor):  # type: ignore[misc]
    """A server-binding cursor that prepares every statement it runs (psycopg keeps the last
    ``prepared_max`` of them, 100, per connection)."""

    def execute(
        self, query: Any, params: Any = None, *, prepare: bool | None = None, binary: bool | None = None
    ) -> Any:
        return super().execute(query, params, prepare=True if prepare is None else prepare, binary=binary)


# psycopg prepares nothing on its own below this many runs of one statement: in effect only what
# ``prepared_cursor`` asks for (Django's own cursors bind on the client and never prepare).
EXPLICIT_ONLY = 2**31 - 1


class DatabaseOperations(operations.DatabaseOperations):
    def last_executed_query(self, cursor: Any, sql: str, params: Any) -> str:
        """The statement as it ran, for the query log (``DEBUG``, tests' captured queries): psycopg
        keeps no text of a prepared run, so it is composed from ``sql`` and ``params`` (``sql``
        itself if a value cannot be written out)."""
        if isinstance(cursor, PreparingCursor):
            try:
                return str(self.compose_sql(sql, params))
            except psycopg.errors.DataError:
                return sql
        return super().last_executed_query(cursor, sql, params)


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations

    def get_new_connection(self, conn_params: Any) -> Any:
        connection = super().get_new_connection(conn_params)
        if connection.prepare_threshold is None and settings.FANGZHOU_DB_PREPARE:
            # Django's ``prepare_threshold=None`` refuses even an explicit ``prepare=True``.
            connection.prepare_threshold = EXPLICIT_ONLY
        return connection

    def init_connection_state(self) -> None:
        super().init_connection_state()
        if not settings.FANGZHOU_DB_JIT:
            with self.connection.cursor() as cursor:  # the driver's cursor: not a query of any request
                cursor.execute("SET jit = off")
            if not self.get_autocommit():
                self.connection.commit()

    def is_usable(self) -> bool:
        conn = self.connection
        if conn is None or conn.closed or conn.broken or conn.pgconn.status != pq.ConnStatus.OK:
            return False
        if conn.info.transaction_status != pq.TransactionStatus.IDLE:
            return bool(super().is_usable())
        try:
            waiting, _, _ = select.select([conn.fileno()], [], [], 0)
        except (OSError, ValueError):
            return False
        return not waiting or bool(super().is_usable())

    def prepared_cursor(self) -> CursorWrapper:
        """Like ``cursor()`` (health check, Django's wrappers and query log), preparing its statements."""
        self.close_if_health_check_failed()
        self.ensure_connection()
        with self.wrap_database_errors:
            wrapped: CursorWrapper = cast(Any, self)._prepare_cursor(PreparingCursor(self.connection))
        return wrapped
