"""Plain inserts and upserts for the hottest writes, without the ORM's query compiler.

The public antigen submit writes three rows per household (the submission, the members' reports,
the audit row). Django's ``save()`` and ``bulk_create(update_conflicts=True)`` compile each of
those statements again on every call, which cost a third of the write's time. These helpers
build the statement once per model (and shape) from the model's own ``_meta``, and turn each value
into its database form with the field's own ``pre_save`` and ``get_db_prep_save``, exactly as
the ORM does: the same columns, defaults, ``auto_now_add`` timestamps and JSON adaptation on
SQLite and PostgreSQL. Both databases speak ``INSERT … RETURNING`` and ``ON CONFLICT … DO UPDATE
SET col = excluded.col``.

:func:`insert` sends no ``pre_save``/``post_save`` signals, so a model with receivers for them
goes through ``save()`` instead (checked on every call); ``bulk_create`` sends none either.

:func:`one_statement` is the transaction of a write that is a single statement: on PostgreSQL it
runs without the BEGIN and COMMIT round trips (the statement is atomic by itself).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from django.conf import settings
from django.db import connections, models, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.utils import CursorWrapper
from django.db.models import signals

M = TypeVar("M", bound=models.Model)


def _column(model: type[models.Model], name: str) -> str:
    field = model._meta.get_field(name)
    assert isinstance(field, models.Field)
    return str(field.column)


def _fields(model: type[models.Model]) -> list[models.Field[Any, Any]]:
    """The concrete columns an insert writes (all but the auto primary key)."""
    pk = model._meta.pk
    return [f for f in model._meta.concrete_fields if f is not pk]


@functools.cache
def _insert_sql(model: type[models.Model], using: str) -> str:
    q = connections[using].ops.quote_name
    fields = _fields(model)
    columns = ", ".join(q(str(f.column)) for f in fields)
    marks = ", ".join(["%s"] * len(fields))
    pk = model._meta.pk
    assert pk is not None
    return f"INSERT INTO {q(model._meta.db_table)} ({columns}) VALUES ({marks}) RETURNING {q(str(pk.column))}"  # noqa: S608 - names from _meta


def _signalled(model: type[models.Model]) -> bool:
    return signals.pre_save.has_listeners(model) or signals.post_save.has_listeners(model)


def _values(obj: models.Model, fields: Sequence[models.Field[Any, Any]], connection: Any) -> list[Any]:
    return [f.get_db_prep_save(f.pre_save(obj, True), connection=connection) for f in fields]


def insert(obj: M, *, using: str = "default") -> M:
    """Insert a new instance (its primary key unset) as ``obj.save()`` would, and set its key."""
    model = type(obj)
    connection = connections[using]
    if _signalled(model) or not connection.features.can_return_columns_from_insert:
        obj.save(using=using, force_insert=True)
        return obj
    with connection.cursor() as cursor:
        cursor.execute(_insert_sql(model, using), _values(obj, _fields(model), connection))
        (obj.pk,) = cursor.fetchone()
    obj._state.adding = False
    obj._state.db = using
    return obj


@functools.cache
def _upsert_sql(
    model: type[models.Model], using: str, rows: int, unique: tuple[str, ...], update: tuple[str, ...]
) -> str:
    q = connections[using].ops.quote_name
    fields = _fields(model)
    columns = ", ".join(q(str(f.column)) for f in fields)
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    conflict = ", ".join(q(_column(model, name)) for name in unique)
    assignments = ", ".join(f"{q(col)} = excluded.{q(col)}" for col in (_column(model, name) for name in update))
    return (
        f"INSERT INTO {q(model._meta.db_table)} ({columns}) VALUES {', '.join([row] * rows)} "  # noqa: S608 - names from _meta
        f"ON CONFLICT ({conflict}) DO UPDATE SET {assignments}"
    )


def upsert(
    objs: Sequence[models.Model],
    *,
    unique_fields: Sequence[str],
    update_fields: Sequence[str],
    using: str = "default",
) -> None:
    """``bulk_create(objs, update_conflicts=True, unique_fields=…, update_fields=…)`` in one
    statement: a row that collides on ``unique_fields`` has ``update_fields`` overwritten."""
    if not objs:
        return
    model = type(objs[0])
    connection = connections[using]
    if not connection.features.supports_update_conflicts_with_target:
        model._default_manager.using(using).bulk_create(
            objs, update_conflicts=True, unique_fields=unique_fields, update_fields=update_fields
        )
        return
    fields = _fields(model)
    sql = _upsert_sql(model, using, len(objs), tuple(unique_fields), tuple(update_fields))
    params = [value for obj in objs for value in _values(obj, fields, connection)]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


@contextmanager
def one_statement(*, using: str = "default") -> Iterator[None]:
    """The transaction of a service whose whole write is one SQL statement.

    ``transaction.atomic(durable=True)`` costs two round trips, BEGIN and COMMIT, around a
    statement that PostgreSQL runs all or nothing on its own in autocommit (every data-modifying
    CTE of it included). So on PostgreSQL, outside any transaction, the block runs in autocommit,
    and a second statement inside it is refused before it is sent (``RuntimeError``): the write
    stays all-or-nothing. Anywhere else (SQLite, inside a caller's or a test's transaction) this
    is ``atomic(durable=True)`` itself, so a caller's open transaction is refused as before.
    Register no ``on_commit`` callback inside: in autocommit it would run at once."""
    connection = connections[using]
    if connection.vendor != "postgresql" or connection.in_atomic_block or not connection.get_autocommit():
        with transaction.atomic(using=using, durable=True):
            yield
        return
    sent = 0

    def once(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        nonlocal sent
        sent += 1
        if sent > 1:
            raise RuntimeError("one_statement: a second statement would not be atomic with the first")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(once):
        yield


def hot_cursor(connection: BaseDatabaseWrapper) -> CursorWrapper:
    """A cursor for one of the hottest statements: on PostgreSQL (``fangzhou.lib.postgresql``) one
    that PostgreSQL prepares once per connection, unless ``FANGZHOU_DB_PREPARE`` is off; anywhere
    else the ordinary cursor. Use it for statements whose text repeats (built once), not for text
    that changes with its values."""
    prepared = getattr(connection, "prepared_cursor", None)
    if prepared is not None and settings.FANGZHOU_DB_PREPARE:
        cursor: CursorWrapper = prepared()
        return cursor
    return connection.cursor()
