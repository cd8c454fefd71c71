"""The SLA app's background work: the sweep (every minute, from beat), delivering the
alerts it plans, and recomputing open clocks after an admin edits a plan or a schedule."""

from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import Any

from celery import shared_task
from django.db import OperationalError

from sla.deadlines import Calendar
from sla.services import sla_clocks_recompute, sla_sweep

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
    from notifications.services import enqueue_delivery

    ids = list(
        Notification.objects.filter(event_id__in=event_ids, state=NotificationState.PENDING).values_list(
            "pk", flat=True
        )
    )
    for notification_id in ids:
        enqueue_delivery(notification_id=notification_id)
    return len(ids)


@shared_task(bind=True, acks_late=True, max_retries=3, soft_time_limit=3600, time_limit=3700)
def clocks_recompute(
    self,  # type: ignore[no-untyped-def]
    *,
    plan_ids: list[int],
    changed_at: str,
    old_calendar: dict[str, Any] | None = None,
    reason: str = "",
) -> int:
    """After an admin edited a plan or a schedule: recompute the clocks of the open tickets on
    those plans, and log it."""
    started = time.monotonic()
    try:
        count = sla_clocks_recompute(
            plan_ids=plan_ids,
            changed_at=datetime.fromisoformat(changed_at),
            old_calendar=Calendar.from_dict(old_calendar) if old_calendar else None,
            reason=reason,
        )
    except OperationalError as exc:  # the database went away: try again shortly
        raise self.retry(exc=exc, countdown=60) from exc
    logger.info(
        "SLA clocks recomputed for %s open tickets on plans %s (%s) in %.1f s",
        count,
        plan_ids,
        reason,
        time.monotonic() - started,
    )
    return count
