"""Keeping a ticket's SLA clocks in step with what happens to it.

The ticket services call these inside their transaction, with the ticket row locked; each
writes the clock rows, the events that explain them, and the due instants copied onto the
ticket. The arithmetic itself is in `sla.deadlines`.

A clock counts business time: `elapsed_seconds` is what it counted up to `running_since`,
and while it runs the time since then counts too. Its due instant is where the remaining
target runs out in the plan's calendar. A due instant set by hand (`is_overridden`) is kept
as given while the clock runs; a pause turns what was left of it into business time, so
that resuming moves it by the paused time, as for any other clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db.models import QuerySet

from accounts.models import User
from sla import deadlines
from sla.models import ClockState, ClockTarget, SLAPlan, TicketClock
from tickets.events import event_record
from tickets.models import EventKind, Ticket

OPEN_CLOCK_STATES = (ClockState.RUNNING, ClockState.PAUSED)


@dataclass
class PlanContext:
    """What the clocks of one ticket count against: its plan, calendar and targets.

    `plan` is None for a ticket without a plan whose due date was set by hand: such a clock
    counts 24/7, never pauses and never warns.
    """

    plan: SLAPlan | None
    calendar: deadlines.Calendar
    targets: dict[str, int | None]
    pause_status_ids: frozenset[int]

    @classmethod
    def for_ticket(cls, ticket: Ticket, plan: SLAPlan | None = None) -> PlanContext | None:
        """The ticket's plan context; `plan`, when the caller has just read the ticket's plan
        with `plan_with_targets`, spares reading it again."""
        if ticket.sla_plan_id is None:
            return None
        if plan is None or plan.pk != ticket.sla_plan_id:
            plan = plan_with_targets().get(pk=ticket.sla_plan_id)
        return cls(
            plan=plan,
            calendar=plan.calendar(),
            targets=plan.targets_for(ticket.priority_id),
            pause_status_ids=frozenset(s.pk for s in plan.pause_statuses.all()),
        )

    @classmethod
    def planless(cls) -> PlanContext:
        return cls(
            plan=None,
            calendar=deadlines.Calendar.twenty_four_seven(),
            targets=dict.fromkeys(ClockTarget.values),
            pause_status_ids=frozenset(),
        )

    @property
    def warn_at_percent(self) -> int | None:
        return self.plan.warn_at_percent if self.plan is not None else None

    def pauses(self, ticket: Ticket) -> bool:
        return ticket.status_id in self.pause_status_ids


def plan_with_targets() -> QuerySet[SLAPlan]:
    """SLA plans with what a plan context needs: schedule, targets, pause statuses."""
    return SLAPlan.objects.select_related("schedule").prefetch_related(
        "priority_targets", "pause_statuses", "schedule__intervals", "schedule__holidays"
    )


def _locked_clocks(ticket: Ticket) -> dict[str, TicketClock]:
    # Locked after the ticket row (the services lock it first, and so does the sweep), so
    # that the sweep's conditional UPDATE waits for this transaction and then re-checks its
    # condition against what we wrote.
    return {c.target: c for c in TicketClock.objects.select_for_update().filter(ticket=ticket).order_by("pk")}


def _bank(clock: TicketClock, cal: deadlines.Calendar, now: datetime) -> None:
    """Count the business time run since `running_since` into `elapsed_seconds`."""
    if clock.state == ClockState.RUNNING and clock.running_since is not None:
        if now > clock.running_since:
            clock.elapsed_seconds += deadlines.business_seconds_between(cal, clock.running_since, now)
        clock.running_since = max(now, clock.running_since)


def _schedule(clock: TicketClock, ctx: PlanContext) -> None:
    """Set the due and warning instants of a clock from its elapsed time.

    A running clock's hand-set due instant is kept as it is.
    """
    if clock.state != ClockState.RUNNING or clock.running_since is None:
        clock.due_at = clock.warn_at = None
        return
    remaining = max(clock.target_seconds - clock.elapsed_seconds, 0)
    if not (clock.is_overridden and clock.due_at is not None):
        clock.due_at = deadlines.add_business_seconds(ctx.calendar, clock.running_since, remaining)
    percent = ctx.warn_at_percent
    clock.warn_at = None
    if percent and percent < 100 and clock.warned_at is None:
        warn_seconds = clock.target_seconds * percent // 100
        warn_at = deadlines.add_business_seconds(
            ctx.calendar, clock.running_since, max(warn_seconds - clock.elapsed_seconds, 0)
        )
        if clock.due_at is None or warn_at < clock.due_at:
            clock.warn_at = warn_at


def _reschedule(clock: TicketClock, ctx: PlanContext, now: datetime) -> None:
    """Schedule a clock whose target or calendar changed: a warning or a breach already
    given stands only while its instant is still past; otherwise it is armed again."""
    warned = clock.warned_at
    clock.warned_at = None
    _schedule(clock, ctx)
    if warned is not None and (clock.warn_at is None or clock.warn_at <= now):
        clock.warned_at, clock.warn_at = warned, None
    if clock.breached_at is not None and clock.due_at is not None and clock.due_at > now:
        clock.breached_at = None


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
            "state": clock.state,
            "due_at": clock.due_at.isoformat() if clock.due_at else None,
            "elapsed_seconds": clock.elapsed_seconds,
            "target_seconds": clock.target_seconds,
            "cycle": clock.cycle,
            **data,
        },
        at=now,
    )


def _start(clock: TicketClock, ticket: Ticket, ctx: PlanContext, now: datetime) -> None:
    paused = ctx.pauses(ticket)
    clock.state = ClockState.PAUSED if paused else ClockState.RUNNING
    clock.running_since = None if paused else now
    clock.met_at = clock.warned_at = clock.breached_at = None
    _schedule(clock, ctx)


def _new_clock(
    ticket: Ticket, target: str, seconds: int, ctx: PlanContext, now: datetime, elapsed: int = 0
) -> TicketClock:
    clock = TicketClock(ticket=ticket, target=target, target_seconds=seconds, elapsed_seconds=elapsed, started_at=now)
    _start(clock, ticket, ctx, now)
    clock.save()
    return clock


def clocks_prepare(*, ticket: Ticket, now: datetime, plan: SLAPlan | None = None) -> dict[str, TicketClock]:
    """The first-response and resolution clocks of a ticket about to be inserted, unsaved, with
    their due instants copied onto it (so that its INSERT carries them); `clocks_start` saves
    them once the ticket has its id. `plan` as for `PlanContext.for_ticket`."""
    ctx = PlanContext.for_ticket(ticket, plan)
    clocks: dict[str, TicketClock] = {}
    if ctx is not None:
        for target in (ClockTarget.FIRST_RESPONSE, ClockTarget.RESOLUTION):
            seconds = ctx.targets[target]
            if seconds:
                clock = TicketClock(target=target, target_seconds=seconds, elapsed_seconds=0, started_at=now)
                _start(clock, ticket, ctx, now)
                clocks[target] = clock
    _sync_ticket(ticket, clocks)
    return clocks


def clocks_start(
    *, ticket: Ticket, actor: User | None, now: datetime, prepared: dict[str, TicketClock] | None = None
) -> None:
    """A new ticket: start its first-response and resolution clocks (those of `clocks_prepare`
    when given, in one INSERT)."""
    clocks = clocks_prepare(ticket=ticket, now=now) if prepared is None else prepared
    for clock in clocks.values():
        clock.ticket = ticket
    TicketClock.objects.bulk_create(list(clocks.values()))
    plan_name = ticket.sla_plan.name if ticket.sla_plan_id and ticket.sla_plan else ""
    for clock in clocks.values():
        _event(ticket, EventKind.SLA_STARTED, clock, actor, now, plan=plan_name)
    _sync_ticket(ticket, clocks)


def clocks_on_status_change(*, ticket: Ticket, old_state: str, actor: User | None, now: datetime) -> None:
    """The ticket's status has changed (ticket.status is the new one): pause, resume, meet, reopen."""
    plan_ctx = PlanContext.for_ticket(ticket)
    ctx = plan_ctx or PlanContext.planless()
    clocks = _locked_clocks(ticket)
    was_active = old_state in ("open", "waiting")
    if not ticket.is_active:
        _close(ticket, clocks, ctx, actor, now)
    elif not was_active:
        _reopen(ticket, clocks, plan_ctx, actor, now)
    else:
        for clock in clocks.values():
            if clock.state == ClockState.RUNNING and ctx.pauses(ticket):
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


def _close(ticket: Ticket, clocks: dict[str, TicketClock], ctx: PlanContext, actor: User | None, now: datetime) -> None:
    """Resolved or closed: the resolution clock is met; the others stop, unmet."""
    stopped = []
    for clock in clocks.values():
        if clock.state not in OPEN_CLOCK_STATES or clock.target == ClockTarget.RESOLUTION:
            continue
        _bank(clock, ctx.calendar, now)
        clock.state, clock.running_since, clock.warn_at = ClockState.STOPPED, None, None
        clock.save()
        stopped.append(clock.target)
    resolution = clocks.get(ClockTarget.RESOLUTION)
    if resolution is not None and resolution.state in OPEN_CLOCK_STATES:
        _bank(resolution, ctx.calendar, now)
        late = resolution.breached_at is not None or (resolution.due_at is not None and now > resolution.due_at)
        resolution.state, resolution.met_at, resolution.running_since = ClockState.MET, now, None
        resolution.warn_at = None
        resolution.save()
        _event(ticket, EventKind.SLA_MET, resolution, actor, now, late=late, stopped=stopped)


def _reopen(
    ticket: Ticket, clocks: dict[str, TicketClock], ctx: PlanContext | None, actor: User | None, now: datetime
) -> None:
    """A reopen starts a new resolution cycle; the business time already counted carries
    over unless SLA_REOPEN_KEEPS_ELAPSED is off. A due date set by hand does not."""
    if ctx is None:
        return
    seconds = ctx.targets[ClockTarget.RESOLUTION]
    clock = clocks.get(ClockTarget.RESOLUTION)
    if not seconds:
        return
    if clock is None:
        clocks[ClockTarget.RESOLUTION] = clock = _new_clock(ticket, ClockTarget.RESOLUTION, seconds, ctx, now)
        _event(ticket, EventKind.SLA_STARTED, clock, actor, now, plan=ctx.plan.name if ctx.plan else "")
        return
    if not settings.SLA_REOPEN_KEEPS_ELAPSED:
        clock.elapsed_seconds = 0
    clock.cycle += 1
    clock.target_seconds, clock.is_overridden = seconds, False
    _start(clock, ticket, ctx, now)
    clock.save()
    _event(ticket, EventKind.SLA_STARTED, clock, actor, now, reopened=True)


def clocks_on_agent_response(*, ticket: Ticket, actor: User | None, now: datetime) -> None:
    """A public reply by an agent meets the first-response and next-response clocks."""
    ctx = PlanContext.for_ticket(ticket) or PlanContext.planless()
    clocks = _locked_clocks(ticket)
    for target in (ClockTarget.FIRST_RESPONSE, ClockTarget.NEXT_RESPONSE):
        clock = clocks.get(target)
        if clock is None or clock.state not in OPEN_CLOCK_STATES:
            continue
        _bank(clock, ctx.calendar, now)
        late = clock.breached_at is not None or (clock.due_at is not None and now > clock.due_at)
        clock.state, clock.met_at, clock.running_since, clock.warn_at = ClockState.MET, now, None, None
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
        clock.is_overridden = False
        _start(clock, ticket, ctx, now)
        clock.save()
    else:
        return
    _event(ticket, EventKind.SLA_STARTED, clock, actor, now)
    _sync_ticket(ticket, clocks)


def clocks_retarget(
    *,
    ticket: Ticket,
    actor: User | None,
    now: datetime,
    keep_overrides: bool = False,
    quiet: bool = False,
    reason: str = "",
) -> None:
    """The plan or the priority changed: retarget the open clocks, keeping their elapsed time.

    A due date set by hand gives way to the new targets unless `keep_overrides` (an admin's
    edit of the plan is no reason to drop an agent's promise). With `quiet`, only clocks
    whose state or due instant changed get an event.
    """
    ctx = PlanContext.for_ticket(ticket)
    clocks = _locked_clocks(ticket)
    extra = {"reason": reason} if reason else {}
    for clock in clocks.values():
        if clock.state not in OPEN_CLOCK_STATES:
            continue
        seconds = ctx.targets[clock.target] if ctx else None
        if clock.is_overridden and keep_overrides:
            ctx_for_clock = ctx or PlanContext.planless()
            before = (clock.state, clock.due_at)
            _follow_pause_statuses(clock, ticket, ctx_for_clock, now)
            _reschedule(clock, ctx_for_clock, now)
            clock.save()
            if not quiet or before != (clock.state, clock.due_at):
                _event(ticket, EventKind.SLA_RETARGETED, clock, actor, now, overridden=True, **extra)
            continue
        if ctx is None or not seconds:
            _bank(clock, (ctx or PlanContext.planless()).calendar, now)
            clock.state, clock.running_since, clock.due_at, clock.warn_at = ClockState.STOPPED, None, None, None
            clock.save()
            _event(ticket, EventKind.SLA_RETARGETED, clock, actor, now, stopped=True, **extra)
            continue
        before = (clock.state, clock.due_at)
        _bank(clock, ctx.calendar, now)
        old_seconds = clock.target_seconds
        clock.target_seconds, clock.is_overridden = seconds, False
        _follow_pause_statuses(clock, ticket, ctx, now)
        _reschedule(clock, ctx, now)
        clock.save()
        if not quiet or before != (clock.state, clock.due_at):
            _event(ticket, EventKind.SLA_RETARGETED, clock, actor, now, from_seconds=old_seconds, **extra)
    if ctx is not None and ticket.is_active:
        _start_missing(ticket, clocks, ctx, actor, now)
    _sync_ticket(ticket, clocks)


def _follow_pause_statuses(clock: TicketClock, ticket: Ticket, ctx: PlanContext, now: datetime) -> None:
    """Pause or resume a clock whose plan now pauses (or no longer pauses) in the ticket's status."""
    if clock.state == ClockState.RUNNING and ctx.pauses(ticket):
        _bank(clock, ctx.calendar, now)
        clock.state, clock.running_since = ClockState.PAUSED, None
    elif clock.state == ClockState.PAUSED and not ctx.pauses(ticket):
        clock.state, clock.running_since = ClockState.RUNNING, now


def _start_missing(
    ticket: Ticket, clocks: dict[str, TicketClock], ctx: PlanContext, actor: User | None, now: datetime
) -> None:
    """Start the clocks a new plan (or priority) has a target for and the ticket lacks, or
    that stopped when an earlier plan had none: they count from the ticket's creation, in
    the new plan's calendar, as if the ticket had had the plan all along."""
    wanted = [ClockTarget.RESOLUTION]
    if ticket.first_response_at is None:
        wanted.append(ClockTarget.FIRST_RESPONSE)
    for target in wanted:
        seconds = ctx.targets[target]
        if not seconds:
            continue
        clock = clocks.get(target)
        elapsed = deadlines.business_seconds_between(ctx.calendar, ticket.created_at, now)
        if clock is None:
            clocks[target] = clock = _new_clock(ticket, target, seconds, ctx, now, elapsed=elapsed)
        elif clock.state == ClockState.STOPPED:
            clock.target_seconds, clock.elapsed_seconds, clock.is_overridden = seconds, elapsed, False
            _start(clock, ticket, ctx, now)
            clock.save()
        else:
            continue
        _event(ticket, EventKind.SLA_STARTED, clock, actor, now, plan=ctx.plan.name if ctx.plan else "")


def clocks_recompute(
    *,
    ticket: Ticket,
    now: datetime,
    changed_at: datetime | None = None,
    old_calendar: deadlines.Calendar | None = None,
    reason: str = "",
) -> None:
    """An admin edited the ticket's plan or its schedule: bring the open clocks up to date.

    Editing a schedule never rewrites history: the time a clock ran before the edit
    (`changed_at`) is counted in the calendar it had then (`old_calendar`), the time after
    it in the new one. Targets follow the plan as it is now, elapsed time is kept, and a
    due date set by hand stays. Only clocks whose due instant or state changed get an event.
    """
    clocks = _locked_clocks(ticket)
    if old_calendar is not None and changed_at is not None:
        for clock in clocks.values():
            if (
                clock.state == ClockState.RUNNING
                and clock.running_since is not None
                and clock.running_since < changed_at
            ):
                _bank(clock, old_calendar, min(changed_at, now))
                clock.save()
    clocks_retarget(ticket=ticket, actor=None, now=now, keep_overrides=True, quiet=True, reason=reason)


def clock_override_due(*, ticket: Ticket, due_at: datetime, actor: User | None, now: datetime) -> None:
    """Set the resolution due instant by hand; it holds through pauses (moving by the paused
    business time) until the plan or the priority changes, or the ticket is reopened."""
    ctx = PlanContext.for_ticket(ticket) or PlanContext.planless()
    clocks = _locked_clocks(ticket)
    clock = clocks.get(ClockTarget.RESOLUTION)
    if clock is None:
        clock = TicketClock(ticket=ticket, target=ClockTarget.RESOLUTION, target_seconds=0, started_at=now)
        clocks[ClockTarget.RESOLUTION] = clock
        _start(clock, ticket, ctx, now)
    elif clock.state not in OPEN_CLOCK_STATES:
        _start(clock, ticket, ctx, now)
    _bank(clock, ctx.calendar, now)
    # The hand-set instant as business time left: what a pause keeps and a resume gives back.
    left = deadlines.business_seconds_between(ctx.calendar, now, due_at) if due_at > now else 0
    clock.target_seconds = clock.elapsed_seconds + left
    clock.is_overridden = True
    clock.due_at = due_at if clock.state == ClockState.RUNNING else None
    clock.warned_at = None
    if due_at > now:
        clock.breached_at = None
    _schedule(clock, ctx)
    if clock.warn_at is not None and clock.warn_at <= now:
        clock.warn_at = None
    clock.save()
    _sync_ticket(ticket, clocks)
