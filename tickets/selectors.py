"""Every read of tickets that depends on who is asking. Views and the API call these."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from accounts.models import User, UserManager
from tickets.models import AccessLink, EntryKind, ThreadEntry, Ticket, TicketEvent
from tickets.permissions import agent_department_ids


def tickets_visible_to(user: User) -> QuerySet[Ticket]:
    """The tickets `user` may see: all for admins; their departments' and their assigned
    tickets for agents; their own and those they collaborate on for end users."""
    tickets = Ticket.objects.all()
    if not user.is_authenticated or not user.is_active:
        return tickets.none()
    if user.is_admin:
        return tickets
    if user.is_agent:
        return tickets.filter(Q(department_id__in=agent_department_ids(user)) | Q(assignee_id=user.pk))
    collaborating = Ticket.collaborators.through.objects.filter(ticket_id=OuterRef("pk"), user_id=user.pk)
    return tickets.filter(Q(requester_id=user.pk) | Exists(collaborating))


def ticket_get_for_user(*, user: User, number: int | str, with_lock: bool = False) -> Ticket:
    """The ticket with this number if `user` may see it; 404 otherwise, whether or not it exists.

    `with_lock` reads its reply lock and the lock's holder in the same query (the staff
    ticket page shows them); `ticket.lock` then raises TicketLock.DoesNotExist when free.
    """
    try:
        number = int(number)
    except (TypeError, ValueError):
        raise Http404("No such ticket.") from None
    related = ["requester", "department", "help_topic", "priority", "status", "assignee", "sla_plan", "merged_into"]
    if with_lock:
        related.append("lock__agent")
    # One row at most (the number is unique): no ORDER BY for the planner to consider.
    found = tickets_visible_to(user).select_related(*related).filter(number=number).order_by()[:1]
    ticket = next(iter(found), None)
    if ticket is None:
        raise Http404("No such ticket.")
    return ticket


def ticket_find_for_address(*, email: str, number: int | str) -> tuple[Ticket, User] | None:
    """The ticket with this number and the person at this address, if they are its requester or
    a collaborator: the status check's lookup. None whichever part fails, so that the caller
    cannot tell the asker which."""
    try:
        number = int(str(number).strip().lstrip("#"))
    except ValueError:
        return None
    user = User.objects.filter(email=UserManager.normalize_email(email), is_active=True).first()
    if user is None:
        return None
    collaborating = Ticket.collaborators.through.objects.filter(ticket_id=OuterRef("pk"), user_id=user.pk)
    ticket = Ticket.objects.filter(Q(requester_id=user.pk) | Exists(collaborating), number=number).first()
    return (ticket, user) if ticket is not None else None


def ticket_get_for_link(*, token: str) -> tuple[Ticket, User]:
    """The ticket and recipient a secret link grants, if it is valid now; 404 otherwise."""
    link = (
        AccessLink.objects.select_related("ticket", "recipient").filter(token_hash=AccessLink.hash_token(token)).first()
    )
    if link is None or not link.is_valid_at(timezone.now()) or not link.recipient.is_active:
        raise Http404("This link is not valid. Ask for a new one.")
    return link.ticket, link.recipient


def thread_entries_for_user(*, ticket: Ticket, user: User) -> QuerySet[ThreadEntry]:
    """The thread as `user` may read it: end users never see internal notes."""
    entries = ticket.entries.select_related("author").prefetch_related("attachments")
    if not user.is_agent:
        entries = entries.exclude(kind=EntryKind.NOTE)
    return entries.order_by("created_at", "id")


def ticket_events_for_agent(*, ticket: Ticket) -> QuerySet[TicketEvent]:
    """The events of a ticket, for agents only (events are never shown to end users)."""
    return ticket.events.select_related("actor").order_by("created_at", "id")
