"""Reads of the REST API, on top of the access rules of tickets/selectors.py."""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, F, OuterRef, Q, QuerySet

from accounts.models import User
from tickets.models import EntryKind, ThreadEntry, Ticket
from tickets.selectors import tickets_visible_to

ORDER_FIELDS = {
    "number": "number",
    "created_at": "created_at",
    "updated_at": "updated_at",
    "due_at": "due_at",
    "priority": "priority__urgency",
}

TICKET_RELATED = ("requester", "department", "help_topic", "priority", "status", "assignee", "sla_plan")


def tickets_search(*, tickets: QuerySet[Ticket], user: User, text: str) -> QuerySet[Ticket]:
    """Tickets whose number, subject, requester or thread mention `text`.

    A plain case-insensitive match; the thread part looks only at what the user may read,
    so that an end user cannot find a ticket by words in an internal note.
    """
    text = text.strip()
    if not text:
        return tickets
    entries = ThreadEntry.objects.filter(ticket_id=OuterRef("pk"), body__icontains=text)
    if not user.is_agent:
        entries = entries.exclude(kind=EntryKind.NOTE)
    match = Q(subject__icontains=text) | Q(requester__email__icontains=text) | Q(requester__name__icontains=text)
    digits = text.lstrip("#")
    if digits.isdecimal() and len(digits) <= 18:  # not isdigit: int() refuses '²'
        match |= Q(number=int(digits))
    return tickets.filter(match | Exists(entries))


def tickets_for_api(*, user: User, filters: dict[str, Any]) -> QuerySet[Ticket]:
    """The tickets `user` may see, filtered and ordered as the list endpoint was asked."""
    tickets = tickets_visible_to(user).select_related(*TICKET_RELATED)
    exact = {
        "status": "status_id",
        "state": "state",
        "priority": "priority_id",
        "department": "department_id",
        "help_topic": "help_topic_id",
        "source": "source",
        "created_after": "created_at__gte",
        "created_before": "created_at__lt",
        "updated_after": "updated_at__gte",
        "updated_before": "updated_at__lt",
    }
    for name, lookup in exact.items():
        if filters.get(name) is not None:
            tickets = tickets.filter(**{lookup: filters[name]})
    assignee = filters.get("assignee")
    if assignee == "none":
        tickets = tickets.filter(assignee__isnull=True)
    elif assignee == "me":
        tickets = tickets.filter(assignee_id=user.pk)
    elif assignee:
        tickets = tickets.filter(assignee_id=int(assignee))
    if filters.get("requester"):
        tickets = tickets.filter(requester__email=filters["requester"].strip().lower())
    if filters.get("overdue") is not None:
        tickets = tickets.filter(is_overdue=filters["overdue"])
    if filters.get("q"):
        tickets = tickets_search(tickets=tickets, user=user, text=filters["q"])
    ordering = filters.get("ordering") or "-created_at"
    field = ORDER_FIELDS[ordering.lstrip("-")]
    expression = F(field).desc(nulls_last=True) if ordering.startswith("-") else F(field).asc(nulls_last=True)
    # The number breaks ties, so that pages never repeat or skip a ticket.
    return tickets.order_by(expression, "-number" if ordering.startswith("-") else "number")
