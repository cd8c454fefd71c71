"""Webhooks: which ticket events each endpoint hears of, what is sent, how it is signed, and
its delivery with retries.

Deliveries are rows (an outbox), written by `webhooks_plan_for_event` in the transaction of
the change that caused the event, and sent after commit. `webhook_delivery_send` claims a
row with a conditional UPDATE (pending -> sending) and sends only when it won the claim, so
that a task and the resender never send one row twice at once.

Each request carries:
    X-Helpdesk-Event:     the event type (ticket.created, …)
    X-Helpdesk-Delivery:  the delivery's id (the same on each retry; a redelivery has its own)
    X-Helpdesk-Timestamp: seconds since the epoch, when this try was signed
    X-Helpdesk-Signature: sha256=<hex HMAC-SHA256 over "<timestamp>." + body, keyed by the secret>
A receiver recomputes the HMAC, compares in constant time, and refuses old timestamps.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from api.models import DeliveryState, Webhook, WebhookAttempt, WebhookDelivery, WebhookEvent
from helpdesk.config_cache import config_cached
from tickets.models import EntryKind, EventKind, TicketEvent

logger = logging.getLogger(__name__)

STUCK_AFTER = timedelta(minutes=10)
EXCERPT_CHARS = 1000

EVENT_TYPES: dict[str, WebhookEvent] = {
    EventKind.CREATED: WebhookEvent.TICKET_CREATED,
    EventKind.RESPONSE: WebhookEvent.TICKET_REPLIED,
    EventKind.MESSAGE: WebhookEvent.TICKET_REPLIED,
    EventKind.STATUS_CHANGED: WebhookEvent.TICKET_STATUS_CHANGED,
    EventKind.SLA_WARNING: WebhookEvent.SLA_WARNING,
    EventKind.OVERDUE: WebhookEvent.SLA_BREACH,
    **{
        kind: WebhookEvent.TICKET_UPDATED
        for kind in (
            EventKind.NOTE,
            EventKind.ASSIGNED,
            EventKind.TRANSFERRED,
            EventKind.PRIORITY_CHANGED,
            EventKind.SLA_CHANGED,
            EventKind.HELP_TOPIC_CHANGED,
            EventKind.DUE_OVERRIDDEN,
            EventKind.COLLABORATOR_ADDED,
            EventKind.COLLABORATOR_REMOVED,
            EventKind.MERGED,
            EventKind.LINKED,
            EventKind.RATED,
        )
    },
}


def backoff(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min, … up to an hour between tries."""
    return timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 3600))


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def _ref(obj: Any) -> dict[str, Any] | None:
    return None if obj is None else {"id": obj.pk, "name": obj.name}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def webhook_payload(event: TicketEvent, event_type: str) -> dict[str, Any]:
    """What an endpoint receives. Built from objects the service already holds (no queries):
    the ticket as it is after the change. Internal notes are announced but never quoted."""
    ticket = event.ticket
    payload: dict[str, Any] = {
        "event": event_type,
        "occurred_at": _iso(event.created_at),
        "ticket": {
            "number": ticket.number,
            "subject": ticket.subject,
            "status": _ref(ticket.status),
            "state": ticket.state,
            "priority": _ref(ticket.priority),
            "department": _ref(ticket.department),
            "help_topic": _ref(ticket.help_topic),
            "sla_plan": _ref(ticket.sla_plan),
            "assignee": _ref(ticket.assignee),
            "requester": {"name": ticket.requester.name, "email": ticket.requester.email},
            "source": ticket.source,
            "due_at": _iso(ticket.due_at),
            # The sweep marks the row overdue with an UPDATE; the object it holds is older.
            "is_overdue": ticket.is_overdue or event.kind == EventKind.OVERDUE,
            "created_at": _iso(ticket.created_at),
            "url": settings.SITE_URL + ticket.get_staff_url(),
        },
        "change": {
            "kind": event.kind,
            "from": event.from_value,
            "to": event.to_value,
            "actor": _ref(event.actor),
            "data": event.data or {},
        },
        "entry": None,
    }
    entry = event.entry
    if entry is not None and entry.kind != EntryKind.NOTE:
        payload["entry"] = {
            "id": entry.pk,
            "kind": entry.kind,
            "author_name": entry.author_name,
            "body": entry.body,
            "body_html": entry.body_html,
            "created_at": _iso(entry.created_at),
        }
    return payload


def _active_webhooks() -> Any:
    return Webhook.objects.filter(is_active=True).only("id", "events").order_by("pk")


def webhooks_plan_for_event(event: TicketEvent) -> list[WebhookDelivery]:
    """Write a delivery row for each active endpoint that wants this event; send after commit."""
    event_type = EVENT_TYPES.get(event.kind)
    if event_type is None:
        return []
    listening = config_cached("webhooks-active", lambda: [(h.pk, list(h.events)) for h in _active_webhooks()])
    hooks = [hook_id for hook_id, events in listening if event_type in events]
    if not hooks:
        return []
    payload = webhook_payload(event, event_type)
    rows = WebhookDelivery.objects.bulk_create(
        WebhookDelivery(
            webhook_id=hook_id,
            event_type=event_type,
            ticket_event=event,
            payload=payload,
        )
        for hook_id in hooks
    )
    ids = [row.pk for row in rows if row.pk is not None]
    if len(ids) != len(rows):  # a backend that does not return ids from bulk inserts
        ids = list(WebhookDelivery.objects.filter(ticket_event=event).values_list("pk", flat=True))
    enqueue_on_commit(ids)
    return rows


def webhooks_plan_for_events(event_ids: Iterable[int]) -> int:
    """The bulk path's counterpart (the SLA sweep records its events in bulk): one query when
    no endpoint listens, and the per-event path for each event when one does."""
    if not config_cached("webhooks-active", lambda: [(h.pk, list(h.events)) for h in _active_webhooks()]):
        return 0
    events = TicketEvent.objects.filter(pk__in=list(event_ids)).select_related("ticket").order_by("id")
    return sum(len(webhooks_plan_for_event(event)) for event in events)


def enqueue_on_commit(delivery_ids: Iterable[int]) -> None:
    ids = list(delivery_ids)

    def enqueue() -> None:
        from api.tasks import webhook_deliver

        for delivery_id in ids:
            webhook_deliver.delay(delivery_id)

    # Robust: a broker that is down must not turn a committed change into an error; the
    # resender picks the pending rows up.
    transaction.on_commit(enqueue, robust=True)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is answered as what it is (a 3xx, a failed try): the signed request goes
    to the address the admin registered, nowhere else."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirects)


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 (http(s) only, checked on save)
    try:
        with _opener.open(request, timeout=settings.WEBHOOK_TIMEOUT) as response:
            return response.status, response.read(EXCERPT_CHARS * 4).decode("utf-8", "replace")[:EXCERPT_CHARS]
    except urllib.error.HTTPError as exc:
        text = exc.read(EXCERPT_CHARS * 4).decode("utf-8", "replace")[:EXCERPT_CHARS] if exc.fp else ""
        return exc.code, text


def webhook_delivery_send(*, delivery_id: int, now: datetime | None = None) -> bool | None:
    """Try one delivery if it is pending and due: True when the endpoint took it (2xx), False
    when this try failed, None when there was nothing to try (not due, or claimed elsewhere)."""
    now = now or timezone.now()
    claimed = WebhookDelivery.objects.filter(
        pk=delivery_id, state=DeliveryState.PENDING, next_attempt_at__lte=now
    ).update(state=DeliveryState.SENDING, attempts=F("attempts") + 1, claimed_at=now)
    if claimed != 1:
        return None
    delivery = WebhookDelivery.objects.select_related("webhook").get(pk=delivery_id)
    webhook = delivery.webhook
    if not webhook.is_active:
        WebhookDelivery.objects.filter(pk=delivery_id).update(
            state=DeliveryState.FAILED, last_error="The webhook is disabled."
        )
        return None
    body = json.dumps(delivery.payload, separators=(",", ":"), ensure_ascii=False).encode()
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "HelpDesk-Webhooks/1",
        "X-Helpdesk-Event": delivery.event_type,
        "X-Helpdesk-Delivery": str(delivery.uuid),
        "X-Helpdesk-Timestamp": timestamp,
        "X-Helpdesk-Signature": sign(webhook.secret, timestamp, body),
    }
    started = time.monotonic()
    status_code: int | None = None
    excerpt = error = ""
    try:
        status_code, excerpt = _post(webhook.url, body, headers)
        if not 200 <= status_code < 300:
            error = f"HTTP {status_code}"
    except Exception as exc:  # refused, reset, timed out, TLS, DNS: each is one failed try
        error = f"{type(exc).__name__}: {exc}"[:2000]
    duration = int((time.monotonic() - started) * 1000)
    WebhookAttempt.objects.create(
        delivery_id=delivery_id,
        attempted_at=now,
        status_code=status_code,
        error=error,
        response_excerpt=excerpt,
        duration_ms=duration,
    )
    if not error:
        WebhookDelivery.objects.filter(pk=delivery_id, state=DeliveryState.SENDING).update(
            state=DeliveryState.DELIVERED, delivered_at=timezone.now(), last_status_code=status_code, last_error=""
        )
        return True
    failed = delivery.attempts >= settings.WEBHOOK_MAX_ATTEMPTS
    WebhookDelivery.objects.filter(pk=delivery_id, state=DeliveryState.SENDING).update(
        state=DeliveryState.FAILED if failed else DeliveryState.PENDING,
        last_status_code=status_code,
        last_error=error,
        next_attempt_at=now + backoff(delivery.attempts),
    )
    logger.warning("webhook delivery %s attempt %s failed: %s", delivery_id, delivery.attempts, error)
    return False


def webhook_deliveries_due(*, now: datetime | None = None) -> list[int]:
    """Return rows stuck in "sending" (a worker killed mid-try) to "pending", and list the
    pending rows that are due: the resender enqueues them."""
    now = now or timezone.now()
    WebhookDelivery.objects.filter(state=DeliveryState.SENDING, claimed_at__lt=now - STUCK_AFTER).update(
        state=DeliveryState.PENDING, next_attempt_at=now
    )
    return list(
        WebhookDelivery.objects.filter(state=DeliveryState.PENDING, next_attempt_at__lte=now)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:2000]
    )
