"""Fast bulk inserts for generated data (seed_demo, benchmarks).

PostgreSQL gets COPY; other databases get executemany in batches. Rows carry
explicit primary keys so related rows can be generated before they are stored;
``sequence_reset`` moves PostgreSQL's sequences past them afterwards.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

from django.db import connection

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
