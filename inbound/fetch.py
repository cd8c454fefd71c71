"""Fetching IMAP mailboxes.

A message is flagged, moved or deleted only after `email_ingest` has committed it, so that a
crash (a killed worker, a lost connection) leaves it in the mailbox to be fetched again, and
the rerun finds its Message-ID already taken in: nothing lost, nothing doubled. Messages are
read with BODY.PEEK[] so that reading alone never marks them.
"""

from __future__ import annotations

import logging
import ssl
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from imapclient import IMAPClient
from imapclient.imapclient import DELETED, SEEN

from accounts.models import User
from inbound.models import AfterFetch, Mailbox, Security
from inbound.services import email_ingest
from notifications.models import NotificationKind
from notifications.planner import notification_plan_direct

logger = logging.getLogger(__name__)

CHUNK = 50
# A mailbox failing again and again is tried at most this often.
FAILING_RETRY = timedelta(minutes=10)


@dataclass
class FetchResult:
    fetched: int = 0
    outcomes: dict[str, int] | None = None
    backlog: int = 0
    error: str = ""
    skipped: bool = False


def _connect(mailbox: Mailbox) -> IMAPClient:
    context = ssl.create_default_context()
    timeout = settings.EMAIL_TIMEOUT
    if mailbox.security == Security.SSL:
        client = IMAPClient(mailbox.host, port=mailbox.port, ssl=True, ssl_context=context, timeout=timeout)
    else:
        client = IMAPClient(mailbox.host, port=mailbox.port, ssl=False, timeout=timeout)
        if mailbox.security == Security.STARTTLS:
            client.starttls(context)
    client.login(mailbox.username, mailbox.password)
    return client


def _claim(mailbox_id: int, now: datetime) -> bool:
    lease = now + timedelta(seconds=settings.INBOUND_LEASE_SECONDS)
    return (
        Mailbox.objects.filter(pk=mailbox_id, is_active=True)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .update(lease_until=lease, last_fetch_at=now)
        == 1
    )


def _after_fetch(client: IMAPClient, mailbox: Mailbox, uids: list[int]) -> None:
    if not uids:
        return
    if mailbox.after_fetch == AfterFetch.MOVE:
        if client.has_capability("MOVE"):
            client.move(uids, mailbox.move_to_folder)
        else:
            client.copy(uids, mailbox.move_to_folder)
            client.add_flags(uids, [DELETED])
            client.expunge(uids) if client.has_capability("UIDPLUS") else client.expunge()
    elif mailbox.after_fetch == AfterFetch.DELETE:
        client.add_flags(uids, [DELETED])
        client.expunge(uids) if client.has_capability("UIDPLUS") else client.expunge()
    else:
        client.add_flags(uids, [SEEN])


def mailbox_fetch(*, mailbox_id: int, limit: int | None = None, now: datetime | None = None) -> FetchResult:
    """Fetch one mailbox: up to `limit` messages, oldest first. Never raises for IMAP trouble:
    it is recorded on the mailbox (last error, failures in a row) and admins are alerted."""
    now = now or timezone.now()
    limit = limit or settings.INBOUND_FETCH_MAX
    mailbox = Mailbox.objects.select_related("department", "help_topic", "priority").filter(pk=mailbox_id).first()
    if mailbox is None:
        return FetchResult(skipped=True)
    if (
        mailbox.consecutive_failures >= settings.MAILBOX_ALERT_AFTER
        and mailbox.last_error_at is not None
        and now - mailbox.last_error_at < FAILING_RETRY
    ):
        return FetchResult(skipped=True)
    if not _claim(mailbox.pk, now):
        return FetchResult(skipped=True)
    outcomes: dict[str, int] = {}
    result = FetchResult(outcomes=outcomes)
    client: IMAPClient | None = None
    try:
        client = _connect(mailbox)
        if mailbox.after_fetch == AfterFetch.MOVE and not client.folder_exists(mailbox.move_to_folder):
            client.create_folder(mailbox.move_to_folder)
        client.select_folder(mailbox.folder)
        criteria = ["UNSEEN", "NOT", "DELETED"] if mailbox.after_fetch == AfterFetch.MARK_SEEN else ["NOT", "DELETED"]
        uids = sorted(client.search(criteria))
        batch = uids[:limit]
        for start in range(0, len(batch), CHUNK):
            chunk = batch[start : start + CHUNK]
            done: list[int] = []
            try:
                data = client.fetch(chunk, ["BODY.PEEK[]"])
                for uid in chunk:
                    raw = data.get(uid, {}).get(b"BODY[]")
                    if raw is None:
                        continue  # expunged by someone else meanwhile
                    ingested = email_ingest(raw=bytes(raw), mailbox=mailbox, via="imap")
                    done.append(uid)
                    outcomes[ingested.outcome] = outcomes.get(ingested.outcome, 0) + 1
            finally:
                # Whatever stopped the chunk, what is committed is told to the mailbox.
                if done:
                    _after_fetch(client, mailbox, done)
                    result.fetched += len(done)
            Mailbox.objects.filter(pk=mailbox.pk).update(
                lease_until=timezone.now() + timedelta(seconds=settings.INBOUND_LEASE_SECONDS)
            )
        result.backlog = len(uids) - result.fetched
        Mailbox.objects.filter(pk=mailbox.pk).update(
            last_success_at=timezone.now(),
            consecutive_failures=0,
            failure_alerted_at=None,
            backlog=result.backlog,
            lease_until=None,
        )
    except Exception as exc:
        result.error = f"{type(exc).__name__}: {exc}"[:2000]
        logger.warning("fetching mailbox %s failed: %s", mailbox.name, result.error)
        _record_failure(mailbox, result.error, now)
    finally:
        if client is not None:
            try:
                client.logout()
            except Exception:
                logger.debug("logout from %s failed", mailbox.name, exc_info=True)
    return result


def _record_failure(mailbox: Mailbox, error: str, now: datetime) -> None:
    failures = mailbox.consecutive_failures + 1
    Mailbox.objects.filter(pk=mailbox.pk).update(
        last_error=error, last_error_at=now, consecutive_failures=failures, lease_until=None
    )
    if failures < settings.MAILBOX_ALERT_AFTER or mailbox.failure_alerted_at is not None:
        return
    # Claimed like any alert: one alert per run of failures.
    if Mailbox.objects.filter(pk=mailbox.pk, failure_alerted_at__isnull=True).update(failure_alerted_at=now) != 1:
        return
    context: dict[str, object] = {
        "mailbox": {"name": mailbox.name, "last_error": error, "consecutive_failures": failures}
    }
    for admin in User.objects.filter(kind=User.Kind.ADMIN, is_active=True):
        notification_plan_direct(kind=NotificationKind.MAILBOX_ALERT, recipient=admin, ticket_id=None, context=context)


def mailboxes_fetch() -> dict[str, FetchResult]:
    results = {}
    for mailbox in Mailbox.objects.filter(is_active=True).order_by("last_fetch_at", "pk"):
        results[mailbox.name] = mailbox_fetch(mailbox_id=mailbox.pk)
    return results
