"""Fast bulk inserts for generated data (seed_demo, benchmarks), and the bulk lookup of many values.

PostgreSQL gets COPY; other databases get executemany in batches. Rows carry
explicit primary keys so related rows can be generated before they are stored;
``sequence_reset`` moves PostgreSQL's sequences past them afterwards.

``one_of`` filters a column by thousands of values (a CRM page's ids, an import's customers) as one
array parameter on PostgreSQL, and ``array_literal`` writes such an array.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

from django.db import connection
from django.db.models import F, Lookup, Q

BATCH = 20_000


def next_id(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {connection.ops.quote_name(table)}")
        return int(cursor.fetchone()[0]) + 1


def _copy_postgres(table: str, columns: Sequence[str], rows: Iterable[Sequence]) -> int:
    count = 0
    quoted = ", ".join(connection.ops.quote_name(c) for c in columns)
    sql = f"COPY {connection.ops.quote_name(table)} ({quoted}) FROM STDIN WITH (FORMAT csv, NULL '\\N')"
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")

    def flush() -> None:
        buffer.seek(0)
        with connection.cursor() as cursor:
            cursor.cursor.copy_expert(sql, buffer)
        buffer.seek(0)
        buffer.truncate()

    pending = 0
    for row in rows:
        writer.writerow(["\\N" if v is None else v for v in row])
        pending += 1
        count += 1
        if pending >= BATCH:
            flush()
            pending = 0
    if pending:
        flush()
    return count


def _executemany(table: str, columns: Sequence[str], rows: Iterable[Sequence]) -> int:
    quoted = ", ".join(connection.ops.quote_name(c) for c in columns)
    placeholders = ", ".join(["%s"] * len(columns))
    sql = f"INSERT INTO {connection.ops.quote_name(table)} ({quoted}) VALUES ({placeholders})"
    count = 0
    batch: list[Sequence] = []
    with connection.cursor() as cursor:
        for row in rows:
            batch.append(row)
            if len(batch) >= BATCH:
                cursor.executemany(sql, batch)
                count += len(batch)
                batch = []
        if batch:
            cursor.executemany(sql, batch)
            count += len(batch)
    return count


def bulk_insert(table: str, columns: Sequence[str], rows: Iterable[Sequence]) -> int:
    """Insert rows (tuples in ``columns`` order) into ``table``; returns the count."""
    if connection.vendor == "postgresql":
        return _copy_postgres(table, columns, rows)
    return _executemany(table, columns, rows)


def sequence_reset(tables: Iterable[str]) -> None:
    if connection.vendor != "postgresql":
        return  # SQLite's rowid follows MAX(id) by itself.
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(
                "SELECT setval(pg_get_serial_sequence(%s, 'id'), GREATEST((SELECT MAX(id) FROM "
                f"{connection.ops.quote_name(table)}), 1))",
                [table],
            )


class _EqualsAny(Lookup):
    """``column = ANY('{…}'::type[])``: the values as one array literal, which PostgreSQL parses and
    plans several times faster than an IN list of 1 000 parameters."""

    lookup_name = "equals_any"
    prepare_rhs = False

    def __init__(self, lhs, rhs, cast: str) -> None:
        super().__init__(lhs, rhs)
        self.cast = cast

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        return f"{lhs} = ANY(%s::{self.cast}[])", [*lhs_params, array_literal(self.rhs)]


def one_of(field: str, values, *, cast: str = "text") -> Q | Lookup:
    """A filter ``field IN values`` as the backend reads it fastest; ``cast`` is the column's
    PostgreSQL type (text, bigint)."""
    if cast not in {"text", "bigint", "integer"}:
        raise ValueError(f"Unsupported array type {cast!r}")
    if connection.vendor == "postgresql":
        return _EqualsAny(F(field), tuple(values), cast)
    return Q(**{f"{field}__in": values})


def array_literal(values: tuple) -> str:
    """A PostgreSQL array literal (``{"a","b",NULL}``) of these values. Every element is quoted, so
    commas, braces, quotes, backslashes and the word NULL inside a value stay data."""
    if not values:
        return "{}"
    if all(type(value) is str for value in values):
        # A text column (the most common): escaped in one pass over the joined values. NUL cannot
        # occur in a PostgreSQL string, so it can stand for the separator while escaping.
        joined = "\x00".join(values)
        if joined.count("\x00") != len(values) - 1:
            raise ValueError("A string cannot contain NUL (0x00) characters")
        return '{"' + joined.replace("\\", "\\\\").replace('"', '\\"').replace("\x00", '","') + '"}'
    if None not in values and not any(isinstance(value, str) for value in values):
        # Numbers or datetimes, whose text has nothing to escape; a column of one value (a timestamp
        # of the page, the connection) is formatted once.
        if values.count(values[0]) == len(values):
            return '{"' + '","'.join([str(values[0])] * len(values)) + '"}'
        return '{"' + '","'.join(map(str, values)) + '"}'
    return "{" + ",".join("NULL" if value is None else _array_element(value) for value in values) + "}"


def _array_element(value) -> str:
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f'"{value}"'  # a number or a datetime, whose text has no quote nor backslash
