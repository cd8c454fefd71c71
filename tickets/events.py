"""Writing the audit trail. Every ticket event goes through `event_record`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone

from accounts.models import User
from tickets.models import EventKind, ThreadEntry, Ticket, TicketEvent


def event_record(
    *,
    ticket: Ticket,
    kind: EventKind,
    actor: User | None = None,
    from_value: object = "",
    to_value: object = "",
    entry: ThreadEntry | None = None,
    data: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> TicketEvent:
    """Write one event and plan the notifications it causes, in the caller's transaction."""
    from api.webhooks import webhooks_plan_for_event
    from notifications.planner import notifications_plan_for_event

    event = TicketEvent.objects.create(
        ticket=ticket,
        kind=kind,
        actor=actor,
        from_value=_label(from_value),
        to_value=_label(to_value),
        entry=entry,
        data=data or {},
        created_at=at or timezone.now(),
    )
    notifications_plan_for_event(event)
    webhooks_plan_for_event(event)
    return event


def _label(value: object) -> str:
    return "" if value is None else str(value)[:255]
