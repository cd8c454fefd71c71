"""CSV downloads of ticket lists and dashboard tables.

Spreadsheets run a cell that starts with = + - @ (or a tab or carriage return before one) as
a formula, and subjects and names are written by anyone who can send an email: such text
cells get a leading apostrophe, which spreadsheets show as text and never evaluate.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, tzinfo

from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django.utils import timezone

from tickets.models import Ticket

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object, tz: tzinfo | None = None) -> object:
    """A value safe to put in a CSV cell. Numbers stay numbers (a negative number is no formula)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return value
    if isinstance(value, datetime):
        return timezone.localtime(value, tz).isoformat(timespec="seconds")
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_response(filename: str, header: Sequence[str], rows: Iterable[Sequence[object]]) -> StreamingHttpResponse:
    """A streamed CSV download: rows are written as they are read, never held in memory."""
    writer = csv.writer(_Echo())
    # The rows are written after the view has returned: keep the agent's time zone now.
    tz = timezone.get_current_timezone()

    def lines() -> Iterator[str]:
        yield writer.writerow([csv_cell(h) for h in header])
        for row in rows:
            yield writer.writerow([csv_cell(v, tz) for v in row])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


TICKET_COLUMNS = (
    "Number",
    "Subject",
    "Requester",
    "Requester email",
    "Status",
    "Priority",
    "Department",
    "Help topic",
    "Assignee",
    "Source",
    "Created",
    "Last update",
    "Due",
    "Overdue",
    "First response",
    "Resolved",
    "Closed",
)


def ticket_rows(tickets: QuerySet[Ticket]) -> Iterator[Sequence[object]]:
    # One query, read in chunks (the joined rows come with it: no query per ticket).
    for t in tickets.select_related("requester", "status", "priority", "department", "help_topic", "assignee").iterator(
        chunk_size=2000
    ):
        yield (
            t.number,
            t.subject,
            t.requester.name,
            t.requester.email,
            t.status.name,
            t.priority.name,
            t.department.name,
            t.help_topic.name if t.help_topic else "",
            t.assignee.name if t.assignee else "",
            t.get_source_display(),
            t.created_at,
            t.updated_at,
            t.due_at,
            t.is_overdue,
            t.first_response_at,
            t.resolved_at,
            t.closed_at,
        )
