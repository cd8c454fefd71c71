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
    return event


def _label(value: object) -> str:
    return "" if value is None else str(value)[:255]


def events_record_bulk(*, events: list[TicketEvent]) -> list[TicketEvent]:
    """Write many SLA warning and breach events at once (the sweep's path), planning their
    alerts in a fixed number of queries, in the caller's transaction. The caller enqueues
    delivery on commit. Other kinds go through `event_record`, one by one."""
    from notifications.planner import SLA_ALERT_KINDS, notifications_plan_for_sla_events

    if any(event.kind not in SLA_ALERT_KINDS for event in events):
        raise ValueError("Only SLA warnings and breaches are recorded in bulk.")
    created = TicketEvent.objects.bulk_create(events, batch_size=5000)
    notifications_plan_for_sla_events(created)
    return created
