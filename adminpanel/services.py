"""Writes of the admin pages: departments, help topics, priorities, statuses, agents and API
keys (schedules and SLA plans are written by sla/services.py).

Each takes keyword-only arguments, validates as a whole, raises ValidationError keyed by
the field at fault (and changes nothing then), writes in one transaction, and logs what it
changed, with who changed it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Q

from accounts.models import DepartmentMembership, Role, User, UserManager
from api.models import ApiKey, parse_networks
from api.services import api_key_create
from sla.models import SLAPlan
from tickets.models import Department, HelpTopic, Priority, Status, Ticket
from tickets.sanitize import single_line

logger = logging.getLogger(__name__)

COLORS = ("primary", "secondary", "success", "danger", "warning", "info", "dark")


def _name(value: str, field: str = "name", length: int = 128) -> str:
    name = single_line(value, length)
    if not name:
        raise ValidationError({field: "This cannot be empty."})
    return name


def _unique(queryset: object, field: str, value: str, pk: int | None, label: str) -> None:
    if queryset.filter(**{f"{field}__iexact": value}).exclude(pk=pk or 0).exists():  # type: ignore[attr-defined]
        raise ValidationError({field: f"There is already {label} named {value!r}."})


def _agent(user: User | None, field: str) -> None:
    if user is not None and not (user.is_active and user.is_agent):
        raise ValidationError({field: f"{user.name} is not an active agent."})


# ---------------------------------------------------------------- departments


@dataclass(frozen=True)
class DepartmentFields:
    name: str
    manager: User | None = None
    default_sla_plan: SLAPlan | None = None
    auto_response: bool = True
    email_address: str = ""
    signature: str = ""
    is_active: bool = True


@dataclass(frozen=True)
class Member:
    agent: User
    role: Role
    is_available: bool = True


def _department_validate(fields: DepartmentFields, pk: int | None) -> str:
    name = _name(fields.name)
    _unique(Department.objects.all(), "name", name, pk, "a department")
    _agent(fields.manager, "manager")
    if fields.default_sla_plan is not None and not fields.default_sla_plan.is_active:
        raise ValidationError({"default_sla_plan": f"{fields.default_sla_plan.name} is not active."})
    if fields.email_address:
        try:
            validate_email(fields.email_address)
        except ValidationError:
            raise ValidationError({"email_address": "Enter a valid email address."}) from None
    return name


def _members_validate(members: Sequence[Member]) -> None:
    agents = [m.agent.pk for m in members]
    if len(agents) != len(set(agents)):
        raise ValidationError({"members": "List each agent once."})
    for member in members:
        if not member.agent.is_agent:
            raise ValidationError({"members": f"{member.agent.name} is not an agent."})


def _department_write(department: Department, fields: DepartmentFields, name: str) -> None:
    department.name = name
    department.manager = fields.manager
    department.default_sla_plan = fields.default_sla_plan
    department.auto_response = fields.auto_response
    department.email_address = fields.email_address.strip().lower()
    department.signature = fields.signature
    department.is_active = fields.is_active
    department.save()


def _members_write(department: Department, members: Sequence[Member]) -> None:
    keep = {m.agent.pk for m in members}
    DepartmentMembership.objects.filter(department=department).exclude(agent_id__in=keep).delete()
    current = {m.agent_id: m for m in DepartmentMembership.objects.filter(department=department)}
    with_primary = set(
        DepartmentMembership.objects.filter(agent_id__in=keep, is_primary=True).values_list("agent_id", flat=True)
    )
    for member in members:
        row = current.get(member.agent.pk)
        if row is None:
            DepartmentMembership.objects.create(
                agent=member.agent,
                department=department,
                role=member.role,
                is_available=member.is_available,
                # An agent's first department is their primary one.
                is_primary=member.agent.pk not in with_primary,
            )
        elif (row.role_id, row.is_available) != (member.role.pk, member.is_available):
            row.role, row.is_available = member.role, member.is_available
            row.save(update_fields=["role", "is_available"])


def department_create(*, actor: User, fields: DepartmentFields, members: Sequence[Member] = ()) -> Department:
    name = _department_validate(fields, None)
    _members_validate(members)
    with transaction.atomic():
        department = Department()
        _department_write(department, fields, name)
        _members_write(department, members)
    logger.info("Department %r created by %s", department.name, actor.email)
    return department


def department_update(
    *, actor: User, department: Department, fields: DepartmentFields, members: Sequence[Member]
) -> Department:
    """Change a department and set its members (agents left out lose their access to it)."""
    name = _department_validate(fields, department.pk)
    _members_validate(members)
    if not fields.is_active and HelpTopic.objects.filter(department=department, is_active=True).exists():
        raise ValidationError({"is_active": "Active help topics route to this department; move or close them first."})
    with transaction.atomic():
        _department_write(department, fields, name)
        _members_write(department, members)
    logger.info("Department %r updated by %s", department.name, actor.email)
    return department


# ---------------------------------------------------------------- help topics


@dataclass(frozen=True)
class HelpTopicFields:
    name: str
    department: Department
    priority: Priority | None = None
    sla_plan: SLAPlan | None = None
    auto_assign_to: User | None = None
    round_robin: bool = False
    is_public: bool = True
    is_active: bool = True


def _help_topic_save(topic: HelpTopic, fields: HelpTopicFields, *, actor: User) -> HelpTopic:
    name = _name(fields.name)
    _unique(HelpTopic.objects.all(), "name", name, topic.pk, "a help topic")
    if fields.is_active and not fields.department.is_active:
        raise ValidationError({"department": f"{fields.department.name} is not active."})
    if fields.sla_plan is not None and not fields.sla_plan.is_active:
        raise ValidationError({"sla_plan": f"{fields.sla_plan.name} is not active."})
    if fields.auto_assign_to is not None and fields.round_robin:
        raise ValidationError({"round_robin": "Assign to one agent or in turn, not both."})
    agent = fields.auto_assign_to
    if agent is not None:
        _agent(agent, "auto_assign_to")
        member = DepartmentMembership.objects.filter(agent=agent, department=fields.department).exists()
        if not (member or agent.is_admin):
            raise ValidationError(
                {"auto_assign_to": f"{agent.name} is not an agent of {fields.department.name}; add them there first."}
            )
    if (
        fields.round_robin
        and not DepartmentMembership.objects.filter(
            department=fields.department, is_available=True, agent__is_active=True
        ).exists()
    ):
        raise ValidationError({"round_robin": f"{fields.department.name} has no available agents to take turns."})
    created = topic.pk is None
    topic.name = name
    topic.department = fields.department
    topic.priority = fields.priority
    topic.sla_plan = fields.sla_plan
    topic.auto_assign_to = fields.auto_assign_to
    topic.round_robin = fields.round_robin
    topic.is_public = fields.is_public
    topic.is_active = fields.is_active
    topic.save()
    logger.info("Help topic %r %s by %s", topic.name, "created" if created else "updated", actor.email)
    return topic


def help_topic_create(*, actor: User, fields: HelpTopicFields) -> HelpTopic:
    return _help_topic_save(HelpTopic(), fields, actor=actor)


def help_topic_update(*, actor: User, topic: HelpTopic, fields: HelpTopicFields) -> HelpTopic:
    return _help_topic_save(topic, fields, actor=actor)


# ---------------------------------------------------------------- priorities and statuses


def _priority_save(
    priority: Priority, *, actor: User, name: str, urgency: int, color: str, is_default: bool
) -> Priority:
    name = _name(name, length=32)
    _unique(Priority.objects.all(), "name", name, priority.pk, "a priority")
    if isinstance(urgency, bool) or not isinstance(urgency, int) or not 1 <= urgency <= 1000:
        raise ValidationError({"urgency": "Give the urgency as a whole number from 1 (most urgent) to 1000."})
    if Priority.objects.filter(urgency=urgency).exclude(pk=priority.pk or 0).exists():
        taken = Priority.objects.get(urgency=urgency)
        raise ValidationError({"urgency": f"{taken.name} already has urgency {urgency}; each priority has its own."})
    if color not in COLORS:
        raise ValidationError({"color": f"Choose one of {', '.join(COLORS)}."})
    if priority.is_default and not is_default:
        raise ValidationError({"is_default": "Make another priority the default instead."})
    with transaction.atomic():
        if is_default:
            Priority.objects.filter(is_default=True).exclude(pk=priority.pk or 0).update(is_default=False)
        created = priority.pk is None
        priority.name, priority.urgency, priority.color, priority.is_default = name, urgency, color, is_default
        priority.save()
    logger.info("Priority %r %s by %s", priority.name, "created" if created else "updated", actor.email)
    return priority


def priority_create(
    *, actor: User, name: str, urgency: int, color: str = "secondary", is_default: bool = False
) -> Priority:
    return _priority_save(Priority(), actor=actor, name=name, urgency=urgency, color=color, is_default=is_default)


def priority_update(
    *, actor: User, priority: Priority, name: str, urgency: int, color: str, is_default: bool
) -> Priority:
    return _priority_save(priority, actor=actor, name=name, urgency=urgency, color=color, is_default=is_default)


def _status_save(
    status: Status,
    *,
    actor: User,
    name: str,
    state: str,
    order: int,
    is_default: bool,
    pauses_plans: Sequence[SLAPlan],
) -> Status:
    name = _name(name, length=64)
    _unique(Status.objects.all(), "name", name, status.pk, "a status")
    if state not in Status.TRANSITIONS:
        raise ValidationError({"state": "Choose one of the four states."})
    if status.pk is not None and status.state != state and Ticket.objects.filter(status=status).exists():
        raise ValidationError(
            {"state": "Tickets have this status; its state cannot change (make a new status instead)."}
        )
    if status.pk is not None and status.is_default and not is_default:
        raise ValidationError({"is_default": "Make another status of this state the default instead."})
    if pauses_plans and state not in Status.ACTIVE_STATES:
        raise ValidationError({"pauses_plans": "Only open or waiting statuses can pause the clocks."})
    with transaction.atomic():
        if is_default:
            Status.objects.filter(state=state, is_default=True).exclude(pk=status.pk or 0).update(is_default=False)
        created = status.pk is None
        status.name, status.state, status.order, status.is_default = name, state, order, is_default
        status.save()
        # Which plans pause in this status is stored on the plans (SLAPlan.pause_statuses).
        for plan in SLAPlan.objects.filter(Q(pause_statuses=status) | Q(pk__in=[p.pk for p in pauses_plans])):
            if plan in pauses_plans:
                plan.pause_statuses.add(status)
            else:
                plan.pause_statuses.remove(status)
    logger.info("Status %r %s by %s", status.name, "created" if created else "updated", actor.email)
    return status


def status_create(
    *,
    actor: User,
    name: str,
    state: str,
    order: int = 0,
    is_default: bool = False,
    pauses_plans: Sequence[SLAPlan] = (),
) -> Status:
    return _status_save(
        Status(), actor=actor, name=name, state=state, order=order, is_default=is_default, pauses_plans=pauses_plans
    )


def status_update(
    *,
    actor: User,
    status: Status,
    name: str,
    state: str,
    order: int,
    is_default: bool,
    pauses_plans: Sequence[SLAPlan],
) -> Status:
    """Change a status. A change of which plans pause in it applies to tickets as their
    status next changes; the plans' own recompute (on a plan edit) applies it at once."""
    return _status_save(
        status, actor=actor, name=name, state=state, order=order, is_default=is_default, pauses_plans=pauses_plans
    )


# ---------------------------------------------------------------- agents


@dataclass(frozen=True)
class Membership:
    department: Department
    role: Role
    is_primary: bool = False
    is_available: bool = True


def _memberships_validate(memberships: Sequence[Membership]) -> None:
    departments = [m.department.pk for m in memberships]
    if len(departments) != len(set(departments)):
        raise ValidationError({"memberships": "List each department once."})
    if sum(m.is_primary for m in memberships) > 1:
        raise ValidationError({"memberships": "Only one department can be the primary one."})


def _memberships_write(agent: User, memberships: Sequence[Membership]) -> None:
    DepartmentMembership.objects.filter(agent=agent).delete()
    primary = any(m.is_primary for m in memberships)
    DepartmentMembership.objects.bulk_create(
        DepartmentMembership(
            agent=agent,
            department=m.department,
            role=m.role,
            is_available=m.is_available,
            is_primary=m.is_primary or (not primary and i == 0),
        )
        for i, m in enumerate(memberships)
    )
    agent._roles_by_department = None  # type: ignore[attr-defined]


def _email(value: str, pk: int | None) -> str:
    email = UserManager.normalize_email(value)
    try:
        validate_email(email)
    except ValidationError:
        raise ValidationError({"email": "Enter a valid email address."}) from None
    existing = User.objects.filter(email=email).exclude(pk=pk or 0).first()
    if existing is not None:
        what = "an agent" if existing.is_agent else "an end user"
        raise ValidationError({"email": f"{email} already belongs to {what}."})
    return email


def agent_create(
    *,
    actor: User,
    email: str,
    name: str,
    is_admin: bool = False,
    password: str = "",
    memberships: Sequence[Membership] = (),
) -> User:
    """A new agent (or admin). Without a password they cannot sign in until one is set."""
    email = _email(email, None)
    name = _name(name)
    _memberships_validate(memberships)
    if password:
        try:
            validate_password(password, User(email=email, name=name))
        except ValidationError as exc:
            raise ValidationError({"password": exc.messages}) from None
    with transaction.atomic():
        agent = User.objects.create_user(
            email, password or None, name=name, kind=User.Kind.ADMIN if is_admin else User.Kind.AGENT
        )
        _memberships_write(agent, memberships)
    logger.info("Agent %s created by %s", agent.email, actor.email)
    return agent


def agent_update(
    *, actor: User, agent: User, email: str, name: str, is_admin: bool, memberships: Sequence[Membership]
) -> User:
    if not agent.is_agent:
        raise ValidationError({"email": "This person is not an agent."})
    email = _email(email, agent.pk)
    name = _name(name)
    _memberships_validate(memberships)
    if agent.pk == actor.pk and not is_admin:
        raise ValidationError({"is_admin": "You cannot take away your own admin rights."})
    with transaction.atomic():
        agent.email, agent.name = email, name
        agent.kind = User.Kind.ADMIN if is_admin else User.Kind.AGENT
        agent.save(update_fields=["email", "name", "kind"])
        _memberships_write(agent, memberships)
    logger.info("Agent %s updated by %s", agent.email, actor.email)
    return agent


def agent_set_active(*, actor: User, agent: User, is_active: bool) -> User:
    """Deactivate an agent (they can no longer sign in; their tickets stay assigned, and
    alerts skip them) or bring them back."""
    if not agent.is_agent:
        raise ValidationError({"agent": "This person is not an agent."})
    if agent.pk == actor.pk and not is_active:
        raise ValidationError({"agent": "You cannot deactivate yourself."})
    User.objects.filter(pk=agent.pk).update(is_active=is_active)
    agent.is_active = is_active
    logger.info("Agent %s %s by %s", agent.email, "reactivated" if is_active else "deactivated", actor.email)
    return agent


# ---------------------------------------------------------------- API keys


def _addresses(value: str) -> str:
    try:
        networks = parse_networks(value)
    except ValidationError as exc:
        raise ValidationError({"allowed_addresses": exc.messages}) from None
    if not networks:
        raise ValidationError({"allowed_addresses": "Give at least one IP address or CIDR range."})
    return "\n".join(str(n) if n.num_addresses > 1 else str(n.network_address) for n in networks)


def api_key_issue(
    *, actor: User, name: str, allowed_addresses: str, can_create_tickets: bool = True, notes: str = ""
) -> tuple[ApiKey, str]:
    """A new API key; returns it with the key itself, which is shown once and never stored."""
    name = _name(name)
    addresses = _addresses(allowed_addresses)
    api_key, key = api_key_create(name=name, allowed_addresses=addresses, can_create_tickets=can_create_tickets)
    if notes:
        api_key.notes = notes.strip()
        api_key.save(update_fields=["notes"])
    logger.info("API key %r (%s…) issued by %s", api_key.name, api_key.key_prefix, actor.email)
    return api_key, key


def api_key_update(
    *, actor: User, api_key: ApiKey, name: str, allowed_addresses: str, can_create_tickets: bool, notes: str
) -> ApiKey:
    api_key.name = _name(name)
    api_key.allowed_addresses = _addresses(allowed_addresses)
    api_key.can_create_tickets = can_create_tickets
    api_key.notes = notes.strip()
    api_key.save(update_fields=["name", "allowed_addresses", "can_create_tickets", "notes"])
    logger.info("API key %r (%s…) updated by %s", api_key.name, api_key.key_prefix, actor.email)
    return api_key


def api_key_revoke(*, actor: User, api_key: ApiKey) -> ApiKey:
    """Revoke a key for good: requests with it are refused from now on."""
    ApiKey.objects.filter(pk=api_key.pk).update(is_active=False)
    api_key.is_active = False
    logger.info("API key %r (%s…) revoked by %s", api_key.name, api_key.key_prefix, actor.email)
    return api_key
