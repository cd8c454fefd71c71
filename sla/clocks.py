"""Keeping a ticket's SLA clocks in step with what happens to it.

The ticket services call these inside their transaction, with the ticket row locked; each
writes the clock rows, the events that explain them, and the due instants copied onto the
ticket. The arithmetic itself is in `sla.deadlines`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings

from accounts.models import User
from sla import deadlines
from sla.models import ClockState, ClockTarget, SLAPlan, TicketClock
from tickets.events import event_record
from tickets.models import EventKind, Ticket

OPEN_CLOCK_STATES = (ClockState.RUNNING, ClockState.PAUSED)


@dataclass
class PlanContext:
    plan: SLAPlan
    calendar: deadlines.Calendar
    targets: dict[str, int | None]
    pause_status_ids: frozenset[int]

    @classmethod
    def for_ticket(cls, ticket: Ticket) -> PlanContext | None:
        if ticket.sla_plan_id is None:
            return None
        plan = (
            SLAPlan.objects.select_related("schedule")
            .prefetch_related("priority_targets", "pause_statuses", "schedule__intervals", "schedule__holidays")
            .get(pk=ticket.sla_plan_id)
        )
        return cls(
            plan=plan,
            calendar=plan.calendar(),
            targets=plan.targets_for(ticket.priority_id),
            pause_status_ids=frozenset(s.pk for s in plan.pause_statuses.all()),
        )

    def pauses(self, ticket: Ticket) -> bool:
        return ticket.status_id in self.pause_status_ids


def _locked_clocks(ticket: Ticket) -> dict[str, TicketClock]:
    # Locked so that the sweep's conditional UPDATE (warned/breached) waits for this
    # transaction and then re-checks its condition against what we wrote.
    return {c.target: c for c in TicketClock.objects.select_for_update().filter(ticket=ticket)}


def _bank(clock: TicketClock, cal: deadlines.Calendar, now: datetime) -> None:
    """Count the business time run since `running_since` into `elapsed_seconds`."""
    if clock.state == ClockState.RUNNING and clock.running_since is not None:
        clock.elapsed_seconds += deadlines.business_seconds_between(cal, clock.running_since, now)
        clock.running_since = now


def _schedule(clock: TicketClock, ctx: PlanContext) -> None:
    """Set the due and warning instants of a clock from its elapsed time."""
    if clock.state != ClockState.RUNNING or clock.running_since is None:
        if not clock.is_overridden:
            clock.due_at = None
        clock.warn_at = None
        return
    remaining = max(clock.target_seconds - clock.elapsed_seconds, 0)
    if not clock.is_overridden:
        clock.due_at = deadlines.add_business_seconds(ctx.calendar, clock.running_since, remaining)
    percent = ctx.plan.warn_at_percent
    if percent and clock.warned_at is None and percent < 100:
        warn_seconds = clock.target_seconds * percent // 100
        clock.warn_at = deadlines.add_business_seconds(
            ctx.calendar, clock.running_since, max(warn_seconds - clock.elapsed_seconds, 0)
        )
    else:
        clock.warn_at = None


def _sync_ticket(ticket: Ticket, clocks: dict[str, TicketClock]) -> None:
    """Copy the due instants onto the ticket, for queues and sorting."""
    resolution = clocks.get(ClockTarget.RESOLUTION)
    first = clocks.get(ClockTarget.FIRST_RESPONSE)
    ticket.due_at = resolution.due_at if resolution and resolution.state in OPEN_CLOCK_STATES else None
    ticket.first_response_due_at = first.due_at if first and first.state in OPEN_CLOCK_STATES else None
    ticket.is_overdue = any(c.breached_at is not None and c.state in OPEN_CLOCK_STATES for c in clocks.values())


def _event(
    ticket: Ticket, kind: EventKind, clock: TicketClock, actor: User | None, now: datetime, **data: object
) -> None:
    event_record(
        ticket=ticket,
        kind=kind,
        actor=actor,
        to_value=clock.get_target_display(),
        data={
            "target": clock.target,
            "due_at": clock.due_at.isoformat() if clock.due_at else None,
            "elapsed_seconds": clock.elapsed_seconds,
            "target_seconds": clock.target_seconds,
            **data,
        },
        at=now,
    )


def _new_clock(
    ticket: Ticket, target: str, seconds: int, ctx: PlanContext, now: datetime, elapsed: int = 0
) -> TicketClock:
    paused = ctx.pauses(ticket)
    clock = TicketClock(
        ticket=ticket,
        target=target,
        target_seconds=seconds,
        elapsed_seconds=elapsed,
        state=ClockState.PAUSED if paused else ClockState.RUNNING,
        running_since=None if paused else now,
        started_at=now,
    )
    _schedule(clock, ctx)
    clock.save()
    return clock


def clocks_start(*, ticket: Ticket, actor: User | None, now: datetime) -> None:
    """A new ticket: start its first-response and resolution clocks."""
    ctx = PlanContext.for_ticket(ticket)
    clocks: dict[str, TicketClock] = {}
    if ctx is not None:
        for target in (ClockTarget.FIRST_RESPONSE, ClockTarget.RESOLUTION):
            seconds = ctx.targets[target]
            if seconds:
                clocks[target] = clock = _new_clock(ticket, target, seconds, ctx, now)
                _event(ticket, EventKind.SLA_STARTED, clock, actor, now, plan=ctx.plan.name)
    _sync_ticket(ticket, clocks)


def clocks_on_status_change(*, ticket: Ticket, old_state: str, actor: User | None, now: datetime) -> None:
    """The ticket's status has changed (ticket.status is the new one): pause, resume, meet, reopen."""
    ctx = PlanContext.for_ticket(ticket)
    clocks = _locked_clocks(ticket)
    if ctx is None:
        _sync_ticket(ticket, clocks)
        return
    was_active = old_state in ("open", "waiting")
    for clock in clocks.values():
        if not ticket.is_active:
            if clock.state in OPEN_CLOCK_STATES:
                _bank(clock, ctx.calendar, now)
                if clock.target == ClockTarget.RESOLUTION:
                    late = clock.breached_at is not None or (clock.due_at is not None and now > clock.due_at)
                    clock.state, clock.met_at, clock.running_since = ClockState.MET, now, None
                    _event(ticket, EventKind.SLA_MET, clock, actor, now, late=late)
                else:
                    clock.state, clock.running_since = ClockState.STOPPED, None
        elif not was_active and clock.target == ClockTarget.RESOLUTION:
            # A reopen starts a new cycle; the business time already counted carries over.
            if not settings.SLA_REOPEN_KEEPS_ELAPSED:
                clock.elapsed_seconds = 0
            clock.cycle += 1
            clock.state = ClockState.PAUSED if ctx.pauses(ticket) else ClockState.RUNNING
            clock.running_since = None if ctx.pauses(ticket) else now
            clock.met_at = clock.warned_at = clock.breached_at = None
            _schedule(clock, ctx)
            _event(ticket, EventKind.SLA_STARTED, clock, actor, now, cycle=clock.cycle)
        elif clock.state == ClockState.RUNNING and ctx.pauses(ticket):
            _bank(clock, ctx.calendar, now)
            clock.state, clock.running_since = ClockState.PAUSED, None
            _schedule(clock, ctx)
            _event(ticket, EventKind.SLA_PAUSED, clock, actor, now, status=ticket.status.name)
        elif clock.state == ClockState.PAUSED and not ctx.pauses(ticket):
            clock.state, clock.running_since = ClockState.RUNNING, now
            _schedule(clock, ctx)
            _event(ticket, EventKind.SLA_RESUMED, clock, actor, now, status=ticket.status.name)
        else:
            continue
        clock.save()
    _sync_ticket(ticket, clocks)


def clocks_on_agent_response(*, ticket: Ticket, actor: User | None, now: datetime) -> None:
    """A public reply by an agent meets the first-response and next-response clocks."""
    ctx = PlanContext.for_ticket(ticket)
    clocks = _locked_clocks(ticket)
    for target in (ClockTarget.FIRST_RESPONSE, ClockTarget.NEXT_RESPONSE):
        clock = clocks.get(target)
        if clock is None or clock.state not in OPEN_CLOCK_STATES:
            continue
        if ctx is not None:
            _bank(clock, ctx.calendar, now)
        late = clock.breached_at is not None or (clock.due_at is not None and now > clock.due_at)
        clock.state, clock.met_at, clock.running_since = ClockState.MET, now, None
        clock.save()
        _event(ticket, EventKind.SLA_MET, clock, actor, now, late=late)
    _sync_ticket(ticket, clocks)


def clocks_on_customer_message(*, ticket: Ticket, actor: User | None, now: datetime) -> None:
    """A requester's message starts the next-response clock, once the first response is met.

    While a next-response clock runs, later messages leave it alone: it counts from the
    oldest unanswered message.
    """
    ctx = PlanContext.for_ticket(ticket)
    clocks = _locked_clocks(ticket)
    seconds = ctx.targets[ClockTarget.NEXT_RESPONSE] if ctx else None
    first = clocks.get(ClockTarget.FIRST_RESPONSE)
    if ctx is None or not seconds or not ticket.is_active or (first is not None and first.state in OPEN_CLOCK_STATES):
        return
    clock = clocks.get(ClockTarget.NEXT_RESPONSE)
    if clock is None:
        clocks[ClockTarget.NEXT_RESPONSE] = clock = _new_clock(ticket, ClockTarget.NEXT_RESPONSE, seconds, ctx, now)
    elif clock.state in (ClockState.MET, ClockState.STOPPED):
        clock.cycle += 1
        clock.target_seconds, clock.elapsed_seconds, clock.started_at = seconds, 0, now
        clock.state = ClockState.PAUSED if ctx.pauses(ticket) else ClockState.RUNNING
        clock.running_since = None if ctx.pauses(ticket) else now
        clock.met_at = clock.warned_at = clock.breached_at = None
        clock.is_overridden = False
        _schedule(clock, ctx)
        clock.save()
    else:
        return
    _event(ticket, EventKind.SLA_STARTED, clock, actor, now)
    _sync_ticket(ticket, clocks)


def clocks_retarget(*, ticket: Ticket, actor: User | None, now: datetime) -> None:
    """The plan or the priority changed: retarget the open clocks, keeping their elapsed time."""
    ctx = PlanContext.for_ticket(ticket)
    clocks = _locked_clocks(ticket)
    for clock in clocks.values():
        if clock.state not in OPEN_CLOCK_STATES:
            continue
        seconds = ctx.targets[clock.target] if ctx else None
        if ctx is None or not seconds:
            clock.state, clock.running_since, clock.due_at, clock.warn_at = ClockState.STOPPED, None, None, None
            clock.save()
            _event(ticket, EventKind.SLA_RETARGETED, clock, actor, now, stopped=True)
            continue
        _bank(clock, ctx.calendar, now)
        old_seconds = clock.target_seconds
        clock.target_seconds, clock.is_overridden = seconds, False
        _schedule(clock, ctx)
        if clock.breached_at is not None and clock.due_at is not None and clock.due_at > now:
            clock.breached_at = None
        clock.save()
        _event(ticket, EventKind.SLA_RETARGETED, clock, actor, now, from_seconds=old_seconds)
    if ctx is not None and ticket.is_active:
        # A plan given to a ticket that had none (or a target the old plan lacked) starts
        # counting from the ticket's creation, as if it had had the plan all along.
        wanted = [ClockTarget.RESOLUTION]
        if ticket.first_response_at is None:
            wanted.append(ClockTarget.FIRST_RESPONSE)
        for target in wanted:
            seconds = ctx.targets[target]
            if seconds and target not in clocks:
                elapsed = deadlines.business_seconds_between(ctx.calendar, ticket.created_at, now)
                clocks[target] = clock = _new_clock(ticket, target, seconds, ctx, now, elapsed=elapsed)
                _event(ticket, EventKind.SLA_STARTED, clock, actor, now, plan=ctx.plan.name)
    _sync_ticket(ticket, clocks)


def clock_override_due(*, ticket: Ticket, due_at: datetime, actor: User | None, now: datetime) -> None:
    """Set the resolution due instant by hand; it holds until the plan or priority changes."""
    clocks = _locked_clocks(ticket)
    clock = clocks.get(ClockTarget.RESOLUTION)
    if clock is None:
        clock = TicketClock(
            ticket=ticket,
            target=ClockTarget.RESOLUTION,
            target_seconds=max(int((due_at - ticket.created_at).total_seconds()), 0),
            running_since=now,
            started_at=now,
        )
        clocks[ClockTarget.RESOLUTION] = clock
    clock.due_at, clock.is_overridden, clock.warn_at = due_at, True, None
    if due_at > now:
        clock.breached_at = None
    clock.save()
    _sync_ticket(ticket, clocks)
