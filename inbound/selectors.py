"""Reads for the mail admin pages (admins only: the views check)."""

from __future__ import annotations

from django.db.models import Count, QuerySet

from inbound.models import InboundMessage, Mailbox, Outcome
from notifications.models import Notification, NotificationState


def mailboxes_for_admin() -> QuerySet[Mailbox]:
    return Mailbox.objects.select_related("department", "help_topic", "priority").order_by("name")


def inbound_messages_for_admin(*, outcome: str | None) -> QuerySet[InboundMessage]:
    rows = InboundMessage.objects.select_related("ticket", "mailbox").defer("raw")
    if outcome in Outcome.values:
        return rows.filter(outcome=outcome)
    return rows.filter(outcome__in=[Outcome.QUARANTINED, Outcome.REJECTED])


def outbox_for_admin(*, state: str | None) -> QuerySet[Notification]:
    rows = Notification.objects.select_related("ticket", "recipient")
    return rows.filter(state=state if state in NotificationState.values else NotificationState.FAILED)


def mail_counts() -> dict[str, int]:
    """How many messages wait for an admin, and the outbox by state (two grouped queries)."""
    counts = {f"inbound_{o}": 0 for o in Outcome.values} | {f"outbox_{s}": 0 for s in NotificationState.values}
    attention = [Outcome.QUARANTINED, Outcome.REJECTED]
    inbound = InboundMessage.objects.filter(outcome__in=attention).values("outcome").annotate(n=Count("id"))
    for outcome, n in inbound.values_list("outcome", "n"):
        counts[f"inbound_{outcome}"] = n
    outbox = Notification.objects.exclude(state=NotificationState.SENT).values("state").annotate(n=Count("id"))
    for state, n in outbox.values_list("state", "n"):
        counts[f"outbox_{state}"] = n
    return counts
