"""Periodic fetching of the IMAP mailboxes (beat: inbound-fetch-mailboxes)."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from inbound.fetch import mailbox_fetch, mailboxes_fetch


@shared_task(acks_late=True, soft_time_limit=max(settings.INBOUND_POLL_SECONDS * 5, 60))
def fetch_mailboxes() -> int:
    return sum(result.fetched for result in mailboxes_fetch().values())


@shared_task(acks_late=True)
def fetch_mailbox(mailbox_id: int) -> int:
    return mailbox_fetch(mailbox_id=mailbox_id).fetched
