"""Collision avoidance: who is writing a reply on a ticket.

An agent who opens the reply box takes the ticket's lock for TICKET_LOCK_SECONDS and renews
it while typing; others see who holds it. It is advisory: another agent may still reply,
after confirming. A lapsed lock is taken over by the next agent without any clean-up job.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import User
from tickets.models import Ticket, TicketLock


@dataclass(frozen=True)
class LockState:
    held: bool  # by the asking agent
    holder: str  # who holds it, when someone else does
    expires_at: datetime | None

    def as_json(self) -> dict[str, object]:
        return {
            "held": self.held,
            "holder": self.holder,
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
        }


def _lifetime() -> timedelta:
    return timedelta(seconds=settings.TICKET_LOCK_SECONDS)


def ticket_lock_acquire(*, ticket: Ticket, agent: User, now: datetime | None = None) -> LockState:
    """Take or renew the lock; when another agent holds a live lock, say who."""
    now = now or timezone.now()
    expires = now + _lifetime()
    # Claimed with a conditional UPDATE: only a lock that is ours or has lapsed is taken, so
    # two agents opening the reply box at once cannot both believe they hold it.
    taken = TicketLock.objects.filter(Q(agent=agent) | Q(expires_at__lte=now), ticket_id=ticket.pk).update(
        agent=agent, expires_at=expires
    )
    if not taken:
        try:
            with transaction.atomic():
                TicketLock.objects.create(ticket_id=ticket.pk, agent=agent, acquired_at=now, expires_at=expires)
            taken = 1
        except IntegrityError:
            pass  # someone else's live lock
    if taken:
        return LockState(held=True, holder="", expires_at=expires)
    return ticket_lock_state(ticket=ticket, agent=agent, now=now)


def ticket_lock_release(*, ticket: Ticket, agent: User) -> None:
    TicketLock.objects.filter(ticket_id=ticket.pk, agent=agent).delete()


def ticket_lock_state(
    *, ticket: Ticket, agent: User, now: datetime | None = None, lock: TicketLock | None = None, free: bool = False
) -> LockState:
    """Who holds the ticket's lock now, as `agent` sees it. Pass `lock` when already read,
    or `free` when it was read and there is none."""
    now = now or timezone.now()
    if lock is None and not free:
        lock = TicketLock.objects.select_related("agent").filter(ticket_id=ticket.pk).first()
    if lock is None or lock.expires_at <= now:
        return LockState(held=False, holder="", expires_at=None)
    if lock.agent_id == agent.pk:
        return LockState(held=True, holder="", expires_at=lock.expires_at)
    return LockState(held=False, holder=lock.agent.name, expires_at=lock.expires_at)
