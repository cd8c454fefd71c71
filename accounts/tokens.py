"""Registration links: proof that the person registering reads the address's mailbox.

Nothing is stored until the link is followed: the token carries the address and the chosen
name, signed, with a fingerprint of the address's password state. Setting a password changes
that state, so a link works once, and a link older than REGISTRATION_TIMEOUT not at all.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.utils.crypto import constant_time_compare, salted_hmac

from accounts.models import User, UserManager

SALT = "accounts.registration"


@dataclass(frozen=True)
class Registration:
    email: str
    name: str
    user: User | None  # the guest row the account takes over, or None for a new address


def _fingerprint(user: User | None) -> str:
    return salted_hmac(SALT, user.password if user is not None else "new").hexdigest()[:20]


def registration_token_make(*, email: str, name: str) -> str:
    address = UserManager.normalize_email(email)
    user = User.objects.filter(email=address).first()
    return signing.dumps({"e": address, "n": name, "f": _fingerprint(user)}, salt=SALT, compress=True)


def registration_token_read(token: str) -> Registration | None:
    """What a registration link grants, or None when it is forged, expired or spent."""
    try:
        data = signing.loads(token, salt=SALT, max_age=settings.REGISTRATION_TIMEOUT)
        email, name, fingerprint = str(data["e"]), str(data["n"]), str(data["f"])
    except (signing.BadSignature, KeyError, TypeError):
        return None
    user = User.objects.filter(email=email).first()
    if not constant_time_compare(fingerprint, _fingerprint(user)):
        return None
    if user is not None and (user.has_usable_password() or user.is_agent or not user.is_active):
        return None
    return Registration(email=email, name=name, user=user)
