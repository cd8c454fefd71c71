"""The SLA app's background work: the sweep (every minute, from beat), delivering the
alerts it plans, and recomputing open clocks after an admin edits a plan or a schedule."""

from __future__ import annotations

import logging

from celery import shared_task

from sla.services import sla_sweep

logger = logging.getLogger(__name__)


@shared_task(expires=55, soft_time_limit=50)
def sweep() -> dict[str, int]:
    result = sla_sweep()
    if result.warned or result.breached or result.skipped:
        logger.info(
            "SLA sweep: %s warned, %s breached, %s alerts planned, %s left for the next run",
            len(result.warned),
            len(result.breached),
            result.alerts_planned,
            result.skipped,
        )
    return {"warned": len(result.warned), "breached": len(result.breached), "alerts": result.alerts_planned}


@shared_task(acks_late=True)
def deliver_alerts(event_ids: list[int]) -> int:
    """Send the alerts the sweep planned for these events, each notification on its own task
    (which claims it first, so a rerun sends nothing twice)."""
    from notifications.models import Notification, NotificationState
    from notifications.tasks import deliver

    ids = list(
        Notification.objects.filter(event_id__in=event_ids, state=NotificationState.PENDING).values_list(
            "pk", flat=True
        )
    )
    for notification_id in ids:
        deliver.delay(notification_id)
    return len(ids)
