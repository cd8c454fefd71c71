"""Account mail: registration links and password resets.

These are not ticket notifications, so they do not go through the ticket outbox; they are sent
by a Celery task (accounts.tasks.account_mail) after the request commits, with retries. The
links are made by the task from the database as it is then: no secret travels through the
broker, and what the mail offers matches the account at the moment it is sent.
"""

from __future__ import annotations

import logging
from email.utils import formataddr
from typing import Literal

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts.models import User, UserManager
from accounts.tokens import registration_token_make
from notifications.render import email_render
from tickets.sanitize import single_line

logger = logging.getLogger(__name__)

Purpose = Literal["register", "reset"]


def _reset_url(user: User) -> str:
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    return settings.SITE_URL + reverse("portal:password_reset_confirm", kwargs={"uidb64": uid, "token": token})


def account_mail_send(*, purpose: Purpose, email: str, name: str = "") -> str | None:
    """Send what a registration or a reset request calls for; the name of the mail sent, if any.

    Register: a new or guest address gets a link to set a password; an address that already
    has an account is told so, with a reset link. Reset: an account gets a reset link; a guest
    address the registration link (it has no password to reset). Unknown and disabled
    addresses get nothing. The pages that ask say the same whatever happens here.
    """
    address = UserManager.normalize_email(email)
    user = User.objects.filter(email=address).first()
    if user is not None and not user.is_active:
        return None
    has_account = user is not None and (user.has_usable_password() or user.is_agent)
    context: dict[str, object] = {"site_url": settings.SITE_URL, "name": user.name if user else name}
    if has_account:
        assert user is not None  # nosec B101 (narrows the type for mypy; has_account above already implies it)
        kind = "account_exists" if purpose == "register" else "password_reset"
        context["reset_url"] = _reset_url(user)
        context["login_url"] = settings.SITE_URL + reverse("portal:login")
        context["timeout_hours"] = max(1, settings.PASSWORD_RESET_TIMEOUT // 3600)
    elif purpose == "register" or user is not None:
        kind = "account_verify"
        token = registration_token_make(email=address, name=name or (user.name if user else ""))
        context["verify_url"] = settings.SITE_URL + reverse("portal:register_verify", kwargs={"token": token})
        context["timeout_hours"] = max(1, settings.REGISTRATION_TIMEOUT // 3600)
    else:
        return None
    rendered = email_render(kind, context)
    shown_name = single_line(str(context["name"] or ""), 64)
    message = EmailMultiAlternatives(
        subject=rendered.subject,
        body=rendered.text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[formataddr((shown_name, address))],
        headers={"Auto-Submitted": "auto-generated"},
    )
    message.attach_alternative(rendered.html, "text/html")
    message.send()
    return kind


def account_mail_enqueue(*, purpose: Purpose, email: str, name: str = "") -> None:
    from accounts.tasks import account_mail

    transaction.on_commit(lambda: account_mail.delay(purpose, email, name))
