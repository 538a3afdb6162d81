"""Model instances from a hand-written SELECT, for the few hot paths where compiling the ORM query costs
more than running it (a survey link is opened and answered hundreds of times a second).

``columns(model, alias)`` is the select list of every concrete field, in the model's order, and
``instance(model, values)`` turns that slice of a row into an instance exactly as the ORM would: the
backend's and the fields' converters applied (SQLite's datetimes, JSON documents), the instance marked
as loaded from the database. The SQL is the caller's; everything else stays the ORM's. ``update`` and
``insert`` are the write counterparts for one row.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from django.db import connection, models

M = TypeVar("M", bound=models.Model)

# (vendor, model) → for each concrete field: its column expression and the converters of its values.
_CONVERTERS: dict[tuple[str, type[models.Model]], list[tuple[Any, list[Callable]]]] = {}


# (vendor, key) → SQL text: see statement().
_STATEMENTS: dict[tuple, str] = {}


def statement(key: tuple, build: Callable[[], str]) -> str:
    """The SQL text ``build()`` returns, built once per process and database backend for ``key``. Quoting
    the few dozen names of a join took longer than the round trip that runs it (0.2 ms of each survey
    link opened); the text depends only on the models and the backend."""
    full_key = (connection.vendor, *key)
    sql = _STATEMENTS.get(full_key)
    if sql is None:
        sql = _STATEMENTS[full_key] = build()
    return sql


def columns(model: type[models.Model], alias: str) -> str:
    def build() -> str:
        quote = connection.ops.quote_name
        return ", ".join(f"{quote(alias)}.{quote(field.column)}" for field in model._meta.concrete_fields)

    return statement(("columns", model, alias), build)


def _converters(model: type[models.Model]) -> list[tuple[Any, list[Callable]]]:
    key = (connection.vendor, model)
    found = _CONVERTERS.get(key)
    if found is None:
        found = []
        for field in model._meta.concrete_fields:
            column = field.get_col(model._meta.db_table)
            found.append((column, connection.ops.get_db_converters(column) + column.get_db_converters(connection)))
        _CONVERTERS[key] = found
    return found


def instance(model: type[M], values: Sequence[Any]) -> M:
    """An instance of ``model`` from the values of ``columns(model, …)``, in that order."""
    converted = []
    for (column, functions), value in zip(_converters(model), values, strict=True):
        for function in functions:
            value = function(value, column, connection)
        converted.append(value)
    return model.from_db(connection.alias, None, converted)


def update(
    model: type[models.Model],
    pk: Any,
    values: dict[str, Any],
    *,
    where: str = "",
    where_params: Sequence[Any] = (),
    asynchronous: bool = False,
) -> int:
    """``UPDATE`` one row by primary key, as ``model.objects.filter(pk=pk).update(**values)`` would (the
    fields' own preparation of the values), plus an optional condition: ``where`` is SQL in which
    ``{field}`` names a column, ``where_params`` its parameters, each prepared by the field named in
    ``where_params`` as (field name, value) pairs. Returns the number of rows updated (0 or 1).

    ``asynchronous``: for a write that may be lost in a crash of the database server (a tracking
    stamp, never a customer's answer). On PostgreSQL outside a transaction, the statement goes with
    ``SET LOCAL synchronous_commit TO OFF`` in the same message, which PostgreSQL runs as one implicit
    transaction: its commit does not wait for the disk, still one round trip. Inside a transaction (or
    on another database) it is an ordinary update, committed with the rest."""
    meta = model._meta
    fields = {name: meta.get_field(name) for name in values}
    params = [field.get_db_prep_save(values[name], connection) for name, field in fields.items()]
    params.append(meta.pk.get_db_prep_value(pk, connection))
    if where:
        params.extend(meta.get_field(name).get_db_prep_value(value, connection) for name, value in where_params)
    off = asynchronous and connection.vendor == "postgresql" and connection.get_autocommit()

    def build() -> str:
        quote = connection.ops.quote_name
        assignments = ", ".join(f"{quote(field.column)} = %s" for field in fields.values())
        sql = f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {quote(meta.pk.column)} = %s"
        if where:
            sql += f" AND ({where.format(**{f.name: quote(f.column) for f in meta.concrete_fields})})"
        return ("SET LOCAL synchronous_commit TO OFF; " + sql) if off else sql

    sql = statement(("update", model, tuple(fields), where, off), build)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def insert(obj: M) -> M:
    """``INSERT`` one new instance as ``obj.save(force_insert=True)`` would: every concrete field's
    ``pre_save`` and preparation, the database's primary key read back and set, the instance marked as
    saved. No signals are sent (the caller must own a model that has no receivers) and the SQL text is
    built once per model and backend, where compiling the ORM's insert took 0.3-0.5 ms of each answer."""
    meta = obj._meta
    fields = [f for f in meta.concrete_fields if not (f.primary_key and getattr(obj, f.attname) is None)]
    params = [f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields]
    returning = connection.features.can_return_columns_from_insert

    def build() -> str:
        quote = connection.ops.quote_name
        sql = (
            f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "
            f"VALUES ({', '.join(['%s'] * len(fields))})"
        )
        return sql + f" RETURNING {quote(meta.pk.column)}" if returning else sql

    sql = statement(("insert", type(obj), tuple(f.attname for f in fields)), build)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        if getattr(obj, meta.pk.attname) is None:
            pk = cursor.fetchone()[0] if returning else cursor.lastrowid
            setattr(obj, meta.pk.attname, pk)
    obj._state.adding = False
    obj._state.db = connection.alias
    return obj
