"""Who may do what to a ticket. The access rules live here and in selectors.py alone."""

from __future__ import annotations

from accounts.models import DepartmentMembership, Perm, Role, User
from tickets.exceptions import ActionNotAllowed
from tickets.models import Ticket

# What an agent may do on a ticket assigned to them in a department they have no role in.
ASSIGNEE_PERMS = frozenset({Perm.VIEW, Perm.REPLY, Perm.CLOSE})


def agent_roles(user: User) -> dict[int, Role]:
    """The agent's role in each department they may access, by department id.

    Cached on the user object: one query per request however many checks it makes.
    """
    cached: dict[int, Role] | None = getattr(user, "_roles_by_department", None)
    if cached is None:
        memberships = DepartmentMembership.objects.filter(agent=user).select_related("role")
        cached = {m.department_id: m.role for m in memberships}
        user._roles_by_department = cached  # type: ignore[attr-defined]
    return cached


def agent_department_ids(user: User) -> list[int]:
    return sorted(agent_roles(user))


def ticket_allows(user: User | None, perm: Perm, ticket: Ticket) -> bool:
    """Whether `user` may do `perm` on `ticket`. None is the system itself."""
    if user is None:
        return True
    if not user.is_active:
        return False
    if user.is_admin:
        return True
    if user.is_agent:
        role = agent_roles(user).get(ticket.department_id)
        if role is not None and role.allows(perm):
            return True
        return ticket.assignee_id == user.id and perm in ASSIGNEE_PERMS
    return False


def ticket_require(user: User | None, perm: Perm, ticket: Ticket) -> None:
    if not ticket_allows(user, perm, ticket):
        raise ActionNotAllowed(f"You may not {Perm(perm).label.lower()} ticket #{ticket.number}.")


def requester_may_write(user: User, ticket: Ticket) -> bool:
    """The requester and the collaborators may post messages to a ticket."""
    if ticket.requester_id == user.id:
        return True
    return ticket.collaborators.filter(pk=user.pk).exists()
