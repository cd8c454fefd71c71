"""Every change to a ticket.

This module alone assigns a ticket's status, department, assignee, priority or SLA plan
(tests/test_single_writer.py keeps it so). Each service checks the actor's permission and
the allowed transition, runs in one transaction with the ticket's row locked, keeps the SLA
clocks in step, writes the event, and leaves what must leave the process (mail, webhooks)
to `transaction.on_commit`, through the notification rows the events plan.

`actor=None` is the system itself (the SLA sweep, auto-close, mail without a known sender).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import DepartmentMembership, Perm, User
from helpdesk.config_cache import config_cached
from sla import clocks, deadlines
from sla.models import SLAPlan
from tickets.attachments import Upload, attachments_check, attachments_save, files_removed_on_error
from tickets.events import event_record
from tickets.exceptions import ActionNotAllowed, InvalidInput, InvalidTransition, StaleTicket
from tickets.models import (
    AccessLink,
    Department,
    EntryKind,
    EventKind,
    HelpTopic,
    Priority,
    Status,
    ThreadEntry,
    Ticket,
    TicketSource,
    TicketState,
)
from tickets.numbers import ticket_number_random
from tickets.permissions import agent_roles, requester_may_write, ticket_allows, ticket_require
from tickets.sanitize import clean_html, html_to_text, single_line

NUMBER_ATTEMPTS = 20
MAX_DUE_AHEAD = timedelta(days=5 * 365)


# ---------------------------------------------------------------- helpers


def _now(now: datetime | None) -> datetime:
    return now or timezone.now()


def _lock(ticket: Ticket, expected_version: int | None = None) -> Ticket:
    """The ticket re-read under a row lock.

    The lock is taken by a query on the ticket row alone, and the related rows are read by a
    second query: PostgreSQL re-checks a locked row that another transaction changed against
    the rows it was joined with before the wait, so a joined locking query would miss a ticket
    whose priority or status had just changed.
    """
    Ticket.objects.select_for_update().filter(pk=ticket.pk).values_list("pk").get()
    locked = Ticket.objects.select_related(
        "status", "department", "priority", "sla_plan", "requester", "assignee", "help_topic"
    ).get(pk=ticket.pk)
    if expected_version is not None and locked.version != expected_version:
        raise StaleTicket(f"Ticket #{locked.number} was changed by someone else; reload it and try again.")
    return locked


def _touch(ticket: Ticket, now: datetime) -> None:
    ticket.updated_at = now
    ticket.version += 1


def _bodies(body: str, body_html: str) -> tuple[str, str]:
    """The plain text and the sanitised HTML of a post; InvalidInput when it is empty."""
    html = clean_html(body_html) if body_html.strip() else ""
    text = body.strip() or (html_to_text(html) if html else "")
    if not text and not html:
        raise InvalidInput("body", "Write a message.")
    return text, html


def _default_status(state: TicketState) -> Status:
    status = _default_status_or_none(state)
    if status is None:
        raise InvalidTransition(f"No status is configured for the state {state.label!r}.")
    return status


def _default_status_or_none(state: TicketState) -> Status | None:
    return Status.objects.filter(state=state).order_by("-is_default", "order", "id").first()


def _default_open_status() -> Status:
    """The status new tickets get (kept per process: read for every ticket created)."""
    status = config_cached("open-status", lambda: _default_status_or_none(TicketState.OPEN))
    if status is None:
        raise InvalidTransition(f"No status is configured for the state {TicketState.OPEN.label!r}.")
    return status


def _require_agent(actor: User | None) -> None:
    if actor is not None and not actor.is_agent:
        raise ActionNotAllowed("Only agents may do this.")


def _entry(
    *,
    ticket: Ticket,
    kind: EntryKind,
    author: User | None,
    body: str,
    body_html: str,
    source: str,
    now: datetime,
    uploads: Sequence[Upload],
    stored: object,
    title: str = "",
    message_id: str = "",
    author_name: str = "",
    ip_address: str | None = None,
) -> ThreadEntry:
    text, html = _bodies(body, body_html)
    entry = ThreadEntry.objects.create(
        ticket=ticket,
        kind=kind,
        author=author,
        author_name=single_line(author_name or (author.name if author else "System"), 128),
        title=single_line(title),
        body=text,
        body_html=html,
        source=source,
        message_id=message_id[:255],
        ip_address=ip_address,
        created_at=now,
    )
    if uploads:
        attachments_save(entry=entry, uploads=list(uploads), stored=stored)  # type: ignore[arg-type]
    return entry


def _set_status(
    ticket: Ticket, status: Status, *, actor: User | None, now: datetime, data: dict[str, object] | None = None
) -> None:
    """Move to `status`: timestamps, the event, the clocks. The caller checks permission."""
    old = ticket.status
    if old.pk == status.pk:
        return
    if not old.can_move_to(status):
        raise InvalidTransition(f"A ticket that is {old.get_state_display().lower()} cannot become {status.name!r}.")
    old_state = ticket.state
    ticket.status = status
    ticket.state = status.state
    if status.state == TicketState.RESOLVED:
        ticket.resolved_at = now
    elif status.state == TicketState.CLOSED:
        ticket.closed_at = now
        ticket.resolved_at = ticket.resolved_at or now
    elif old_state in (TicketState.RESOLVED, TicketState.CLOSED):
        ticket.reopened_at = now
        ticket.resolved_at = ticket.closed_at = None
    event_record(
        ticket=ticket,
        kind=EventKind.STATUS_CHANGED,
        actor=actor,
        from_value=old.name,
        to_value=status.name,
        data={"from_state": old_state, "to_state": status.state, **(data or {})},
        at=now,
    )
    clocks.clocks_on_status_change(ticket=ticket, old_state=old_state, actor=actor, now=now)


def _require_status_change(actor: User | None, ticket: Ticket, status: Status) -> None:
    if actor is None or ticket_allows(actor, Perm.CLOSE, ticket):
        return
    if ticket_allows(actor, Perm.EDIT, ticket) and status.state in Status.ACTIVE_STATES and ticket.is_active:
        # Moving between open and waiting is editing, not closing.
        return
    if actor.pk == ticket.requester_id and status.state == TicketState.CLOSED:
        return
    raise ActionNotAllowed(f"You may not change the status of ticket #{ticket.number}.")


def _agent_may_hold(agent: User, department_id: int) -> bool:
    return agent.is_active and agent.is_agent and (agent.is_admin or department_id in agent_roles(agent))


def _assign(
    ticket: Ticket, assignee: User | None, *, actor: User | None, now: datetime, data: dict[str, object] | None = None
) -> None:
    old = ticket.assignee
    if (old.pk if old else None) == (assignee.pk if assignee else None):
        return
    ticket.assignee = assignee
    event_record(
        ticket=ticket,
        kind=EventKind.ASSIGNED,
        actor=actor,
        from_value=old.name if old else "",
        to_value=assignee.name if assignee else "",
        data={"assignee_id": assignee.pk if assignee else None, **(data or {})},
        at=now,
    )


def _round_robin_agent(topic: HelpTopic) -> User | None:
    """The next available agent of the topic's department after the last one given a ticket."""
    topic = HelpTopic.objects.select_for_update().get(pk=topic.pk)
    candidates = list(
        DepartmentMembership.objects.filter(department_id=topic.department_id, is_available=True, agent__is_active=True)
        .select_related("agent")
        .order_by("agent_id")
    )
    if not candidates:
        return None
    last = topic.round_robin_last_agent_id or 0
    chosen = next((m.agent for m in candidates if m.agent_id > last), candidates[0].agent)
    HelpTopic.objects.filter(pk=topic.pk).update(round_robin_last_agent=chosen)
    return chosen


def _active_plan(plan_id: int) -> SLAPlan | None:
    return clocks.plan_with_targets().filter(pk=plan_id, is_active=True).first()


def _choose_plan(*, sla_plan: SLAPlan | None, topic: HelpTopic | None, department: Department) -> SLAPlan | None:
    """Set by an agent > the help topic's plan > the department's default > the system default."""
    for plan_id in (
        sla_plan.pk if sla_plan else None,
        topic.sla_plan_id if topic else None,
        department.default_sla_plan_id,
    ):
        if plan_id is not None:
            plan = config_cached(
                f"sla-plan:{plan_id}",
                partial(_active_plan, plan_id),
            )
            if plan is not None:
                return plan
    return config_cached(
        "sla-plan:default", lambda: clocks.plan_with_targets().filter(is_default=True, is_active=True).first()
    )


# ---------------------------------------------------------------- creating


def ticket_create(
    *,
    requester: User,
    subject: str,
    body: str,
    body_html: str = "",
    source: str = TicketSource.WEB,
    help_topic: HelpTopic | None = None,
    department: Department | None = None,
    priority: Priority | None = None,
    sla_plan: SLAPlan | None = None,
    assignee: User | None = None,
    actor: User | None = None,
    uploads: Sequence[Upload] = (),
    collaborators: Iterable[User] = (),
    message_id: str = "",
    ip_address: str | None = None,
    autorespond: bool = True,
    alert: bool = True,
    now: datetime | None = None,
) -> Ticket:
    """Open a ticket for `requester`. `actor` is the agent opening it for them, if any.

    The help topic decides the department, priority and SLA plan unless they are given.
    """
    now = _now(now)
    if actor is not None and actor.pk != requester.pk:
        _require_agent(actor)
    subject = single_line(subject)
    if not subject:
        raise InvalidInput("subject", "Give the ticket a summary.")
    if source not in TicketSource.values:
        raise InvalidInput("source", f"Unknown source {source!r}.")
    if help_topic is not None and not help_topic.is_active:
        raise InvalidInput("help_topic", "This help topic is not available.")
    if help_topic is not None and not help_topic.is_public and not (actor and actor.is_agent):
        raise InvalidInput("help_topic", "This help topic is not available.")
    department = department or (help_topic.department if help_topic else None)
    department = department or config_cached(
        "first-department", lambda: Department.objects.filter(is_active=True).order_by("id").first()
    )
    if department is None or not department.is_active:
        raise InvalidInput("department", "No department can take this ticket.")
    priority = (
        priority
        or (help_topic.priority if help_topic else None)
        or config_cached("default-priority", lambda: Priority.objects.filter(is_default=True).first())
    )
    if priority is None:
        raise InvalidInput("priority", "No priority is configured.")
    attachments_check(list(uploads))
    _bodies(body, body_html)
    if assignee is not None and not _agent_may_hold(assignee, department.pk):
        raise InvalidInput("assignee", f"{assignee.name} cannot take tickets of {department.name}.")

    with files_removed_on_error() as stored, transaction.atomic():
        ticket = Ticket(
            subject=subject,
            requester=requester,
            department=department,
            help_topic=help_topic,
            priority=priority,
            status=_default_open_status(),
            state=TicketState.OPEN,
            sla_plan=_choose_plan(sla_plan=sla_plan, topic=help_topic, department=department),
            source=source,
            ip_address=ip_address,
            created_at=now,
            updated_at=now,
            last_message_at=now,
        )
        # The clocks are worked out first, so that the ticket's INSERT carries its due dates.
        started = clocks.clocks_prepare(ticket=ticket, now=now, plan=ticket.sla_plan)
        _insert_with_number(ticket)
        entry = _entry(
            ticket=ticket,
            kind=EntryKind.MESSAGE,
            author=requester,
            body=body,
            body_html=body_html,
            source=source,
            now=now,
            uploads=uploads,
            stored=stored,
            message_id=message_id,
            ip_address=ip_address,
        )
        extra = [c for c in collaborators if c.pk != requester.pk]
        if extra:
            ticket.collaborators.add(*extra)
        event_record(
            ticket=ticket,
            kind=EventKind.CREATED,
            actor=actor or requester,
            to_value=department.name,
            entry=entry,
            data={
                "source": source,
                "autorespond": autorespond,
                "alert": alert,
                "opened_by_agent": bool(actor and actor.is_agent),
            },
            at=now,
        )
        clocks.clocks_start(ticket=ticket, actor=None, now=now, prepared=started)
        if assignee is None and help_topic is not None:
            if help_topic.auto_assign_to_id and _agent_may_hold(help_topic.auto_assign_to, department.pk):  # type: ignore[arg-type]
                assignee = help_topic.auto_assign_to
            elif help_topic.round_robin:
                assignee = _round_robin_agent(help_topic)
        if assignee is not None:
            _assign(
                ticket, assignee, actor=actor, now=now, data={"automatic": actor is None or actor.pk == requester.pk}
            )
            ticket.save(update_fields=["assignee"])
    return ticket


def _insert_with_number(ticket: Ticket) -> None:
    """Insert under a random number, drawing again on the rare collision.

    Each try runs in a savepoint, so that a collision with a ticket created at the same
    moment by another process rolls back only that try; the unique index decides.
    """
    for _ in range(NUMBER_ATTEMPTS):
        ticket.number = ticket_number_random()
        try:
            with transaction.atomic():
                ticket.save(force_insert=True)
            return
        except IntegrityError:
            if Ticket.objects.filter(number=ticket.number).exists():
                ticket.pk = None
                continue
            raise
    raise RuntimeError("Could not draw a free ticket number; raise TICKET_NUMBER_DIGITS.")


# ---------------------------------------------------------------- the thread


def ticket_reply(
    *,
    ticket: Ticket,
    actor: User,
    body: str,
    body_html: str = "",
    uploads: Sequence[Upload] = (),
    status: Status | None = None,
    source: str = TicketSource.WEB,
    message_id: str = "",
    expected_version: int | None = None,
    now: datetime | None = None,
) -> ThreadEntry:
    """An agent's response to the requester; optionally "reply and set status"."""
    now = _now(now)
    _require_agent(actor)
    attachments_check(list(uploads))
    with files_removed_on_error() as stored, transaction.atomic():
        ticket = _lock(ticket, expected_version)
        ticket_require(actor, Perm.REPLY, ticket)
        if status is not None:
            _require_status_change(actor, ticket, status)
        entry = _entry(
            ticket=ticket,
            kind=EntryKind.RESPONSE,
            author=actor,
            body=body,
            body_html=body_html,
            source=source,
            now=now,
            uploads=uploads,
            stored=stored,
            message_id=message_id,
        )
        ticket.last_response_at = now
        ticket.first_response_at = ticket.first_response_at or now
        event_record(ticket=ticket, kind=EventKind.RESPONSE, actor=actor, entry=entry, at=now)
        clocks.clocks_on_agent_response(ticket=ticket, actor=actor, now=now)
        if status is not None:
            _set_status(ticket, status, actor=actor, now=now)
        _touch(ticket, now)
        ticket.save()
    return entry


def ticket_reopenable(ticket: Ticket, now: datetime) -> bool:
    """Whether a requester's message may reopen this ticket (within the reopen window)."""
    if ticket.is_active:
        return True
    ended = ticket.closed_at if ticket.state == TicketState.CLOSED else ticket.resolved_at
    return ended is not None and now <= ended + timedelta(days=settings.TICKET_REOPEN_DAYS)


def ticket_add_message(
    *,
    ticket: Ticket,
    author: User,
    body: str,
    body_html: str = "",
    uploads: Sequence[Upload] = (),
    source: str = TicketSource.WEB,
    message_id: str = "",
    author_name: str = "",
    ip_address: str | None = None,
    now: datetime | None = None,
) -> ThreadEntry:
    """A message from the requester or a collaborator.

    It reopens a resolved or closed ticket within the reopen window, and brings a ticket
    waiting on the customer back to open. Past the window it is refused (InvalidTransition):
    the caller opens a new ticket instead.
    """
    now = _now(now)
    attachments_check(list(uploads))
    with files_removed_on_error() as stored, transaction.atomic():
        ticket = _lock(ticket)
        if not requester_may_write(author, ticket):
            raise ActionNotAllowed(f"You may not write to ticket #{ticket.number}.")
        if not ticket_reopenable(ticket, now):
            raise InvalidTransition(f"Ticket #{ticket.number} is closed; open a new ticket.")
        entry = _entry(
            ticket=ticket,
            kind=EntryKind.MESSAGE,
            author=author,
            body=body,
            body_html=body_html,
            source=source,
            now=now,
            uploads=uploads,
            stored=stored,
            message_id=message_id,
            author_name=author_name,
            ip_address=ip_address,
        )
        ticket.last_message_at = now
        if ticket.state != TicketState.OPEN:
            _set_status(ticket, _default_status(TicketState.OPEN), actor=author, now=now, data={"by_message": True})
        event_record(ticket=ticket, kind=EventKind.MESSAGE, actor=author, entry=entry, at=now)
        clocks.clocks_on_customer_message(ticket=ticket, actor=author, now=now)
        _touch(ticket, now)
        ticket.save()
    return entry


def ticket_add_note(
    *,
    ticket: Ticket,
    actor: User | None,
    body: str,
    body_html: str = "",
    title: str = "",
    uploads: Sequence[Upload] = (),
    source: str = TicketSource.WEB,
    message_id: str = "",
    now: datetime | None = None,
) -> ThreadEntry:
    """An internal note: agents only, never shown or sent to end users."""
    now = _now(now)
    _require_agent(actor)
    attachments_check(list(uploads))
    with files_removed_on_error() as stored, transaction.atomic():
        ticket = _lock(ticket)
        ticket_require(actor, Perm.VIEW, ticket)
        entry = _note(ticket, actor, body, body_html, title, uploads, stored, source, message_id, now)
        _touch(ticket, now)
        ticket.save()
    return entry


def _note(
    ticket: Ticket,
    actor: User | None,
    body: str,
    body_html: str,
    title: str,
    uploads: Sequence[Upload],
    stored: object,
    source: str,
    message_id: str,
    now: datetime,
) -> ThreadEntry:
    entry = _entry(
        ticket=ticket,
        kind=EntryKind.NOTE,
        author=actor,
        body=body,
        body_html=body_html,
        source=source,
        now=now,
        uploads=uploads,
        stored=stored,
        title=title,
        message_id=message_id,
    )
    event_record(ticket=ticket, kind=EventKind.NOTE, actor=actor, entry=entry, at=now)
    return entry


# ---------------------------------------------------------------- properties


def ticket_assign(
    *,
    ticket: Ticket,
    actor: User | None,
    assignee: User | None,
    note: str = "",
    expected_version: int | None = None,
    now: datetime | None = None,
) -> Ticket:
    """Assign to an agent, or to nobody. Claiming (assigning oneself) and releasing one's own
    ticket need only the right to reply; assigning others needs the right to assign."""
    now = _now(now)
    with transaction.atomic():
        ticket = _lock(ticket, expected_version)
        own = actor is not None and (
            (assignee is not None and assignee.pk == actor.pk and ticket.assignee_id is None)
            or (assignee is None and ticket.assignee_id == actor.pk)
        )
        ticket_require(actor, Perm.REPLY if own else Perm.ASSIGN, ticket)
        if assignee is not None and not _agent_may_hold(assignee, ticket.department_id):
            raise InvalidInput("assignee", f"{assignee.name} cannot take tickets of {ticket.department.name}.")
        if note.strip():
            _note(ticket, actor, note, "", "Assignment note", (), None, TicketSource.WEB, "", now)
        _assign(ticket, assignee, actor=actor, now=now)
        _touch(ticket, now)
        ticket.save()
    return ticket


def ticket_transfer(
    *,
    ticket: Ticket,
    actor: User | None,
    department: Department,
    note: str = "",
    assignee: User | None = None,
    expected_version: int | None = None,
    now: datetime | None = None,
) -> Ticket:
    """Move to another department, with an internal note for them; optionally hand it to one
    of their agents in the same step (the actor needs the right to assign where it was, since
    after the move they may no longer see it)."""
    now = _now(now)
    with transaction.atomic():
        ticket = _lock(ticket, expected_version)
        ticket_require(actor, Perm.TRANSFER, ticket)
        if assignee is not None:
            ticket_require(actor, Perm.ASSIGN, ticket)
        if not department.is_active:
            raise InvalidInput("department", f"{department.name} is not active.")
        if department.pk == ticket.department_id:
            raise InvalidInput("department", f"The ticket is already in {department.name}.")
        if assignee is not None and not _agent_may_hold(assignee, department.pk):
            raise InvalidInput("assignee", f"{assignee.name} cannot take tickets of {department.name}.")
        old = ticket.department
        ticket.department = department
        if note.strip():
            _note(ticket, actor, note, "", "Transfer note", (), None, TicketSource.WEB, "", now)
        event_record(
            ticket=ticket,
            kind=EventKind.TRANSFERRED,
            actor=actor,
            from_value=old.name,
            to_value=department.name,
            data={"from_department_id": old.pk, "department_id": department.pk},
            at=now,
        )
        if assignee is not None:
            _assign(ticket, assignee, actor=actor, now=now)
        _touch(ticket, now)
        ticket.save()
    return ticket


def ticket_set_priority(
    *,
    ticket: Ticket,
    actor: User | None,
    priority: Priority,
    expected_version: int | None = None,
    now: datetime | None = None,
) -> Ticket:
    """Change the priority; the SLA clocks take the priority's targets, keeping elapsed time."""
    now = _now(now)
    with transaction.atomic():
        ticket = _lock(ticket, expected_version)
        ticket_require(actor, Perm.EDIT, ticket)
        if priority.pk == ticket.priority_id:
            return ticket
        old = ticket.priority
        ticket.priority = priority
        event_record(
            ticket=ticket,
            kind=EventKind.PRIORITY_CHANGED,
            actor=actor,
            from_value=old.name,
            to_value=priority.name,
            at=now,
        )
        clocks.clocks_retarget(ticket=ticket, actor=actor, now=now)
        _touch(ticket, now)
        ticket.save()
    return ticket


def ticket_set_sla_plan(
    *,
    ticket: Ticket,
    actor: User | None,
    sla_plan: SLAPlan | None,
    expected_version: int | None = None,
    now: datetime | None = None,
) -> Ticket:
    """Change the SLA plan (or remove it); the clocks are retargeted at once."""
    now = _now(now)
    with transaction.atomic():
        ticket = _lock(ticket, expected_version)
        ticket_require(actor, Perm.EDIT, ticket)
        if (sla_plan.pk if sla_plan else None) == ticket.sla_plan_id:
            return ticket
        if sla_plan is not None and not sla_plan.is_active:
            raise InvalidInput("sla_plan", f"{sla_plan.name} is not active.")
        old = ticket.sla_plan
        ticket.sla_plan = sla_plan
        event_record(
            ticket=ticket,
            kind=EventKind.SLA_CHANGED,
            actor=actor,
            from_value=old.name if old else "",
            to_value=sla_plan.name if sla_plan else "",
            at=now,
        )
        clocks.clocks_retarget(ticket=ticket, actor=actor, now=now)
        _touch(ticket, now)
        ticket.save()
    return ticket


def ticket_set_help_topic(
    *,
    ticket: Ticket,
    actor: User | None,
    help_topic: HelpTopic | None,
    expected_version: int | None = None,
    now: datetime | None = None,
) -> Ticket:
    now = _now(now)
    with transaction.atomic():
        ticket = _lock(ticket, expected_version)
        ticket_require(actor, Perm.EDIT, ticket)
        if (help_topic.pk if help_topic else None) == ticket.help_topic_id:
            return ticket
        old = ticket.help_topic
        ticket.help_topic = help_topic
        event_record(
            ticket=ticket,
            kind=EventKind.HELP_TOPIC_CHANGED,
            actor=actor,
            from_value=old.name if old else "",
            to_value=help_topic.name if help_topic else "",
            at=now,
        )
        _touch(ticket, now)
        ticket.save()
    return ticket


def ticket_set_due(
    *,
    ticket: Ticket,
    actor: User | None,
    due_at: datetime,
    reason: str,
    expected_version: int | None = None,
    now: datetime | None = None,
) -> Ticket:
    """Override when resolution is due, with a reason; audited."""
    now = _now(now)
    reason = reason.strip()
    if not reason:
        raise InvalidInput("reason", "Say why the due date changes.")
    if timezone.is_naive(due_at):
        raise InvalidInput("due_at", "Give the due date with its time zone.")
    if due_at > now + MAX_DUE_AHEAD:
        # Clocks count business seconds in 32-bit columns; no help-desk promise runs years ahead.
        raise InvalidInput("due_at", f"A due date can be at most {MAX_DUE_AHEAD.days // 365} years ahead.")
    with transaction.atomic():
        ticket = _lock(ticket, expected_version)
        ticket_require(actor, Perm.EDIT, ticket)
        if not ticket.is_active:
            raise InvalidTransition(f"Ticket #{ticket.number} is not open.")
        old = ticket.due_at
        clocks.clock_override_due(ticket=ticket, due_at=due_at, actor=actor, now=now)
        event_record(
            ticket=ticket,
            kind=EventKind.DUE_OVERRIDDEN,
            actor=actor,
            from_value=old.isoformat() if old else "",
            to_value=due_at.isoformat(),
            data={"reason": reason},
            at=now,
        )
        _touch(ticket, now)
        ticket.save()
    return ticket


# ---------------------------------------------------------------- status


def ticket_change_status(
    *,
    ticket: Ticket,
    actor: User | None,
    status: Status,
    note: str = "",
    expected_version: int | None = None,
    now: datetime | None = None,
) -> Ticket:
    """Move the ticket to another status, if its state allows it (InvalidTransition if not)."""
    now = _now(now)
    with transaction.atomic():
        ticket = _lock(ticket, expected_version)
        _require_status_change(actor, ticket, status)
        if status.pk == ticket.status_id:
            raise InvalidTransition(f"Ticket #{ticket.number} is already {status.name}.")
        if note.strip():
            _require_agent(actor)
            _note(ticket, actor, note, "", "Status note", (), None, TicketSource.WEB, "", now)
        _set_status(ticket, status, actor=actor, now=now)
        _touch(ticket, now)
        ticket.save()
    return ticket


def ticket_resolve(*, ticket: Ticket, actor: User | None, note: str = "", now: datetime | None = None) -> Ticket:
    return ticket_change_status(
        ticket=ticket, actor=actor, status=_default_status(TicketState.RESOLVED), note=note, now=now
    )


def ticket_close(*, ticket: Ticket, actor: User | None, note: str = "", now: datetime | None = None) -> Ticket:
    return ticket_change_status(
        ticket=ticket, actor=actor, status=_default_status(TicketState.CLOSED), note=note, now=now
    )


def ticket_reopen(*, ticket: Ticket, actor: User | None, note: str = "", now: datetime | None = None) -> Ticket:
    return ticket_change_status(
        ticket=ticket, actor=actor, status=_default_status(TicketState.OPEN), note=note, now=now
    )


def ticket_wait_on_customer(*, ticket: Ticket, actor: User | None, now: datetime | None = None) -> Ticket:
    return ticket_change_status(ticket=ticket, actor=actor, status=_default_status(TicketState.WAITING), now=now)


# ---------------------------------------------------------------- people and links


def ticket_add_collaborator(*, ticket: Ticket, actor: User | None, user: User, now: datetime | None = None) -> Ticket:
    now = _now(now)
    with transaction.atomic():
        ticket = _lock(ticket)
        if not (actor is not None and actor.pk == ticket.requester_id):
            ticket_require(actor, Perm.REPLY, ticket)
        if user.pk == ticket.requester_id or ticket.collaborators.filter(pk=user.pk).exists():
            return ticket
        ticket.collaborators.add(user)
        event_record(
            ticket=ticket,
            kind=EventKind.COLLABORATOR_ADDED,
            actor=actor,
            to_value=user.email,
            data={"user_id": user.pk},
            at=now,
        )
        _touch(ticket, now)
        ticket.save()
    return ticket


def ticket_remove_collaborator(
    *, ticket: Ticket, actor: User | None, user: User, now: datetime | None = None
) -> Ticket:
    now = _now(now)
    with transaction.atomic():
        ticket = _lock(ticket)
        if not (actor is not None and actor.pk == ticket.requester_id):
            ticket_require(actor, Perm.REPLY, ticket)
        if not ticket.collaborators.filter(pk=user.pk).exists():
            return ticket
        ticket.collaborators.remove(user)
        # Their secret links were for them as a collaborator: they end with it.
        AccessLink.objects.filter(ticket=ticket, recipient=user, revoked_at__isnull=True).update(revoked_at=now)
        event_record(
            ticket=ticket,
            kind=EventKind.COLLABORATOR_REMOVED,
            actor=actor,
            from_value=user.email,
            data={"user_id": user.pk},
            at=now,
        )
        _touch(ticket, now)
        ticket.save()
    return ticket


def ticket_link(*, ticket: Ticket, other: Ticket, actor: User | None, now: datetime | None = None) -> None:
    """Mark two tickets as related (both ways)."""
    now = _now(now)
    if ticket.pk == other.pk:
        raise InvalidInput("ticket", "A ticket cannot be linked to itself.")
    with transaction.atomic():
        first, second = sorted((ticket, other), key=lambda t: t.pk)
        first, second = _lock(first), _lock(second)
        for one in (first, second):
            ticket_require(actor, Perm.VIEW, one)
        if first.linked.filter(pk=second.pk).exists():
            return
        first.linked.add(second)
        for one, two in ((first, second), (second, first)):
            event_record(
                ticket=one,
                kind=EventKind.LINKED,
                actor=actor,
                to_value=f"#{two.number}",
                data={"ticket_id": two.pk},
                at=now,
            )
            _touch(one, now)
            one.save()


def ticket_merge(*, ticket: Ticket, into: Ticket, actor: User | None, now: datetime | None = None) -> Ticket:
    """Merge `ticket` into `into`: its thread moves over, its people become collaborators,
    and it is closed, pointing at the ticket it was merged into."""
    now = _now(now)
    if ticket.pk == into.pk:
        raise InvalidInput("into", "A ticket cannot be merged into itself.")
    with transaction.atomic():
        # Lock in id order, so that two merges of the same pair cannot deadlock.
        locked = {t.pk: _lock(t) for t in sorted((ticket, into), key=lambda t: t.pk)}
        source, target = locked[ticket.pk], locked[into.pk]
        ticket_require(actor, Perm.CLOSE, source)
        ticket_require(actor, Perm.REPLY, target)
        if source.merged_into_id is not None:
            raise InvalidTransition(f"Ticket #{source.number} is already merged.")
        if not target.is_active:
            raise InvalidTransition(f"Ticket #{target.number} is not open; merge into an open ticket.")
        ThreadEntry.objects.filter(ticket=source).update(ticket=target)
        people = {source.requester, *source.collaborators.all()} - {target.requester}
        if people:
            target.collaborators.add(*people)
        source.merged_into = target
        event_record(
            ticket=source,
            kind=EventKind.MERGED,
            actor=actor,
            to_value=f"#{target.number}",
            data={"into_id": target.pk},
            at=now,
        )
        event_record(
            ticket=target,
            kind=EventKind.MERGED,
            actor=actor,
            from_value=f"#{source.number}",
            data={"from_id": source.pk},
            at=now,
        )
        if source.state != TicketState.CLOSED:
            _set_status(source, _default_status(TicketState.CLOSED), actor=actor, now=now, data={"merged": True})
        for t in (source, target):
            _touch(t, now)
            t.save()
    return target


def ticket_rate(*, ticket: Ticket, actor: User, rating: int, comment: str = "", now: datetime | None = None) -> Ticket:
    """The requester rates the help, once, after resolution."""
    now = _now(now)
    if not isinstance(rating, int) or not 1 <= rating <= 5:
        raise InvalidInput("rating", "Rate from 1 to 5.")
    with transaction.atomic():
        ticket = _lock(ticket)
        if actor.pk != ticket.requester_id:
            raise ActionNotAllowed("Only the requester may rate the help.")
        if ticket.is_active:
            raise InvalidTransition("The ticket is not resolved yet.")
        if ticket.rated_at is not None:
            raise InvalidTransition("This ticket has already been rated.")
        ticket.satisfaction_rating = rating
        ticket.satisfaction_comment = comment.strip()[:2000]
        ticket.rated_at = now
        event_record(
            ticket=ticket,
            kind=EventKind.RATED,
            actor=actor,
            to_value=str(rating),
            data={"comment": ticket.satisfaction_comment},
            at=now,
        )
        _touch(ticket, now)
        ticket.save()
    return ticket


def access_link_issue(
    *, ticket: Ticket, recipient: User, revoke_older: bool = True, now: datetime | None = None
) -> str:
    """A new secret link for `recipient` to reach `ticket`, by default revoking their older ones
    (mail notifications keep the older ones: a link in an earlier mail still works).

    Returns the token (shown once, in the mail); only its hash is stored.
    """
    now = _now(now)
    token = secrets.token_urlsafe(32)  # 256 bits
    with transaction.atomic():
        if revoke_older:
            AccessLink.objects.filter(ticket=ticket, recipient=recipient, revoked_at__isnull=True).update(
                revoked_at=now
            )
        AccessLink.objects.create(
            ticket=ticket,
            recipient=recipient,
            token_hash=AccessLink.hash_token(token),
            created_at=now,
            expires_at=now + timedelta(days=settings.TICKET_LINK_DAYS),
        )
    return token


def access_link_send(*, ticket: Ticket, recipient: User, now: datetime | None = None) -> None:
    """Mail `recipient` a new secret link to `ticket` (the portal's status check).

    The link is made when the mail is built (notifications.services), never before: the token
    exists only in the mail, and the outbox row waiting to be sent holds no secret. Making it
    revokes the links the recipient had for the ticket, so that the newest mail is the one that works.
    """
    from notifications.models import NotificationKind
    from notifications.planner import notification_plan_direct

    notification_plan_direct(kind=NotificationKind.STATUS_LINK, recipient=recipient, ticket_id=ticket.pk, context={})


def tickets_autoclose(*, now: datetime | None = None) -> int:
    """Close tickets resolved longer ago than TICKET_AUTOCLOSE_DAYS. Returns how many."""
    now = _now(now)
    cutoff = now - timedelta(days=settings.TICKET_AUTOCLOSE_DAYS)
    closed = 0
    for ticket in Ticket.objects.filter(state=TicketState.RESOLVED, resolved_at__lte=cutoff).only("pk"):
        try:
            ticket_close(ticket=ticket, actor=None, now=now)
        except InvalidTransition:
            continue  # changed since the query; next run sees it again
        closed += 1
    return closed


def ticket_sla_recompute(
    *,
    ticket: Ticket,
    changed_at: datetime | None = None,
    old_calendar: deadlines.Calendar | None = None,
    reason: str = "",
    now: datetime | None = None,
) -> Ticket:
    """Bring the SLA clocks up to date after an admin edited the ticket's plan or the plan's
    schedule (sla.tasks.clocks_recompute calls this for each open ticket). The time the
    clocks ran before `changed_at` counts in `old_calendar`; elapsed time and due dates set
    by hand are kept. The ticket's version is left alone: this is no edit of the ticket."""
    now = _now(now)
    with transaction.atomic():
        ticket = _lock(ticket)
        clocks.clocks_recompute(ticket=ticket, now=now, changed_at=changed_at, old_calendar=old_calendar, reason=reason)
        ticket.save(update_fields=["due_at", "first_response_due_at", "is_overdue"])
    return ticket
