"""Who hears of an event: the notification rows each ticket event plans.

Called by `tickets.events.event_record` inside the change's transaction; delivery is
enqueued on commit, so a change that rolls back sends nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import DepartmentMembership, User
from helpdesk.config_cache import config_cached
from notifications.models import (
    REQUESTER_KINDS,
    Notification,
    NotificationKind,
    NotificationSetting,
    NotificationState,
)
from tickets.models import EventKind, Ticket, TicketEvent, TicketState


def _department_agents(department_id: int) -> list[User]:
    memberships = DepartmentMembership.objects.filter(
        department_id=department_id, agent__is_active=True
    ).select_related("agent")
    return [m.agent for m in memberships]


def _assignee_or_department(event: TicketEvent) -> list[User]:
    ticket = event.ticket
    return [ticket.assignee] if ticket.assignee_id and ticket.assignee else _department_agents(ticket.department_id)


def _manager(event: TicketEvent) -> list[User]:
    manager = event.ticket.department.manager
    return [manager] if manager is not None and manager.is_active else []


def _requester_and_collaborators(event: TicketEvent) -> list[User]:
    ticket = event.ticket
    return [ticket.requester, *ticket.collaborators.filter(is_active=True)]


def recipients_for(event: TicketEvent) -> list[tuple[NotificationKind, User]]:
    """The (kind, person) pairs an event notifies, before removing the one who caused it."""
    data = event.data or {}
    kind = event.kind
    plan: list[tuple[NotificationKind, Iterable[User]]] = []
    if kind == EventKind.CREATED:
        if data.get("autorespond", True) and event.ticket.department.auto_response and not data.get("opened_by_agent"):
            plan.append((NotificationKind.AUTO_RESPONSE, [event.ticket.requester]))
        if data.get("alert", True):
            plan.append((NotificationKind.NEW_TICKET_ALERT, _department_agents(event.ticket.department_id)))
    elif kind == EventKind.MESSAGE:
        plan.append((NotificationKind.NEW_MESSAGE_ALERT, _assignee_or_department(event)))
    elif kind == EventKind.RESPONSE:
        plan.append((NotificationKind.RESPONSE, _requester_and_collaborators(event)))
    elif kind == EventKind.NOTE:
        people = [event.ticket.assignee] if event.ticket.assignee else []
        plan.append((NotificationKind.NOTE_ALERT, [*people, *_manager(event)]))
    elif kind == EventKind.ASSIGNED and event.ticket.assignee is not None:
        plan.append((NotificationKind.ASSIGNED_ALERT, [event.ticket.assignee]))
    elif kind == EventKind.TRANSFERRED:
        plan.append(
            (NotificationKind.TRANSFER_ALERT, [*_department_agents(event.ticket.department_id), *_manager(event)])
        )
    elif kind == EventKind.OVERDUE:
        plan.append((NotificationKind.OVERDUE_ALERT, [*_assignee_or_department(event), *_manager(event)]))
    elif kind == EventKind.SLA_WARNING:
        plan.append((NotificationKind.WARNING_ALERT, _assignee_or_department(event)))
    elif kind == EventKind.STATUS_CHANGED and data.get("to_state") == TicketState.RESOLVED:
        plan.append((NotificationKind.RESOLVED_NOTICE, [event.ticket.requester]))
    pairs: list[tuple[NotificationKind, User]] = []
    for notification_kind, group in plan:
        pairs.extend((notification_kind, person) for person in group if person is not None)
    return pairs


def _switched_off(department_id: int | None) -> set[str]:
    """The kinds switched off globally or for this department (one query, kept per process
    until a setting changes)."""

    def load() -> frozenset[str]:
        rows = NotificationSetting.objects.filter(enabled=False).filter(
            Q(department__isnull=True) | Q(department_id=department_id)
        )
        return frozenset(rows.values_list("kind", flat=True))

    return set(config_cached(f"notifications-off:{department_id}", load))


def notifications_plan_for_event(event: TicketEvent) -> list[Notification]:
    seen: set[str] = set()
    rows = []
    pairs = recipients_for(event)
    off = _switched_off(event.ticket.department_id) if pairs else set()
    for kind, person in pairs:
        if kind in off:
            continue
        caused_it = event.actor_id is not None and person.pk == event.actor_id
        # No one is told of what they did themselves, except the requester's receipt.
        if (caused_it and kind != NotificationKind.AUTO_RESPONSE) or not person.is_active:
            continue
        if person.email in seen:
            continue
        if kind not in REQUESTER_KINDS and not person.is_agent:
            # Alerts (which may quote internal notes) go to agents alone.
            continue
        seen.add(person.email)
        rows.append(
            Notification(kind=kind, ticket=event.ticket, event=event, recipient=person, recipient_email=person.email)
        )
    if not rows:
        return []
    created = Notification.objects.bulk_create(rows, ignore_conflicts=True)
    event_id = event.pk
    transaction.on_commit(lambda: _enqueue(event_id))
    return created


def notification_plan_direct(
    *, kind: NotificationKind, recipient: User, ticket_id: int | None, context: dict[str, object]
) -> Notification | None:
    """A notification that no ticket event causes (a ticket link asked for in the portal, an
    alert to admins about a mailbox). Returns None when the kind is switched off."""
    department_id = (
        Ticket.objects.filter(pk=ticket_id).values_list("department_id", flat=True).first() if ticket_id else None
    )
    if kind in _switched_off(department_id):
        return None
    notification = Notification.objects.create(
        kind=kind, ticket_id=ticket_id, recipient=recipient, recipient_email=recipient.email, context=context
    )
    notification_id = notification.pk
    transaction.on_commit(lambda: _enqueue_one(notification_id))
    return notification


def _enqueue(event_id: int) -> None:
    from notifications.services import enqueue_delivery

    enqueue_delivery(event_id=event_id)


def _enqueue_one(notification_id: int) -> None:
    from notifications.services import enqueue_delivery

    enqueue_delivery(notification_id=notification_id)


# ---------------------------------------------------------------- the SLA sweep's bulk path

SLA_ALERT_KINDS = {
    EventKind.OVERDUE: NotificationKind.OVERDUE_ALERT,
    EventKind.SLA_WARNING: NotificationKind.WARNING_ALERT,
}


def notifications_plan_for_sla_events(*, kind: EventKind, events: list[tuple[int, int]], at: datetime) -> int:
    """Plan the alerts of many warning or breach events, given as (event id, ticket id), in
    a fixed number of queries.

    The same people as `recipients_for` (a test keeps them equal): the assignee, or the
    department's agents when nobody is assigned; for a breach, the department manager too;
    active agents only, each once per event; none where the kind is switched off for the
    ticket's department or everywhere (NotificationSetting). Written in the caller's
    transaction; the caller enqueues delivery on commit. Returns the number of rows planned.
    The events are new and each recipient is listed once per event, so no row can clash
    with the unique (event, recipient) index: a plain INSERT, without the cost of ON CONFLICT.
    """
    from sla.bulk import rows_insert

    notification_kind = SLA_ALERT_KINDS[kind]
    off = set(
        NotificationSetting.objects.filter(kind=notification_kind, enabled=False).values_list(
            "department_id", flat=True
        )
    )
    if not events or None in off:  # switched off everywhere
        return 0
    tickets = {
        pk: (assignee_id, department_id, manager_id)
        for pk, assignee_id, department_id, manager_id in Ticket.objects.filter(
            pk__in=sorted({ticket_id for _, ticket_id in events})
        ).values_list("pk", "assignee_id", "department_id", "department__manager_id")
    }
    members: dict[int, list[int]] = {}
    for department_id, agent_id in (
        DepartmentMembership.objects.filter(department_id__in={t[1] for t in tickets.values()})
        .order_by("department_id", "agent_id")
        .values_list("department_id", "agent_id")
    ):
        members.setdefault(department_id, []).append(agent_id)
    people_ids = {a for agents in members.values() for a in agents}
    people_ids |= {t[0] for t in tickets.values() if t[0]} | {t[2] for t in tickets.values() if t[2]}
    # Alerts go to active agents alone.
    emails = dict(
        User.objects.filter(pk__in=people_ids, is_active=True, kind__in=(User.Kind.AGENT, User.Kind.ADMIN)).values_list(
            "pk", "email"
        )
    )
    tickets_of, events_of, people_of, emails_of = [], [], [], []
    for event_id, ticket_id in events:
        assignee_id, department_id, manager_id = tickets[ticket_id]
        if department_id in off:
            continue
        people = [assignee_id] if assignee_id else members.get(department_id, [])
        if kind == EventKind.OVERDUE and manager_id:
            people = [*people, manager_id]
        seen: set[str] = set()
        for person_id in people:
            email = emails.get(person_id)
            if email is None or email in seen:
                continue
            seen.add(email)
            tickets_of.append(ticket_id)
            events_of.append(event_id)
            people_of.append(person_id)
            emails_of.append(email)
    if not emails_of:
        return 0
    inserted, _ = rows_insert(
        Notification,
        columns={"ticket": tickets_of, "event": events_of, "recipient": people_of, "recipient_email": emails_of},
        constants={
            "kind": str(notification_kind),
            "state": str(NotificationState.PENDING),
            "attempts": 0,
            "last_error": "",
            "context": {},
            "message_id": "",
            "created_at": at,
            # Due for sending at once, whatever instant the sweep ran for.
            "next_attempt_at": timezone.now(),
        },
    )
    return inserted
