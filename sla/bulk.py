"""Bulk INSERTs for the sweep's writes: the events and alert rows of a mass breach.

`bulk_create` prepares every field of every row through the model layer, and a multi-row
VALUES list makes PostgreSQL parse and plan each row as its own expression list: for the
tens of thousands of rows of a mass breach either costs seconds. On PostgreSQL the rows go
as one array literal per column, unnested by the server (array parsing is cheap), and the
columns every row shares are sent once; elsewhere (SQLite) as multi-row VALUES.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from itertools import islice
from typing import Any

from django.db import connection, models

# Rows per statement on SQLite: well under its 32,766 parameters for the rows written here.
ROWS_PER_STATEMENT = 1000


def batched(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _value(value: object) -> object:
    """A value as the driver takes it."""
    if isinstance(value, datetime):
        return connection.ops.adapt_datetimefield_value(value)
    if isinstance(value, dict | list):
        return json.dumps(value)
    return value


def _array_literal(values: Sequence[object]) -> str:
    """A PostgreSQL array literal ('{1,"two",NULL}'); each element read by its column's type."""
    if all(type(value) is int for value in values):
        return "{" + ",".join(map(str, values)) + "}"
    parts = []
    for value in values:
        if value is None:
            parts.append("NULL")
            continue
        if isinstance(value, bool):
            text = "t" if value else "f"
        elif isinstance(value, datetime):
            text = value.isoformat()
        elif isinstance(value, dict | list):
            text = json.dumps(value)
        else:
            text = str(value)
        parts.append('"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"')
    return "{" + ",".join(parts) + "}"


def rows_insert(
    model: type[models.Model],
    *,
    columns: Mapping[str, Sequence[object]],
    constants: Mapping[str, object] | None = None,
    returning: Sequence[str] = (),
) -> tuple[int, list[tuple[Any, ...]]]:
    """Insert one row per index of the `columns` sequences (all of one length), each also
    taking the `constants`; returns how many were inserted and, if asked, their `returning`
    columns."""
    constants = constants or {}
    q = connection.ops.quote_name
    meta = model._meta
    fields = {name: meta.get_field(name) for name in [*columns, *constants, *returning]}

    def column(name: str) -> str:
        return q(fields[name].column)  # type: ignore[union-attr,arg-type]

    count = len(next(iter(columns.values()))) if columns else 0
    if count == 0:
        return 0, []
    names = [*columns, *constants]
    into = f"INSERT INTO {q(meta.db_table)} ({', '.join(column(n) for n in names)})"
    tail = f" RETURNING {', '.join(column(n) for n in returning)}" if returning else ""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            arrays = ", ".join(f"%s::{fields[n].db_type(connection)}[]" for n in columns)  # type: ignore[union-attr]
            aliases = [f"c{i}" for i in range(len(columns))]
            shared = [f"%s::{fields[n].db_type(connection)}" for n in constants]  # type: ignore[union-attr]
            sql = (
                f"{into} SELECT {', '.join([*aliases, *shared])} "  # noqa: S608  # nosec B608 (column names and types come from the model; values are parameters)
                f"FROM unnest({arrays}) AS rows({', '.join(aliases)}){tail}"
            )
            # The shared values come first in the statement, the arrays after them.
            params: list[Any] = [_value(v) for v in constants.values()]
            params += [_array_literal(values) for values in columns.values()]
            cursor.execute(sql, params)
            if returning:
                returned = cursor.fetchall()
                return len(returned), returned
            return cursor.rowcount, []
        values_shared: list[Any] = [_value(v) for v in constants.values()]
        placeholder = "(" + ", ".join(["%s"] * len(names)) + ")"
        inserted, returned = 0, []
        for start in range(0, count, ROWS_PER_STATEMENT):
            rows = range(start, min(start + ROWS_PER_STATEMENT, count))
            sql = f"{into} VALUES {', '.join([placeholder] * len(rows))}{tail}"
            row_params: list[Any] = [
                p for i in rows for p in (*(_value(values[i]) for values in columns.values()), *values_shared)
            ]
            cursor.execute(sql, row_params)
            if returning:
                fetched = cursor.fetchall()
                returned.extend(fetched)
                inserted += len(fetched)
            else:
                inserted += cursor.rowcount
        return inserted, returned
