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


def events_record_bulk(
    *, kind: EventKind, rows: list[tuple[int, str, dict[str, Any]]], at: datetime
) -> tuple[list[tuple[int, int]], int]:
    """Write many SLA warning or breach events at once (the sweep's path) and plan their
    alerts in a fixed number of queries, in the caller's transaction; the caller enqueues
    delivery on commit. `rows` are (ticket id, to_value, data); returns the (event id, ticket
    id) pairs and the number of alerts planned. Other kinds of event go through
    `event_record`, one by one."""
    from notifications.planner import SLA_ALERT_KINDS, notifications_plan_for_sla_events
    from sla.bulk import rows_insert

    if kind not in SLA_ALERT_KINDS:
        raise ValueError("Only SLA warnings and breaches are recorded in bulk.")
    if not rows:
        return [], 0
    _, created = rows_insert(
        TicketEvent,
        columns={
            "ticket": [ticket_id for ticket_id, _, _ in rows],
            "to_value": [_label(to_value) for _, to_value, _ in rows],
            "data": [data for _, _, data in rows],
        },
        constants={"kind": str(kind), "from_value": "", "created_at": at},
        returning=["id", "ticket"],
    )
    from api.webhooks import webhooks_plan_for_events

    events = [(event_id, ticket_id) for event_id, ticket_id in created]
    planned = notifications_plan_for_sla_events(kind=kind, events=events, at=at)
    webhooks_plan_for_events(event_id for event_id, _ in events)
    return events, planned
