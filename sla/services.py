"""Writes of the SLA app: the breach sweep, and the configuration (schedules and plans)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from accounts.models import User
from helpdesk.config_cache import config_changed
from sla import deadlines
from sla.bulk import batched
from sla.models import (
    ClockState,
    ClockTarget,
    Holiday,
    Schedule,
    ScheduleInterval,
    SLAPlan,
    SLAPriorityTarget,
    TicketClock,
    validate_timezone,
)
from tickets.events import events_record_bulk
from tickets.exceptions import TicketActionError
from tickets.models import Department, EventKind, HelpTopic, Priority, Status, Ticket
from tickets.sanitize import single_line

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


def _id_list(column: str, ids: Sequence[int]) -> tuple[str, list[Any]]:
    if connection.vendor == "postgresql":
        return f"{column} = ANY(%s)", [list(ids)]
    return f"{column} IN ({', '.join(['%s'] * len(ids))})", list(ids)


CLAIMED = ("id", "ticket_id", "target", "due_at", "target_seconds", "cycle")


def _claim(kind: str, clock_ids: Sequence[int], now: datetime) -> list[dict[str, Any]]:
    """Mark the clocks warned or breached if they still qualify; the clocks this call marked.

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
        set_params: list[Any] = [stamp, stamp]
    else:
        sets = f"{q('warned_at')} = %s"
        condition = (
            f"{q('warned_at')} IS NULL AND {q('breached_at')} IS NULL AND {q('warn_at')} IS NOT NULL "
            f"AND {q('warn_at')} <= %s"
        )
        set_params = [stamp]
    sql = (
        f"UPDATE {q(TicketClock._meta.db_table)} SET {sets} "  # noqa: S608  # nosec B608 (names from the model, values as parameters)
        f"WHERE {where} AND {q('state')} = %s AND {condition} RETURNING {', '.join(q(c) for c in CLAIMED)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*set_params, *params, str(ClockState.RUNNING), stamp])
        rows = [dict(zip(CLAIMED, row, strict=True)) for row in cursor.fetchall()]
    for row in rows:
        row["due_at"] = _as_datetime(row["due_at"])
    return sorted(rows, key=lambda row: row["id"])


def _as_datetime(value: object) -> datetime | None:
    """A timestamp from a raw query: PostgreSQL gives aware datetimes, SQLite naive ones (or
    text), in UTC."""
    if value is None:
        return None
    parsed = value if isinstance(value, datetime) else parse_datetime(str(value))
    if parsed is not None and timezone.is_naive(parsed):
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


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
        clocks = _claim(kind, mine, now)
        if not clocks:
            return
        claimed = [c["id"] for c in clocks]
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
    """After commit: hand the alerts to the workers, a task per chunk of events. A broker
    that is down loses nothing: the rows stay pending and the resender sends them."""
    from sla.tasks import deliver_alerts

    for chunk in batched(event_ids, DELIVERY_CHUNK):
        try:
            deliver_alerts.apply_async((chunk,), retry=False)
        except Exception as exc:
            if settings.CELERY_TASK_ALWAYS_EAGER:
                raise
            logger.warning("could not enqueue SLA alerts (%s); the resender will send them", exc)


def _breach_actions(ticket_ids: list[int], now: datetime, result: SweepResult) -> None:
    """What the plans say a breach does beyond alerting, through the ticket services, once
    per ticket however many of its clocks breached. A refused action (the agent to reassign
    to has left the department) is logged and does not undo the breach."""
    from tickets.services import ticket_assign, ticket_set_priority

    # A deactivated plan still governs the tickets that have it, breach actions included.
    acting = SLAPlan.objects.exclude(breach_raise_priority=False, breach_reassign_to=None)
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


# ---------------------------------------------------------------- configuration

MAX_TARGET_MINUTES = 365 * 24 * 60
MAX_HOLIDAY_DAYS = 366
# Instants the preview accepts: wide enough for any real plan, narrow enough that the
# arithmetic can neither overflow nor walk for ages.
PREVIEW_YEARS = (1970, 2200)


class InUse(Exception):
    """The object is still used and cannot be removed (409)."""


@dataclass(frozen=True)
class IntervalSpec:
    """One weekly open interval; an `end` of 00:00 means midnight at the day's end."""

    weekday: int
    start: time
    end: time

    @property
    def minutes(self) -> tuple[int, int]:
        end = 24 * 60 if self.end == time(0) else self.end.hour * 60 + self.end.minute
        return self.start.hour * 60 + self.start.minute, end


@dataclass(frozen=True)
class HolidaySpec:
    """A closed day, or a range of them (`end_date` inclusive)."""

    first: date
    name: str = ""
    end_date: date | None = None


@dataclass(frozen=True)
class PriorityTargetSpec:
    priority_id: int
    first_response_minutes: int | None = None
    resolution_minutes: int | None = None
    next_response_minutes: int | None = None


def _unique_name(model: type[Schedule] | type[SLAPlan], name: str, pk: int | None) -> str:
    name = single_line(name, 128)
    if not name:
        raise ValidationError({"name": "Give it a name."})
    if model.objects.filter(name__iexact=name).exclude(pk=pk or 0).exists():
        raise ValidationError({"name": f"{name!r} is already taken."})
    return name


def _schedule_calendar(
    timezone_name: str, intervals: Sequence[IntervalSpec], holidays: Sequence[HolidaySpec]
) -> deadlines.Calendar:
    """Validate a schedule as a whole, naming the field at fault."""
    errors: dict[str, list[str]] = {}
    try:
        validate_timezone(timezone_name)
    except ValidationError as exc:
        errors["timezone"] = exc.messages
    weekly: list[list[tuple[int, int]]] = [[] for _ in range(7)]
    for interval in intervals:
        if not 0 <= interval.weekday <= 6:
            errors.setdefault("intervals", []).append("A weekday is a number from 0 (Monday) to 6 (Sunday).")
            continue
        start, end = interval.minutes
        if end <= start:
            errors.setdefault("intervals", []).append(
                f"{deadlines.WEEKDAYS[interval.weekday]} {interval.start:%H:%M}-{interval.end:%H:%M}: an interval "
                "must end after it starts, on the same day (split one that crosses midnight in two)."
            )
            continue
        weekly[interval.weekday].append((start, end))
    for holiday in holidays:
        if holiday.end_date is not None and (holiday.end_date - holiday.first).days > MAX_HOLIDAY_DAYS:
            errors.setdefault("holidays", []).append(
                f"{holiday.name or holiday.first}: a holiday lasts a year at most."
            )
        if holiday.end_date is not None and holiday.end_date < holiday.first:
            errors.setdefault("holidays", []).append(
                f"{holiday.name or holiday.first}: the last day is before the first."
            )
    if errors:
        raise ValidationError(errors)
    try:
        return deadlines.Calendar.build(
            timezone=timezone_name,
            weekly=weekly,
            holidays={d for h in holidays for d in _days(h)},
        )
    except deadlines.CalendarError as exc:
        raise ValidationError({"intervals": str(exc)}) from None


def _days(holiday: HolidaySpec) -> list[date]:
    last = holiday.end_date or holiday.first
    return [date.fromordinal(o) for o in range(holiday.first.toordinal(), last.toordinal() + 1)]


def _schedule_write(schedule: Schedule, intervals: Sequence[IntervalSpec], holidays: Sequence[HolidaySpec]) -> None:
    schedule.save()
    schedule.intervals.all().delete()
    schedule.holidays.all().delete()
    ScheduleInterval.objects.bulk_create(
        ScheduleInterval(schedule=schedule, weekday=i.weekday, start=i.start, end=i.end)
        for i in sorted(intervals, key=lambda i: (i.weekday, i.start))
    )
    Holiday.objects.bulk_create(
        Holiday(schedule=schedule, date=h.first, end_date=h.end_date, name=single_line(h.name, 128))
        for h in sorted(holidays, key=lambda h: h.first)
    )


def schedule_create(
    *, name: str, timezone_name: str, intervals: Sequence[IntervalSpec], holidays: Sequence[HolidaySpec] = ()
) -> Schedule:
    """A business-hours schedule. ValidationError, naming the field, for bad input."""
    name = _unique_name(Schedule, name, None)
    _schedule_calendar(timezone_name, intervals, holidays)
    with transaction.atomic():
        schedule = Schedule(name=name, timezone=timezone_name)
        _schedule_write(schedule, intervals, holidays)
    logger.info("Schedule %r created", schedule.name)
    return schedule


def schedule_update(
    *,
    schedule: Schedule,
    name: str,
    timezone_name: str,
    intervals: Sequence[IntervalSpec],
    holidays: Sequence[HolidaySpec] = (),
    now: datetime | None = None,
) -> Schedule:
    """Change a schedule. The open tickets of the plans counting in it are recomputed in the
    background; the time their clocks ran before the edit keeps the old hours (history is
    never rewritten)."""
    now = now or timezone.now()
    name = _unique_name(Schedule, name, schedule.pk)
    calendar = _schedule_calendar(timezone_name, intervals, holidays)
    with transaction.atomic():
        schedule = Schedule.objects.select_for_update().get(pk=schedule.pk)
        old = schedule.calendar()
        schedule.name, schedule.timezone = name, timezone_name
        _schedule_write(schedule, intervals, holidays)
        if old != calendar:
            plan_ids = list(SLAPlan.objects.filter(schedule=schedule).values_list("pk", flat=True))
            _recompute_on_commit(plan_ids, now, old, f"schedule {name!r} edited")
    logger.info("Schedule %r updated", schedule.name)
    return schedule


def schedule_delete(*, schedule: Schedule) -> None:
    plans = list(SLAPlan.objects.filter(schedule=schedule).values_list("name", flat=True))
    if plans:
        raise InUse(f"The schedule is used by {', '.join(plans)}; give those plans another schedule first.")
    logger.info("Schedule %r deleted", schedule.name)
    schedule.delete()


def _minutes(errors: dict[str, list[str]], field_name: str, value: int | None) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        errors.setdefault(field_name, []).append("Enter a whole number of minutes, 1 or more (or leave it empty).")
        return None
    if value > MAX_TARGET_MINUTES:
        errors.setdefault(field_name, []).append("A target cannot be longer than a year.")
    return value


@dataclass
class PlanFields:
    """Everything an admin sets on a plan."""

    name: str
    schedule: Schedule | None = None
    first_response_minutes: int | None = None
    resolution_minutes: int | None = None
    next_response_minutes: int | None = None
    pause_statuses: Sequence[Status] = ()
    warn_at_percent: int | None = 75
    is_active: bool = True
    is_default: bool = False
    breach_raise_priority: bool = False
    breach_reassign_to: User | None = None
    priority_targets: Sequence[PriorityTargetSpec] = ()


def _plan_validate(fields: PlanFields, pk: int | None) -> str:
    errors: dict[str, list[str]] = {}
    try:
        name = _unique_name(SLAPlan, fields.name, pk)
    except ValidationError as exc:
        errors.update(exc.message_dict)
        name = fields.name
    for field_name in ("first_response_minutes", "resolution_minutes", "next_response_minutes"):
        _minutes(errors, field_name, getattr(fields, field_name))
    if not fields.first_response_minutes and not fields.resolution_minutes and not fields.priority_targets:
        errors.setdefault("resolution_minutes", []).append("Set a first-response or a resolution target.")
    percent = fields.warn_at_percent
    if percent is not None and (isinstance(percent, bool) or not 1 <= percent <= 99):
        errors.setdefault("warn_at_percent", []).append("Warn at a share from 1 to 99 %, or leave it empty.")
    closed = [s.name for s in fields.pause_statuses if s.state not in Status.ACTIVE_STATES]
    if closed:
        errors.setdefault("pause_statuses", []).append(
            f"Only open or waiting statuses can pause the clocks, not {', '.join(closed)}."
        )
    agent = fields.breach_reassign_to
    if agent is not None and not (agent.is_active and agent.is_agent):
        errors.setdefault("breach_reassign_to", []).append("Reassign to an active agent.")
    if fields.is_default and not fields.is_active:
        errors.setdefault("is_active", []).append("The default plan must be active.")
    seen: set[int] = set()
    for target in fields.priority_targets:
        if target.priority_id in seen:
            errors.setdefault("priority_targets", []).append("Give each priority its targets once.")
        seen.add(target.priority_id)
        sub: dict[str, list[str]] = {}
        for field_name in ("first_response_minutes", "resolution_minutes", "next_response_minutes"):
            _minutes(sub, field_name, getattr(target, field_name))
        if sub:
            errors.setdefault("priority_targets", []).extend(m for messages in sub.values() for m in messages)
    if errors:
        raise ValidationError(errors)
    return name


def _plan_write(plan: SLAPlan, fields: PlanFields, name: str) -> None:
    if fields.is_default:
        SLAPlan.objects.filter(is_default=True).exclude(pk=plan.pk).update(is_default=False)
    plan.name = name
    plan.schedule = fields.schedule
    plan.first_response_minutes = fields.first_response_minutes
    plan.resolution_minutes = fields.resolution_minutes
    plan.next_response_minutes = fields.next_response_minutes
    plan.warn_at_percent = fields.warn_at_percent
    plan.is_active = fields.is_active
    plan.is_default = fields.is_default
    plan.breach_raise_priority = fields.breach_raise_priority
    plan.breach_reassign_to = fields.breach_reassign_to
    plan.save()
    plan.pause_statuses.set(fields.pause_statuses)
    plan.priority_targets.all().delete()
    SLAPriorityTarget.objects.bulk_create(
        SLAPriorityTarget(
            plan=plan,
            priority_id=t.priority_id,
            first_response_minutes=t.first_response_minutes,
            resolution_minutes=t.resolution_minutes,
            next_response_minutes=t.next_response_minutes,
        )
        for t in fields.priority_targets
    )


def _plan_shape(plan: SLAPlan) -> tuple[object, ...]:
    """What of a plan the running clocks depend on."""
    return (
        plan.schedule_id,
        plan.first_response_minutes,
        plan.resolution_minutes,
        plan.next_response_minutes,
        plan.warn_at_percent,
        frozenset(plan.pause_statuses.values_list("pk", flat=True)),
        frozenset(
            plan.priority_targets.values_list(
                "priority_id", "first_response_minutes", "resolution_minutes", "next_response_minutes"
            )
        ),
    )


def sla_plan_create(*, fields: PlanFields) -> SLAPlan:
    """An SLA plan. ValidationError, naming the field, for bad input."""
    name = _plan_validate(fields, None)
    with transaction.atomic():
        plan = SLAPlan()
        _plan_write(plan, fields, name)
    logger.info("SLA plan %r created", plan.name)
    return plan


def sla_plan_update(*, plan: SLAPlan, fields: PlanFields, now: datetime | None = None) -> SLAPlan:
    """Change a plan; the open tickets on it are recomputed in the background, keeping the
    business time their clocks have counted."""
    now = now or timezone.now()
    name = _plan_validate(fields, plan.pk)
    with transaction.atomic():
        plan = SLAPlan.objects.select_for_update().get(pk=plan.pk)
        before = _plan_shape(plan)
        _plan_write(plan, fields, name)
        if _plan_shape(plan) != before:
            _recompute_on_commit([plan.pk], now, None, f"plan {name!r} edited")
    logger.info("SLA plan %r updated", plan.name)
    return plan


def sla_plan_in_use(plan: SLAPlan) -> bool:
    return (
        Ticket.objects.filter(sla_plan=plan).exists()
        or Department.objects.filter(default_sla_plan=plan).exists()
        or HelpTopic.objects.filter(sla_plan=plan).exists()
    )


def sla_plan_delete(*, plan: SLAPlan) -> bool:
    """Delete a plan, or deactivate it when tickets, departments or topics use it (they keep
    it; it is no longer offered). True when it was deleted."""
    if plan.is_default:
        raise InUse("The default plan cannot be removed; make another plan the default first.")
    if sla_plan_in_use(plan):
        SLAPlan.objects.filter(pk=plan.pk).update(is_active=False)
        plan.is_active = False
        config_changed()
        logger.info("SLA plan %r deactivated (in use)", plan.name)
        return False
    logger.info("SLA plan %r deleted", plan.name)
    plan.delete()
    return True


def _recompute_on_commit(
    plan_ids: list[int], changed_at: datetime, old_calendar: deadlines.Calendar | None, reason: str
) -> None:
    if not plan_ids:
        return
    from sla.tasks import clocks_recompute

    old = old_calendar.to_dict() if old_calendar is not None else None
    transaction.on_commit(
        lambda: clocks_recompute.delay(
            plan_ids=plan_ids, changed_at=changed_at.isoformat(), old_calendar=old, reason=reason
        )
    )


def sla_clocks_recompute(
    *, plan_ids: Sequence[int], changed_at: datetime, old_calendar: deadlines.Calendar | None, reason: str
) -> int:
    """Bring the clocks of every open ticket on these plans up to date, each ticket in its
    own transaction through the ticket services. Returns how many tickets were recomputed."""
    from tickets.services import ticket_sla_recompute

    ids = list(
        Ticket.objects.filter(sla_plan_id__in=plan_ids, state__in=Status.ACTIVE_STATES)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    for ticket_id in ids:
        ticket_sla_recompute(
            ticket=Ticket(pk=ticket_id), changed_at=changed_at, old_calendar=old_calendar, reason=reason
        )
    return len(ids)


def sla_plan_preview(
    *, plan: SLAPlan, opened_at: datetime, pauses: Sequence[deadlines.Pause] = (), priority: Priority | None = None
) -> dict[str, deadlines.DueExplanation | None]:
    """When each of the plan's targets would fall due for a ticket opened at `opened_at`,
    paused as given, at `priority` (the plan's own targets when None), with the arithmetic."""
    if not PREVIEW_YEARS[0] <= opened_at.year <= PREVIEW_YEARS[1]:
        raise ValidationError({"opened_at": f"Choose an instant between {PREVIEW_YEARS[0]} and {PREVIEW_YEARS[1]}."})
    for pause in pauses:
        if pause.end < pause.start:
            raise ValidationError({"paused": "A pause must end after it starts."})
        if pause.start < opened_at - timedelta(days=MAX_HOLIDAY_DAYS) or pause.end - pause.start > timedelta(
            days=MAX_HOLIDAY_DAYS
        ):
            raise ValidationError({"paused": "A pause lasts a year at most, around the opening instant."})
    calendar = plan.calendar()
    targets = plan.targets_for(priority.pk if priority else None)
    return {
        target: (
            deadlines.explain_due(calendar, opened_at=opened_at, target_seconds=seconds, pauses=pauses)
            if seconds
            else None
        )
        for target, seconds in targets.items()
    }
