"""Writes to accounts."""

from __future__ import annotations

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
