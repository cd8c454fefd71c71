"""Multi-row INSERTs from plain tuples, for the sweep's bulk writes.

`bulk_create` prepares every field of every row through the model layer, which for the tens
of thousands of event and alert rows of a mass breach costs seconds; rows of plain values
sent as multi-row VALUES cost milliseconds. Works on PostgreSQL and SQLite (3.35 or newer).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from itertools import islice
from typing import Any

from django.db import connection, models

# Rows per statement: well under SQLite's 32,766 parameters for the widest row written here.
ROWS_PER_STATEMENT = 1000


def batched(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def db_value(value: object) -> object:
    """A value as the database driver takes it (aware datetimes, dicts and lists for JSON).
    Callers adapt once what every row repeats, rather than once per row."""
    if isinstance(value, datetime):
        return connection.ops.adapt_datetimefield_value(value)
    if isinstance(value, dict | list):
        return json.dumps(value)
    return value


def rows_insert(
    model: type[models.Model],
    fields: Sequence[str],
    rows: Iterable[Sequence[object]],
    *,
    returning: Sequence[str] = (),
    ignore_conflicts: bool = False,
) -> tuple[int, list[tuple[Any, ...]]]:
    """Insert `rows` (values in the order of `fields`, as `db_value` gives them); returns the number inserted and, if
    asked, the `returning` columns of each inserted row. With `ignore_conflicts`, rows that
    would break a unique constraint are left out, and neither counted nor returned."""
    q = connection.ops.quote_name
    meta = model._meta

    def column(name: str) -> str:
        return q(meta.get_field(name).column)  # type: ignore[union-attr,arg-type]

    columns = ", ".join(column(name) for name in fields)
    placeholder = "(" + ", ".join(["%s"] * len(fields)) + ")"
    tail = " ON CONFLICT DO NOTHING" if ignore_conflicts else ""
    if returning:
        tail += " RETURNING " + ", ".join(column(name) for name in returning)
    inserted, returned = 0, []
    with connection.cursor() as cursor:
        for chunk in batched(rows, ROWS_PER_STATEMENT):
            values = ", ".join([placeholder] * len(chunk))
            sql = f"INSERT INTO {q(meta.db_table)} ({columns}) VALUES {values}{tail}"  # noqa: S608 (names from the model)
            cursor.execute(sql, [v for row in chunk for v in row])
            if returning:
                fetched = cursor.fetchall()
                returned.extend(fetched)
                inserted += len(fetched)
            else:
                inserted += cursor.rowcount
    return inserted, returned
