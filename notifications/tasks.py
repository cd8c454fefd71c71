"""Delivery tasks: each takes ids and calls a service; retries are declared here."""

from __future__ import annotations

from celery import shared_task

from notifications.models import Notification, NotificationState
from notifications.services import backoff, enqueue_delivery, notification_send, notifications_requeue


@shared_task(bind=True, max_retries=None, acks_late=True, soft_time_limit=120, time_limit=150)
def deliver(self, notification_id: int) -> None:  # type: ignore[no-untyped-def]
    try:
        notification_send(notification_id=notification_id)
    except Exception as exc:
        row = Notification.objects.filter(pk=notification_id).values("attempts", "state").first()
        if row is None or row["state"] != NotificationState.PENDING:
            return
        raise self.retry(exc=exc, countdown=backoff(row["attempts"]).total_seconds()) from exc


@shared_task(acks_late=True)
def deliver_event(event_id: int) -> None:
    """Send what one ticket event planned; each row is claimed on its own."""
    for notification_id in Notification.objects.filter(event_id=event_id, state=NotificationState.PENDING).values_list(
        "pk", flat=True
    ):
        enqueue_delivery(notification_id=notification_id)


@shared_task(expires=55)
def resend_pending() -> int:
    ids = notifications_requeue()
    for notification_id in ids:
        enqueue_delivery(notification_id=notification_id)
    return len(ids)
