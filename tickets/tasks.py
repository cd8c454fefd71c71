from __future__ import annotations

from celery import shared_task

from tickets.services import tickets_autoclose


@shared_task(expires=14 * 60)
def autoclose_resolved() -> int:
    return tickets_autoclose()
