"""The staff dashboard's figures, over the tickets the agent may see.

Each figure is one aggregate query (seven in all, whatever the number of tickets); days are
the agent's days (their time zone is active for the request). Durations are wall-clock time;
the SLA compliance counts each clock against its own due instant, in business time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.db.models import Count, F, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from accounts.models import User
from sla.models import ClockState, ClockTarget, TicketClock
from tickets.models import EventKind, Status, TicketEvent, TicketState
from tickets.selectors import tickets_visible_to

DAYS = 30
ACTIVE = list(Status.ACTIVE_STATES)
ENDED = [TicketState.RESOLVED, TicketState.CLOSED]


@dataclass
class BacklogRow:
    department: str
    open: int
    waiting: int
    unassigned: int
    overdue: int

    @property
    def total(self) -> int:
        return self.open + self.waiting


@dataclass
class DayRow:
    day: date
    created: int = 0
    resolved: int = 0


@dataclass
class ComplianceRow:
    target: str
    met: int
    missed: int
    pending: int

    @property
    def percent(self) -> float | None:
        decided = self.met + self.missed
        return round(100 * self.met / decided, 1) if decided else None


@dataclass
class WorkloadRow:
    agent: str
    open: int
    overdue: int
    resolved: int


@dataclass
class Dashboard:
    since: datetime
    my_open: int = 0
    my_overdue: int = 0
    backlog: list[BacklogRow] = field(default_factory=list)
    days: list[DayRow] = field(default_factory=list)
    compliance: list[ComplianceRow] = field(default_factory=list)
    first_response_median: timedelta | None = None
    resolution_median: timedelta | None = None
    measured_tickets: int = 0
    workload: list[WorkloadRow] = field(default_factory=list)


def _median(values: list[timedelta]) -> timedelta | None:
    if not values:
        return None
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def dashboard_for(*, user: User, now: datetime | None = None) -> Dashboard:
    now = now or timezone.now()
    today = timezone.localdate(now)
    first_day = today - timedelta(days=DAYS - 1)
    since = timezone.make_aware(datetime.combine(first_day, time.min))
    visible = tickets_visible_to(user)
    board = Dashboard(since=since)

    mine = visible.filter(assignee_id=user.pk, state__in=ACTIVE).aggregate(
        open=Count("pk"), overdue=Count("pk", filter=Q(is_overdue=True))
    )
    board.my_open, board.my_overdue = mine["open"], mine["overdue"]

    backlog = (
        visible.filter(state__in=ACTIVE)
        .values("department__name")
        .annotate(
            open=Count("pk", filter=Q(state=TicketState.OPEN)),
            waiting=Count("pk", filter=Q(state=TicketState.WAITING)),
            unassigned=Count("pk", filter=Q(assignee__isnull=True)),
            overdue=Count("pk", filter=Q(is_overdue=True)),
        )
        .order_by("department__name")
    )
    board.backlog = [
        BacklogRow(r["department__name"], r["open"], r["waiting"], r["unassigned"], r["overdue"]) for r in backlog
    ]

    tz = timezone.get_current_timezone()
    days = {first_day + timedelta(days=i): DayRow(first_day + timedelta(days=i)) for i in range(DAYS)}
    created = (
        visible.filter(created_at__gte=since)
        .annotate(day=TruncDate("created_at", tzinfo=tz))
        .values("day")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for count in created:
        if count["day"] in days:
            days[count["day"]].created = count["n"]
    # A resolution is a move from an active state to resolved or closed (closing a resolved
    # ticket is not a second one), read from the audit trail so reopened tickets count each time.
    resolved = (
        TicketEvent.objects.filter(
            ticket__in=visible.values("pk"),
            kind=EventKind.STATUS_CHANGED,
            created_at__gte=since,
            data__from_state__in=ACTIVE,
            data__to_state__in=ENDED,
        )
        .annotate(day=TruncDate("created_at", tzinfo=tz))
        .values("day")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for count in resolved:
        if count["day"] in days:
            days[count["day"]].resolved = count["n"]
    board.days = list(days.values())

    on_time = Q(state=ClockState.MET, breached_at__isnull=True) & (Q(due_at__isnull=True) | Q(met_at__lte=F("due_at")))
    late = Q(breached_at__isnull=False) | Q(state=ClockState.MET, met_at__gt=F("due_at"))
    compliance = {
        clock_row["target"]: clock_row
        for clock_row in TicketClock.objects.filter(ticket__in=visible.values("pk"), started_at__gte=since)
        .values("target")
        .annotate(met=Count("pk", filter=on_time), missed=Count("pk", filter=late), total=Count("pk"))
        .order_by()
    }
    for target in ClockTarget:
        counted = compliance.get(target.value)
        if counted is not None:
            met, missed = counted["met"], counted["missed"]
            board.compliance.append(ComplianceRow(target.label, met, missed, counted["total"] - met - missed))

    first_responses, resolutions = [], []
    for created_at, first_response_at, resolved_at in visible.filter(created_at__gte=since).values_list(
        "created_at", "first_response_at", "resolved_at"
    ):
        board.measured_tickets += 1
        if first_response_at is not None:
            first_responses.append(first_response_at - created_at)
        if resolved_at is not None:
            resolutions.append(resolved_at - created_at)
    board.first_response_median = _median(first_responses)
    board.resolution_median = _median(resolutions)

    workload = (
        visible.filter(assignee__isnull=False)
        .filter(Q(state__in=ACTIVE) | Q(resolved_at__gte=since))
        .values("assignee__name")
        .annotate(
            open=Count("pk", filter=Q(state__in=ACTIVE)),
            overdue=Count("pk", filter=Q(state__in=ACTIVE, is_overdue=True)),
            resolved=Count("pk", filter=Q(resolved_at__gte=since)),
        )
        .order_by("-open", "assignee__name")
    )
    board.workload = [WorkloadRow(r["assignee__name"], r["open"], r["overdue"], r["resolved"]) for r in workload]
    return board


def duration_label(value: timedelta | None) -> str:
    """A duration as an agent reads it: 2d 4h, 3h 12m, 45m."""
    if value is None:
        return "—"
    minutes = int(value.total_seconds() // 60)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m"
