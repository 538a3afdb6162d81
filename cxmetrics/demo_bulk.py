"""Fast bulk inserts for generated data (seed_demo, benchmarks).

PostgreSQL gets COPY; other databases get executemany in batches. Rows carry
explicit primary keys so related rows can be generated before they are stored;
``sequence_reset`` moves PostgreSQL's sequences past them afterwards.

``indexes_built_after`` drops a table's secondary indexes for the length of a bulk load into it and
builds them once afterwards (seed_demo).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

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


# The indexes of the given tables that a load can do without: not the primary key, nor an index a
# foreign key depends on (the referenced unique key); with the constraint each one backs, if any.
_SECONDARY_INDEXES = """
SELECT t.relname, i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid), c.conname, pg_get_constraintdef(c.oid)
FROM pg_index i
JOIN pg_class t ON t.oid = i.indrelid
LEFT JOIN pg_constraint c ON c.conindid = i.indexrelid AND c.conrelid = i.indrelid AND c.contype IN ('u', 'x')
WHERE t.relname = ANY(%s) AND t.relnamespace = current_schema()::regnamespace AND NOT i.indisprimary
  AND NOT EXISTS (SELECT 1 FROM pg_constraint f WHERE f.contype = 'f' AND f.conindid = i.indexrelid)
ORDER BY t.relname, i.indexrelid
"""


@contextmanager
def indexes_built_after(tables: Sequence[str]) -> Iterator[None]:
    """Drop the secondary indexes and the unique constraints of ``tables`` (PostgreSQL; elsewhere a
    no-op), run the block, then create every one of them again, exactly as it was (its own definition,
    read from the catalog). A COPY into an indexed table pays a random insert per row and index (the
    invitations' random tokens most); an index built once after the load sorts instead, in parallel.
    Only inside a transaction (the caller's): should the load or a rebuilt unique key fail, everything
    is rolled back, the indexes included."""
    if connection.vendor != "postgresql":
        yield
        return
    if not connection.in_atomic_block:
        raise RuntimeError("indexes_built_after must run inside a transaction")
    quote = connection.ops.quote_name

    def check_deferred(cursor) -> None:
        # Foreign-key checks deferred to COMMIT (Django's are) would block the DDL on their tables:
        # run them now, then defer again what was deferred.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")

    with connection.cursor() as cursor:
        check_deferred(cursor)
        cursor.execute(_SECONDARY_INDEXES, [list(tables)])
        dropped = cursor.fetchall()
        for table, index, _definition, constraint, _constraint_definition in dropped:
            if constraint:
                cursor.execute(f"ALTER TABLE {quote(table)} DROP CONSTRAINT {quote(constraint)}")
            else:
                cursor.execute(f"DROP INDEX {index}")  # regclass text: already quoted where needed
    yield
    with connection.cursor() as cursor:
        check_deferred(cursor)
        cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
        for table, _index, definition, constraint, constraint_definition in dropped:
            if constraint:
                cursor.execute(f"ALTER TABLE {quote(table)} ADD CONSTRAINT {quote(constraint)} {constraint_definition}")
            else:
                cursor.execute(definition)


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
