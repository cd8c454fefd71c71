"""Writes of the API app: keys and tokens, configuration changed through the REST API,
webhooks, and tickets opened through the osTicket-compatible intake."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

from accounts.models import DepartmentMembership, User
from accounts.services import end_user_get_or_create
from api.models import ApiKey, ApiToken, DeliveryState, Webhook, WebhookDelivery
from tickets import services as ticket_services
from tickets.attachments import Upload, attachment_check
from tickets.exceptions import InvalidInput
from tickets.models import HelpTopic, Priority, Ticket

# ---------------------------------------------------------------- keys and tokens


def api_key_create(
    *,
    name: str,
    allowed_addresses: str,
    key: str | None = None,
    can_create_tickets: bool = True,
    is_active: bool = True,
    notes: str = "",
) -> tuple[ApiKey, str]:
    """Make a key (32 upper-case hex characters, as osTicket's) and return it with its row."""
    key = key or secrets.token_hex(16).upper()
    api_key = ApiKey(
        name=name,
        allowed_addresses=allowed_addresses,
        can_create_tickets=can_create_tickets,
        is_active=is_active,
        notes=notes,
    )
    api_key.set_key(key)
    api_key.full_clean()
    api_key.save()
    return api_key, key


def api_token_issue(*, user: User) -> tuple[ApiToken, str]:
    """A new REST API token for `user`; the token is returned once and only its hash is kept."""
    key = secrets.token_urlsafe(32)
    token = ApiToken.objects.create(user=user, key_hash=ApiToken.hash_key(key), key_prefix=key[:8])
    return token, key


def api_token_revoke(*, token: ApiToken) -> None:
    ApiToken.objects.filter(pk=token.pk).delete()


# ---------------------------------------------------------------- configuration


def config_save(*, instance: models.Model, values: dict[str, Any]) -> models.Model:
    """Create or change a department, help topic, priority, status or end user.

    "Default" flags are unique (per state, for statuses): setting one clears the previous
    holder in the same transaction, so that the constraint never fails halfway.
    """
    for name, value in values.items():
        setattr(instance, name, value)
    with transaction.atomic():
        if getattr(instance, "is_default", False):
            holders = type(instance)._default_manager.filter(is_default=True)
            if hasattr(instance, "state"):
                holders = holders.filter(state=instance.state)
            holders.exclude(pk=instance.pk).update(is_default=False)
        instance.full_clean()
        instance.save()
    return instance


def config_delete(*, instance: models.Model) -> None:
    """Delete what nothing uses; ProtectedError (409) when tickets or settings still do."""
    with transaction.atomic():
        instance.delete()


def _memberships_replace(agent: User, memberships: Sequence[dict[str, Any]]) -> None:
    DepartmentMembership.objects.filter(agent=agent).delete()
    primary_given = any(m.get("is_primary") for m in memberships)
    DepartmentMembership.objects.bulk_create(
        DepartmentMembership(
            agent=agent,
            department=m["department"],
            role=m["role"],
            is_primary=m.get("is_primary", False) or (not primary_given and i == 0),
            is_available=m.get("is_available", True),
        )
        for i, m in enumerate(memberships)
    )


def agent_add(
    *, email: str, name: str, memberships: Sequence[dict[str, Any]], password: str | None = None, is_admin: bool = False
) -> User:
    """An agent (or admin) with their departments and roles."""
    with transaction.atomic():
        agent = User.objects.create_user(
            email, password or None, name=name, kind=User.Kind.ADMIN if is_admin else User.Kind.AGENT
        )
        _memberships_replace(agent, memberships)
    return agent


def agent_update(*, agent: User, actor: User, values: dict[str, Any]) -> User:
    values = dict(values)
    memberships = values.pop("memberships", None)
    if agent.pk == actor.pk and (values.get("is_active") is False or values.get("is_admin") is False):
        raise InvalidInput("is_admin" if "is_admin" in values else "is_active", "You cannot lock yourself out.")
    with transaction.atomic():
        if "is_admin" in values:
            agent.kind = User.Kind.ADMIN if values.pop("is_admin") else User.Kind.AGENT
        for name, value in values.items():
            setattr(agent, name, value)
        agent.save()
        if memberships is not None:
            _memberships_replace(agent, memberships)
    return agent


# ---------------------------------------------------------------- webhooks


def webhook_create(*, name: str, url: str, events: list[str], actor: User, is_active: bool = True) -> Webhook:
    webhook = Webhook(
        name=name, url=url, events=events, is_active=is_active, secret=secrets.token_urlsafe(32), created_by=actor
    )
    webhook.full_clean()
    webhook.save()
    return webhook


def webhook_update(*, webhook: Webhook, values: dict[str, Any], rotate_secret: bool = False) -> Webhook:
    for name, value in values.items():
        setattr(webhook, name, value)
    if rotate_secret:
        webhook.secret = secrets.token_urlsafe(32)
    webhook.full_clean()
    webhook.save()
    return webhook


def webhook_delete(*, webhook: Webhook) -> None:
    """Remove an endpoint and its delivery log."""
    webhook.delete()


def webhook_delivery_redeliver(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send a delivery's payload again, as a new delivery (the log keeps both)."""
    from api.webhooks import enqueue_on_commit

    with transaction.atomic():
        again = WebhookDelivery.objects.create(
            webhook=delivery.webhook,
            event_type=delivery.event_type,
            ticket_event_id=delivery.ticket_event_id,
            payload=delivery.payload,
            redelivery_of=delivery,
            state=DeliveryState.PENDING,
        )
        enqueue_on_commit([again.pk])
    return again


# ---------------------------------------------------------------- the osTicket-compatible intake


@dataclass
class IntakeTicket:
    """A ticket request from /api/tickets.json or .xml, once read and checked."""

    name: str
    email: str
    subject: str
    body: str = ""
    body_html: str = ""
    phone: str = ""
    user_notes: str = ""
    priority: Priority | None = None
    help_topic: HelpTopic | None = None
    source: str = "api"
    ip_address: str | None = None
    alert: bool = True
    autorespond: bool = True
    uploads: list[Upload] = field(default_factory=list)
    # Attachments that could not be read at all (bad data URL, bad base64), by the name given.
    attachment_errors: list[str] = field(default_factory=list)


def intake_ticket_create(*, request: IntakeTicket, now: datetime | None = None) -> Ticket:
    """Open a ticket for an API client, as osTicket's intake does.

    A file that is refused does not fail the ticket: it is left out and reported in an
    internal note ("File Import Error") on the ticket, in the same transaction.
    """
    accepted: list[Upload] = []
    problems = list(request.attachment_errors)
    for upload in request.uploads:
        try:
            attachment_check(upload)
        except InvalidInput as exc:
            problems.append(exc.message)
            continue
        if len(accepted) >= settings.ATTACHMENT_MAX_FILES:
            problems.append(f"{upload.filename}: too many files; only the first {len(accepted)} were kept.")
            continue
        accepted.append(upload)
    now = now or timezone.now()
    # No savepoint of its own: a failure undoes the caller's whole transaction anyway, and
    # this is the intake's hot path (one round trip less per ticket).
    with transaction.atomic(savepoint=False):
        requester = end_user_get_or_create(email=request.email, name=request.name, phone=request.phone)
        ticket = ticket_services.ticket_create(
            requester=requester,
            subject=request.subject,
            body=request.body,
            body_html=request.body_html,
            source=request.source,
            help_topic=request.help_topic,
            priority=request.priority,
            uploads=accepted,
            ip_address=request.ip_address,
            autorespond=request.autorespond,
            alert=request.alert,
            now=now,
        )
        if problems:
            ticket_services.ticket_add_note(
                ticket=ticket, actor=None, title="File Import Error", body="\n".join(problems), source="api", now=now
            )
        if request.user_notes.strip():
            ticket_services.ticket_add_note(
                ticket=ticket,
                actor=None,
                title="Notes about the requester (API)",
                body=request.user_notes,
                source="api",
                now=now,
            )
    return ticket


def api_key_touch(*, api_key: ApiKey, now: datetime | None = None) -> None:
    """Record that a key was used, at most once a minute (every request would be a write)."""
    now = now or timezone.now()
    if api_key.last_used_at is not None and api_key.last_used_at > now - timedelta(minutes=1):
        return
    ApiKey.objects.filter(pk=api_key.pk).filter(
        models.Q(last_used_at__isnull=True) | models.Q(last_used_at__lt=now - timedelta(minutes=1))
    ).update(last_used_at=now)
