"""Writes of the SLA app: the breach sweep, and the configuration (schedules and plans)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone

from sla.bulk import batched
from sla.models import ClockState, ClockTarget, SLAPlan, TicketClock
from tickets.events import events_record_bulk
from tickets.exceptions import TicketActionError
from tickets.models import EventKind, Priority, Ticket

logger = logging.getLogger(__name__)

# Clocks claimed per transaction. Each batch commits on its own, so a sweep that fails
# half-way keeps what it did; there is no cap per run.
SWEEP_BATCH = 5000
# Events whose alerts one delivery task enqueues.
DELIVERY_CHUNK = 500


@dataclass
class SweepResult:
    warned: list[int] = field(default_factory=list)
    breached: list[int] = field(default_factory=list)
    tickets_marked_overdue: int = 0
    alerts_planned: int = 0
    actions: list[str] = field(default_factory=list)
    # Clocks whose ticket another transaction held at that moment: the next run takes them.
    skipped: int = 0


def _candidates(kind: str, now: datetime) -> list[tuple[int, int]]:
    """(clock id, ticket id) of every running clock past its instant and not yet acted on.

    Each query matches a partial index (clock_breach_due_idx, clock_warn_due_idx), which
    holds only the clocks still to act on: a sweep with nothing due reads next to nothing.
    """
    running = TicketClock.objects.filter(state=ClockState.RUNNING)
    if kind == EventKind.OVERDUE:
        due = running.filter(breached_at__isnull=True, due_at__isnull=False, due_at__lte=now)
    else:
        due = running.filter(warned_at__isnull=True, warn_at__isnull=False, warn_at__lte=now, breached_at__isnull=True)
    return list(due.order_by().values_list("pk", "ticket_id"))


def sla_due_now(*, now: datetime | None = None) -> tuple[list[int], list[int]]:
    """The clocks a sweep now would breach and warn, without acting on them."""
    now = now or timezone.now()
    breach = [clock_id for clock_id, _ in _candidates(EventKind.OVERDUE, now)]
    # A clock past both instants is breached, not warned.
    breaching = set(breach)
    warn = [clock_id for clock_id, _ in _candidates(EventKind.SLA_WARNING, now) if clock_id not in breaching]
    return breach, warn


def _id_list(column: str, ids: Sequence[int]) -> tuple[str, list[object]]:
    if connection.vendor == "postgresql":
        return f"{column} = ANY(%s)", [list(ids)]
    return f"{column} IN ({', '.join(['%s'] * len(ids))})", list(ids)


def _claim(kind: str, clock_ids: Sequence[int], now: datetime) -> list[int]:
    """Mark the clocks warned or breached if they still qualify; the ids this call marked.

    The condition is checked again by the UPDATE itself, so of two sweeps at once, or a
    rerun, only one marks each clock, and only the ids it returns get an event and alerts.
    A breach also counts as the warning, so that a clock found past both gets one alert.
    """
    q = connection.ops.quote_name
    stamp = connection.ops.adapt_datetimefield_value(now)
    where, params = _id_list(q("id"), clock_ids)
    if kind == EventKind.OVERDUE:
        sets = f"{q('breached_at')} = %s, {q('warned_at')} = COALESCE({q('warned_at')}, %s)"
        condition = f"{q('breached_at')} IS NULL AND {q('due_at')} IS NOT NULL AND {q('due_at')} <= %s"
        set_params: list[object] = [stamp, stamp]
    else:
        sets = f"{q('warned_at')} = %s"
        condition = (
            f"{q('warned_at')} IS NULL AND {q('breached_at')} IS NULL AND {q('warn_at')} IS NOT NULL "
            f"AND {q('warn_at')} <= %s"
        )
        set_params = [stamp]
    sql = (
        f"UPDATE {q(TicketClock._meta.db_table)} SET {sets} "  # noqa: S608 (names from the model, values as parameters)
        f"WHERE {where} AND {q('state')} = %s AND {condition} RETURNING {q('id')}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*set_params, *params, ClockState.RUNNING, stamp])
        return [row[0] for row in cursor.fetchall()]


def sla_sweep(*, now: datetime | None = None, batch_size: int = SWEEP_BATCH, deliver: bool = True) -> SweepResult:
    """Breach and warn every running clock past its instant, with no cap per run.

    For each batch, in one transaction: lock the clocks' tickets (skipping those another
    transaction holds: the ticket services lock a ticket before its clocks, and so does
    this, so neither waits on the other in a circle), claim the clocks with a conditional
    UPDATE … RETURNING, mark the tickets overdue, write the events and plan the alerts in
    bulk, and run the plans' breach actions through the ticket services. Delivery is
    enqueued on commit (unless `deliver` is off, as in the benchmark).
    """
    now = now or timezone.now()
    result = SweepResult()
    for kind in (EventKind.OVERDUE, EventKind.SLA_WARNING):
        for batch in batched(_candidates(kind, now), batch_size):
            _sweep_batch(kind, batch, now, result, deliver)
    return result


def _sweep_batch(
    kind: str, batch: Sequence[tuple[int, int]], now: datetime, result: SweepResult, deliver: bool
) -> None:
    with transaction.atomic():
        ticket_ids = sorted({ticket_id for _, ticket_id in batch})
        locked = set(
            Ticket.objects.select_for_update(skip_locked=True)
            .filter(pk__in=ticket_ids)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        mine = [clock_id for clock_id, ticket_id in batch if ticket_id in locked]
        result.skipped += len(batch) - len(mine)
        if not mine:
            return
        claimed = _claim(kind, mine, now)
        if not claimed:
            return
        clocks = list(
            TicketClock.objects.filter(pk__in=claimed)
            .order_by("pk")
            .values("pk", "ticket_id", "target", "due_at", "target_seconds", "elapsed_seconds", "cycle")
        )
        if kind == EventKind.OVERDUE:
            overdue_ids = sorted({c["ticket_id"] for c in clocks})
            result.tickets_marked_overdue += Ticket.objects.filter(pk__in=overdue_ids, is_overdue=False).update(
                is_overdue=True
            )
        labels = dict(ClockTarget.choices)
        events, alerts = events_record_bulk(
            kind=EventKind(kind),
            rows=[
                (
                    c["ticket_id"],
                    labels[c["target"]],
                    {
                        "target": c["target"],
                        "due_at": c["due_at"].isoformat() if c["due_at"] else None,
                        "target_seconds": c["target_seconds"],
                        "cycle": c["cycle"],
                    },
                )
                for c in clocks
            ],
            at=now,
        )
        result.alerts_planned += alerts
        if kind == EventKind.OVERDUE:
            result.breached.extend(claimed)
            _breach_actions(sorted({c["ticket_id"] for c in clocks}), now, result)
        else:
            result.warned.extend(claimed)
        if deliver:
            event_ids = [event_id for event_id, _ in events]
            transaction.on_commit(lambda: _enqueue_delivery(event_ids))


def _enqueue_delivery(event_ids: list[int]) -> None:
    from sla.tasks import deliver_alerts

    for chunk in batched(event_ids, DELIVERY_CHUNK):
        deliver_alerts.delay(chunk)


def _breach_actions(ticket_ids: list[int], now: datetime, result: SweepResult) -> None:
    """What the plans say a breach does beyond alerting, through the ticket services, once
    per ticket however many of its clocks breached. A refused action (the agent to reassign
    to has left the department) is logged and does not undo the breach."""
    from tickets.services import ticket_assign, ticket_set_priority

    acting = SLAPlan.objects.filter(is_active=True).exclude(breach_raise_priority=False, breach_reassign_to=None)
    plans = {plan.pk: plan for plan in acting.select_related("breach_reassign_to")}
    if not plans:
        return
    priorities = sorted(Priority.objects.all(), key=lambda p: p.urgency)
    for ticket in Ticket.objects.filter(pk__in=ticket_ids, sla_plan_id__in=plans).select_related("priority"):
        plan = plans[ticket.sla_plan_id]  # type: ignore[index]
        try:
            with transaction.atomic():
                if plan.breach_raise_priority:
                    higher = [p for p in priorities if p.urgency < ticket.priority.urgency]
                    if higher:
                        ticket = ticket_set_priority(ticket=ticket, actor=None, priority=higher[-1], now=now)
                        result.actions.append(f"#{ticket.number}: priority raised to {higher[-1].name}")
                target = plan.breach_reassign_to
                if target is not None and target.pk != ticket.assignee_id:
                    ticket = ticket_assign(ticket=ticket, actor=None, assignee=target, now=now)
                    result.actions.append(f"#{ticket.number}: reassigned to {target.name}")
        except TicketActionError as exc:
            logger.warning("SLA breach action on ticket %s refused: %s", ticket.pk, exc)
            result.actions.append(f"#{ticket.number}: breach action refused: {exc}")
