"""Bulk-loading helpers for PostgreSQL, with psycopg2 alone (no Django).

Shared by the project's dataset loader and the peer's loader, which runs in the peer's own
virtual environment and so cannot import the project.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import psycopg2
from psycopg2.extensions import connection as Connection


@dataclass
class Dropped:
    """What was dropped for a load: the statements that rebuild it."""

    indexes: list[tuple[str, str]] = field(default_factory=list)  # table, CREATE INDEX …
    foreign_keys: list[tuple[str, str, str]] = field(default_factory=list)  # table, name, definition


def drop_for_load(conn: Connection, tables: list[str]) -> Dropped:
    """Drop the plain indexes and the foreign keys of `tables`; primary keys and unique
    constraints stay, so that a duplicate still fails the load at once."""
    with conn.cursor() as cursor:
        cursor.execute(
            """
            SELECT i.tablename, i.indexname, i.indexdef FROM pg_indexes i
            WHERE i.tablename = ANY(%s) AND i.schemaname = current_schema()
              AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)
            ORDER BY i.tablename, i.indexname
            """,
            [tables],
        )
        indexes = cursor.fetchall()
        cursor.execute(
            """
            SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid) FROM pg_constraint c
            WHERE c.contype = 'f' AND c.conrelid::regclass::text = ANY(%s)
            ORDER BY 1, 2
            """,
            [tables],
        )
        foreign_keys = cursor.fetchall()
        for table, name, _ in foreign_keys:
            cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        for _, name, _ in indexes:
            cursor.execute(f'DROP INDEX IF EXISTS "{name}"')
    conn.commit()
    return Dropped(indexes=[(t, d) for t, _, d in indexes], foreign_keys=foreign_keys)


def rebuild(
    dsn: dict[str, Any],
    dropped: Dropped,
    *,
    rows: dict[str, int],
    workers: int = 2,
    log: Callable[[str], None] = print,
) -> None:
    """Build the dropped indexes, then restore the foreign keys, on `workers` connections at once.

    A foreign key added to a loaded table is checked in one pass (a join), not by a lookup
    per row. ALTER TABLE locks its table, so each table's statements go to one connection,
    its keys after its indexes; the biggest tables are spread first.
    """
    by_table: dict[str, list[str]] = {}
    for table, definition in dropped.indexes:
        by_table.setdefault(table, []).append(definition)
    for table, name, definition in dropped.foreign_keys:
        by_table.setdefault(table, []).append(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
    weight = {table: (rows.get(table, 0) + 1) * len(statements) for table, statements in by_table.items()}
    shares: list[list[str]] = [[] for _ in range(max(1, workers))]
    load = [0] * len(shares)
    for table in sorted(by_table, key=weight.__getitem__, reverse=True):
        least = load.index(min(load))
        shares[least].extend(by_table[table])
        load[least] += weight[table]

    def run(statements: list[str]) -> None:
        conn = psycopg2.connect(**dsn)
        conn.autocommit = True
        try:
            with conn.cursor() as cursor:
                cursor.execute("SET maintenance_work_mem TO '512MB'")
                for statement in statements:
                    started = time.monotonic()
                    cursor.execute(statement)
                    seconds = time.monotonic() - started
                    if seconds >= 1:
                        log(f"  {_short(statement)} ({seconds:.0f} s)")
        finally:
            conn.close()

    with ThreadPoolExecutor(max_workers=len(shares)) as pool:
        for future in [pool.submit(run, share) for share in shares if share]:
            future.result()


def _short(statement: str) -> str:
    words = statement.split()
    if statement.startswith("CREATE"):
        return f"index {words[words.index('INDEX') + 1]}"
    return f"foreign key {words[5]}"


def reset_sequences(conn: Connection, tables: list[str]) -> None:
    with conn.cursor() as cursor:
        for table in tables:
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), COALESCE((SELECT MAX(id) FROM {table}), 1))"
            )
    conn.commit()


def vacuum_analyze(dsn: dict[str, Any], tables: list[str], *, vacuum: bool = True, workers: int = 2) -> None:
    """VACUUM sets the visibility map as autovacuum soon would, so that index-only scans
    are measured as a live database runs them; ANALYZE gives the planner its statistics.
    The tables are spread over `workers` connections."""

    def run(table: str) -> None:
        conn = psycopg2.connect(**dsn)
        conn.autocommit = True
        try:
            with conn.cursor() as cursor:
                cursor.execute(f"{'VACUUM (ANALYZE)' if vacuum else 'ANALYZE'} {table}")
        finally:
            conn.close()

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for future in [pool.submit(run, table) for table in tables]:
            future.result()


def marker_read(conn: Connection) -> dict[str, Any]:
    """What a bench loader last recorded on this database (its comment), or {}."""
    with conn.cursor() as cursor:
        cursor.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = current_database()"
        )
        row = cursor.fetchone()
    conn.commit()
    try:
        found = json.loads(row[0]) if row and row[0] else {}
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def marker_write(conn: Connection, figures: dict[str, Any]) -> None:
    with conn.cursor() as cursor:
        cursor.execute("SELECT current_database()")
        name = cursor.fetchone()[0]
        comment = json.dumps(figures).replace("'", "''")
        cursor.execute(f"COMMENT ON DATABASE \"{name}\" IS '{comment}'")
    conn.commit()


def copy_between(
    source: Connection,
    target: Connection,
    select_sql: str,
    table: str,
    columns: list[str],
    *,
    freeze: bool = False,
    chunk: int = 1 << 16,
) -> int:
    """Stream `COPY (select_sql) TO STDOUT` on `source` into `COPY table (columns) FROM STDIN`
    on `target` through an OS pipe: both servers work at once, nothing lands on disk.

    `freeze` needs the table truncated (or created) in the target's open transaction.
    """
    read_fd, write_fd = os.pipe()
    errors: list[BaseException] = []

    def produce() -> None:
        with os.fdopen(write_fd, "wb", buffering=chunk) as sink:
            try:
                with source.cursor() as cursor:
                    cursor.copy_expert(f"COPY ({select_sql}) TO STDOUT", sink)
            except BaseException as exc:  # handed to the consumer's thread
                errors.append(exc)

    thread = threading.Thread(target=produce, daemon=True)
    thread.start()
    with os.fdopen(read_fd, "rb", buffering=chunk) as stream, target.cursor() as cursor:
        options = " WITH (FREEZE)" if freeze else ""
        cursor.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN{options}", stream, size=chunk)
        rows = cursor.rowcount
    thread.join()
    if errors:
        raise errors[0]
    return rows
