"""Writes to accounts."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import available_timezones

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User, UserManager
from tickets.exceptions import InvalidInput
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


def guest_requester_get_or_create(*, email: str, name: str = "", phone: str = "") -> User:
    """The requester of a ticket filed without signing in, from the address the filer typed.

    The filer proved nothing about the address, so a ticket filed this way gives them nothing:
    it belongs to the address's owner (who is mailed about it) and the filer sees it only
    through the link mailed there. An agent's address is refused outright: a ticket under it
    would read, in the thread and in the audit trail, as the agent's own words and acts.
    """
    address = UserManager.normalize_email(email)
    existing = User.objects.filter(email=address).first()
    if existing is not None and existing.is_agent:
        raise InvalidInput("email", "Sign in to open a ticket with this address.")
    return end_user_get_or_create(email=address, name=name, phone=phone)


def _check_time_zone(time_zone: str) -> str:
    if time_zone and time_zone not in available_timezones():
        raise InvalidInput("time_zone", f"Unknown time zone {time_zone!r}; choose one from the list.")
    return time_zone


def end_user_register(*, email: str, name: str, password: str, now: datetime | None = None) -> User:
    """Give the verified address an account: the password is set on the address's row, the one
    its guest tickets already belong to, or on a new row. The caller has verified the address
    (the link mailed to it) and validated the password."""
    now = now or timezone.now()
    with transaction.atomic():
        user = end_user_get_or_create(email=email, name=name)
        # Locked: two clicks on the link (or two links) must not both set a password.
        user = User.objects.select_for_update().get(pk=user.pk)
        if user.has_usable_password() or user.is_agent or not user.is_active:
            raise InvalidInput("email", "This address already has an account: sign in, or reset its password.")
        user.name = single_line(name, 128) or user.name
        user.set_password(password)
        user.email_verified_at = user.email_verified_at or now
        user.save(update_fields=["name", "password", "email_verified_at"])
    return user


def user_password_set(
    *, user: User, password: str, address_verified: bool = False, now: datetime | None = None
) -> User:
    """A new password (validated by the caller). `address_verified`: it came through a link
    mailed to the user's address, which proves they read that mailbox."""
    user.set_password(password)
    fields = ["password"]
    if address_verified and user.email_verified_at is None:
        user.email_verified_at = now or timezone.now()
        fields.append("email_verified_at")
    user.save(update_fields=fields)
    return user


def user_profile_update(*, user: User, name: str, phone: str = "", time_zone: str = "") -> User:
    name = single_line(name, 128)
    if not name:
        raise InvalidInput("name", "Enter your name.")
    user.name = name
    user.phone = single_line(phone, 32)
    user.time_zone = _check_time_zone(time_zone)
    user.save(update_fields=["name", "phone", "time_zone"])
    return user


def agent_profile_update(*, agent: User, name: str, signature: str, time_zone: str) -> User:
    """An agent's own settings: the name shown on their posts, their reply signature, and the
    time zone the staff panel shows times in (empty: the server's)."""
    name = single_line(name, 128)
    if not name:
        raise InvalidInput("name", "Enter your name.")
    agent.name, agent.signature, agent.time_zone = name, signature.strip(), _check_time_zone(time_zone)
    agent.save(update_fields=["name", "signature", "time_zone"])
    return agent
