"""The Celery app and its beat schedule.

Each periodic entry expires before its next run, so that a backlog of missed runs (a worker
that was down) collapses into one instead of running many times over.
"""

import os

from celery import Celery
from django.conf import settings

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")

app = Celery("helpdesk")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

app.conf.beat_schedule = {
    "sla-sweep": {
        "task": "sla.tasks.sweep",
        "schedule": float(settings.SLA_SWEEP_SECONDS),
        "options": {"expires": max(settings.SLA_SWEEP_SECONDS - 5, settings.SLA_SWEEP_SECONDS * 0.9)},
    },
    "notifications-resend-pending": {
        "task": "notifications.tasks.resend_pending",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    "inbound-fetch-mailboxes": {
        "task": "inbound.tasks.fetch_mailboxes",
        "schedule": float(settings.INBOUND_POLL_SECONDS),
        "options": {"expires": max(settings.INBOUND_POLL_SECONDS - 5, 1)},
    },
    "webhooks-resend-due": {
        "task": "api.tasks.webhooks_resend_due",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    "tickets-autoclose-resolved": {
        "task": "tickets.tasks.autoclose_resolved",
        "schedule": 15 * 60.0,
        "options": {"expires": 14 * 60},
    },
}
