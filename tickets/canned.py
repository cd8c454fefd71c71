"""Canned responses: prepared replies an agent inserts and adapts.

A response is personal (its owner alone uses and edits it), a department's (offered to the
department's agents on its tickets, kept by those whose role there may edit), or everyone's
(kept by admins).
"""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts.models import Perm, User
from tickets.exceptions import ActionNotAllowed, InvalidInput
from tickets.models import CannedResponse, Department, Ticket
from tickets.permissions import agent_department_ids, agent_roles
from tickets.sanitize import single_line


def canned_responses_for_agent(*, user: User, department_id: int | None = None) -> QuerySet[CannedResponse]:
    """What `user` may use: their own, everyone's, and their departments' (or, for a ticket,
    that department's)."""
    if not user.is_agent:
        return CannedResponse.objects.none()
    departments = [department_id] if department_id is not None else agent_department_ids(user)
    if user.is_admin and department_id is None:
        shared = Q(owner__isnull=True)
    else:
        shared = Q(owner__isnull=True, department__isnull=True) | Q(owner__isnull=True, department_id__in=departments)
    return CannedResponse.objects.filter(Q(owner_id=user.pk) | shared).select_related("department", "owner")


def canned_response_may_edit(user: User, canned: CannedResponse) -> bool:
    if canned.owner_id is not None:
        return canned.owner_id == user.pk
    if user.is_admin:
        return True
    if canned.department_id is None:
        return False
    role = agent_roles(user).get(canned.department_id)
    return role is not None and role.allows(Perm.EDIT)


def _check(*, actor: User, title: str, body: str, department: Department | None, personal: bool) -> tuple[str, str]:
    if not actor.is_agent:
        raise ActionNotAllowed("Only agents keep canned responses.")
    title = single_line(title, 128)
    if len(title) < 3:
        raise InvalidInput("title", "Give the response a title of at least 3 characters.")
    if not body.strip():
        raise InvalidInput("body", "Write the response.")
    if not personal and not actor.is_admin:
        role = agent_roles(actor).get(department.pk) if department is not None else None
        if role is None or not role.allows(Perm.EDIT):
            where = department.name if department is not None else "all departments"
            raise InvalidInput("department", f"You may not keep canned responses for {where}.")
    return title, body.strip()


def canned_response_create(
    *, actor: User, title: str, body: str, department: Department | None = None, personal: bool = True
) -> CannedResponse:
    title, body = _check(actor=actor, title=title, body=body, department=department, personal=personal)
    return CannedResponse.objects.create(
        title=title,
        body=body,
        owner=actor if personal else None,
        department=None if personal else department,
        created_at=timezone.now(),
    )


def canned_response_update(
    *,
    canned: CannedResponse,
    actor: User,
    title: str,
    body: str,
    department: Department | None = None,
    personal: bool = True,
    is_active: bool = True,
) -> CannedResponse:
    if not canned_response_may_edit(actor, canned):
        raise ActionNotAllowed("You may not change this canned response.")
    title, body = _check(actor=actor, title=title, body=body, department=department, personal=personal)
    canned.title, canned.body, canned.is_active = title, body, is_active
    canned.owner = actor if personal else None
    canned.department = None if personal else department
    canned.save()
    return canned


def canned_response_delete(*, canned: CannedResponse, actor: User) -> None:
    if not canned_response_may_edit(actor, canned):
        raise ActionNotAllowed("You may not delete this canned response.")
    canned.delete()


PLACEHOLDERS = (
    "%{ticket.number}",
    "%{ticket.subject}",
    "%{requester.name}",
    "%{requester.first_name}",
    "%{agent.name}",
    "%{department.name}",
)


def canned_expand(body: str, *, ticket: Ticket, agent: User) -> str:
    """The response with its placeholders filled in for this ticket (plain text)."""
    values = {
        "%{ticket.number}": str(ticket.number),
        "%{ticket.subject}": ticket.subject,
        "%{requester.name}": ticket.requester.name,
        "%{requester.first_name}": ticket.requester.get_short_name(),
        "%{agent.name}": agent.name,
        "%{department.name}": ticket.department.name,
    }
    for placeholder, value in values.items():
        body = body.replace(placeholder, value)
    return body
