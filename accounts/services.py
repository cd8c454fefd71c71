"""Writes to accounts."""

from __future__ import annotations

import zoneinfo

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction

from accounts.models import DepartmentMembership, Role, User, UserManager
from tickets.exceptions import InvalidInput
from tickets.models import Department
from tickets.sanitize import single_line


def end_user_get_or_create(*, email: str, name: str = "", phone: str = "") -> User:
    """The user with this address, created (without a password) if new.

    A name or phone given later does not overwrite what the user set themselves.
    """
    address = UserManager.normalize_email(email)
    try:
        validate_email(address)
    except ValidationError:
        raise InvalidInput("email", "Enter a valid email address.") from None
    name = single_line(name, 128) or address.split("@")[0]
    user = User.objects.filter(email=address).first()
    if user is not None:
        return user
    try:
        with transaction.atomic():
            return User.objects.create_user(address, name=name, phone=single_line(phone, 32))
    except IntegrityError:
        # Created at the same moment by another request: use theirs.
        return User.objects.get(email=address)


def agent_create(
    *,
    email: str,
    name: str,
    password: str | None = None,
    department: Department,
    role: Role,
    is_admin: bool = False,
) -> User:
    kind = User.Kind.ADMIN if is_admin else User.Kind.AGENT
    user = User.objects.create_user(email, password, name=name, kind=kind)
    DepartmentMembership.objects.create(agent=user, department=department, role=role, is_primary=True)
    return user


def agent_profile_update(*, agent: User, name: str, signature: str, time_zone: str) -> User:
    """An agent's own settings: the name shown on their posts, their reply signature, and the
    time zone the staff panel shows times in (empty: the server's)."""
    name = single_line(name, 128)
    if not name:
        raise InvalidInput("name", "Enter your name.")
    if time_zone and time_zone not in zoneinfo.available_timezones():
        raise InvalidInput("time_zone", f"Unknown time zone {time_zone!r}; use a name such as Europe/Berlin.")
    agent.name, agent.signature, agent.time_zone = name, signature.strip(), time_zone
    agent.save(update_fields=["name", "signature", "time_zone"])
    return agent
