"""SLA compliance figures for reports and dashboards.

A clock counts in the period in which its outcome fell: when it was met (on time or late),
or, for a clock still open, when it was breached. Met on time means met before its due
instant with no breach recorded. Stopped clocks (a plan removed, a ticket resolved before
its first response) have no outcome and do not count. Business time is the time a clock
counted, in its plan's calendar, pauses left out.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import Count, F, FloatField, Q
from django.db.models.aggregates import Aggregate
from django.db.models.functions import Coalesce, TruncDay, TruncMonth, TruncWeek
from django.utils import timezone

from sla.models import ClockState, ClockTarget, TicketClock

GROUPS: dict[str, Any] = {
    "plan": "ticket__sla_plan__name",
    "department": "ticket__department__name",
    "agent": "ticket__assignee__name",
    "day": TruncDay,
    "week": TruncWeek,
    "month": TruncMonth,
}
PERIOD_FORMATS = {"day": "%Y-%m-%d", "week": "week of %Y-%m-%d", "month": "%Y-%m"}


class PercentileCont(Aggregate):
    """PostgreSQL's continuous percentile of a column (an ordered-set aggregate)."""

    function = "PERCENTILE_CONT"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression: Any, fraction: float, **extra: Any) -> None:
        super().__init__(expression, fraction=fraction, **extra)


@dataclass
class ComplianceRow:
    group: str
    target: str
    decided: int
    met_on_time: int
    breaches: int
    median_seconds: float | None
    p90_seconds: float | None

    @property
    def percent_met(self) -> float | None:
        return round(100 * self.met_on_time / self.decided, 1) if self.decided else None

    @property
    def target_label(self) -> str:
        return ClockTarget(self.target).label


def _percentile(values: list[int], fraction: float) -> float | None:
    """As PostgreSQL's percentile_cont: linear between the two nearest ranks."""
    if not values:
        return None
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def sla_compliance(*, start: datetime, end: datetime, group_by: str = "plan") -> list[ComplianceRow]:
    """Per group and target: how many clocks were decided in [start, end), how many met
    on time, how many breached, and the median and 90th percentile of the business time
    taken by those met (to first response, to resolution, to next response)."""
    if group_by not in GROUPS:
        raise ValueError(f"Unknown grouping {group_by!r}.")
    decided = Coalesce("met_at", "breached_at")
    on_time = Q(state=ClockState.MET, breached_at__isnull=True) & (Q(due_at__isnull=True) | Q(met_at__lte=F("due_at")))
    clocks = TicketClock.objects.annotate(decided_at=decided).filter(
        Q(state=ClockState.MET, met_at__gte=start, met_at__lt=end)
        | (~Q(state=ClockState.MET) & ~Q(state=ClockState.STOPPED) & Q(breached_at__gte=start, breached_at__lt=end))
    )
    grouping = GROUPS[group_by]
    if isinstance(grouping, str):
        clocks = clocks.annotate(group=F(grouping))
    else:
        clocks = clocks.annotate(group=grouping("decided_at", tzinfo=timezone.get_current_timezone()))
    met = Q(state=ClockState.MET)
    aggregates: dict[str, Any] = {
        "decided": Count("pk"),
        "met_on_time": Count("pk", filter=on_time),
        "breaches": Count("pk", filter=~on_time),
    }
    postgres = connection.vendor == "postgresql"
    if postgres:
        aggregates["median"] = PercentileCont("elapsed_seconds", 0.5, filter=met)
        aggregates["p90"] = PercentileCont("elapsed_seconds", 0.9, filter=met)
    rows: list[dict[str, Any]] = [
        dict(row) for row in clocks.values("group", "target").annotate(**aggregates).order_by("group", "target")
    ]
    if not postgres:
        spans: dict[tuple[Any, str], list[int]] = defaultdict(list)
        for group, target, elapsed in clocks.filter(met).values_list("group", "target", "elapsed_seconds"):
            spans[(group, target)].append(elapsed)
        for row in rows:
            values = spans.get((row["group"], row["target"]), [])
            row["median"], row["p90"] = _percentile(values, 0.5), _percentile(values, 0.9)
    order = {t: i for i, t in enumerate(ClockTarget.values)}
    result = [
        ComplianceRow(
            group=_label(row["group"], group_by),
            target=row["target"],
            decided=row["decided"],
            met_on_time=row["met_on_time"],
            breaches=row["breaches"],
            median_seconds=row["median"],
            p90_seconds=row["p90"],
        )
        for row in rows
    ]
    return sorted(result, key=lambda r: (r.group, order[r.target]))


def _label(value: Any, group_by: str) -> str:
    if value is None:
        return {"agent": "Unassigned", "plan": "No plan"}.get(group_by, "—")
    if isinstance(value, datetime):
        return timezone.localtime(value).strftime(PERIOD_FORMATS[group_by])
    return str(value)


def duration(seconds: float | None) -> str:
    """Business time for people: '3 h 05 min', '2 d 4 h' (days of 24 business hours)."""
    if seconds is None:
        return "—"
    minutes = round(seconds / 60)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min"
