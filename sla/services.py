"""The breach sweep: warnings and breaches of running clocks, each acted on exactly once."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from sla.models import ClockState, TicketClock
from tickets.events import event_record
from tickets.models import EventKind, Priority, Ticket


@dataclass
class SweepResult:
    warned: list[int] = field(default_factory=list)
    breached: list[int] = field(default_factory=list)


def sla_sweep(*, now: datetime | None = None) -> SweepResult:
    """Warn and breach every running clock past its instant, with no cap per run.

    Each clock is claimed with a conditional UPDATE (warned_at or breached_at still empty);
    only the claimant writes the event and plans the alerts, in the claim's transaction, so
    two sweeps at once, or a rerun, act once.
    """
    now = now or timezone.now()
    result = SweepResult()
    # Through the partial indexes clock_warn_due_idx and clock_breach_due_idx.
    to_warn = TicketClock.objects.filter(
        state=ClockState.RUNNING, warned_at__isnull=True, warn_at__isnull=False, warn_at__lte=now
    ).values_list("pk", flat=True)
    for clock_id in list(to_warn):
        with transaction.atomic():
            if (
                TicketClock.objects.filter(
                    pk=clock_id, state=ClockState.RUNNING, warned_at__isnull=True, warn_at__lte=now
                ).update(warned_at=now)
                != 1
            ):
                continue
            clock = TicketClock.objects.select_related("ticket__department", "ticket__assignee").get(pk=clock_id)
            event_record(
                ticket=clock.ticket,
                kind=EventKind.SLA_WARNING,
                to_value=clock.get_target_display(),
                data={"target": clock.target, "due_at": clock.due_at.isoformat() if clock.due_at else None},
                at=now,
            )
            result.warned.append(clock_id)
    to_breach = TicketClock.objects.filter(
        state=ClockState.RUNNING, breached_at__isnull=True, due_at__isnull=False, due_at__lte=now
    ).values_list("pk", flat=True)
    for clock_id in list(to_breach):
        with transaction.atomic():
            if (
                TicketClock.objects.filter(
                    pk=clock_id, state=ClockState.RUNNING, breached_at__isnull=True, due_at__lte=now
                ).update(breached_at=now)
                != 1
            ):
                continue
            clock = TicketClock.objects.select_related(
                "ticket__department", "ticket__assignee", "ticket__sla_plan", "ticket__priority"
            ).get(pk=clock_id)
            ticket = clock.ticket
            Ticket.objects.filter(pk=ticket.pk).update(is_overdue=True)
            event_record(
                ticket=ticket,
                kind=EventKind.OVERDUE,
                to_value=clock.get_target_display(),
                data={"target": clock.target, "due_at": clock.due_at.isoformat() if clock.due_at else None},
                at=now,
            )
            _breach_actions(ticket, now)
            result.breached.append(clock_id)
    return result


def _breach_actions(ticket: Ticket, now: datetime) -> None:
    """What the plan says a breach does beyond alerting, through the ticket services."""
    from tickets.services import ticket_assign, ticket_set_priority

    plan = ticket.sla_plan
    if plan is None:
        return
    if plan.breach_raise_priority:
        higher = Priority.objects.filter(urgency__lt=ticket.priority.urgency).order_by("-urgency").first()
        if higher is not None:
            ticket_set_priority(ticket=ticket, actor=None, priority=higher, now=now)
    if plan.breach_reassign_to_id and plan.breach_reassign_to_id != ticket.assignee_id and plan.breach_reassign_to:
        ticket_assign(ticket=ticket, actor=None, assignee=plan.breach_reassign_to, now=now)
