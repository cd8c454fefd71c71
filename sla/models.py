"""SLA plans, the business-hours schedules they count in, and each ticket's clocks."""

from __future__ import annotations

import datetime
import zoneinfo
from datetime import time

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from sla import deadlines


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"Unknown time zone {value!r}; use an IANA name such as Europe/Berlin.")


class Schedule(models.Model):
    """Weekly business hours in a time zone, with holidays. No schedule means 24/7."""

    name = models.CharField(max_length=128, unique=True)
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def calendar(self) -> deadlines.Calendar:
        """The pure description the due-date arithmetic counts in."""
        weekly: list[list[tuple[int, int]]] = [[] for _ in range(7)]
        for interval in self.intervals.all():
            weekly[interval.weekday].append((minutes(interval.start), interval.end_minutes))
        holidays: set[datetime.date] = set()
        for holiday in self.holidays.all():
            holidays.update(holiday.dates())
        return deadlines.Calendar.build(timezone=self.timezone, weekly=weekly, holidays=holidays)


def minutes(t: time) -> int:
    return t.hour * 60 + t.minute


class ScheduleInterval(models.Model):
    """One open interval on one weekday (0 is Monday). An end of 00:00 means midnight at the day's end."""

    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="intervals")
    weekday = models.PositiveSmallIntegerField(choices=[(i, d) for i, d in enumerate(deadlines.WEEKDAYS)])
    start = models.TimeField()
    end = models.TimeField()

    class Meta:
        ordering = ["weekday", "start"]

    def __str__(self) -> str:
        return f"{deadlines.WEEKDAYS[self.weekday]} {self.start:%H:%M}-{self.end:%H:%M}"

    @property
    def end_minutes(self) -> int:
        return 24 * 60 if self.end == time(0) else minutes(self.end)

    def clean(self) -> None:
        if self.end_minutes <= minutes(self.start):
            raise ValidationError({"end": "An interval must end after it starts, on the same day."})


class Holiday(models.Model):
    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="holidays")
    name = models.CharField(max_length=128, blank=True)
    date = models.DateField()
    end_date = models.DateField(null=True, blank=True, help_text="For a range of days; inclusive.")

    class Meta:
        ordering = ["date"]

    def __str__(self) -> str:
        return f"{self.name or 'Holiday'} {self.date}"

    def dates(self) -> list[datetime.date]:
        last = self.end_date or self.date
        return [datetime.date.fromordinal(o) for o in range(self.date.toordinal(), last.toordinal() + 1)]


class SLAPlan(models.Model):
    name = models.CharField(max_length=128, unique=True)
    schedule = models.ForeignKey(
        Schedule, null=True, blank=True, on_delete=models.PROTECT, help_text="Empty: the targets count 24/7."
    )
    first_response_minutes = models.PositiveIntegerField(null=True, blank=True)
    resolution_minutes = models.PositiveIntegerField(null=True, blank=True)
    next_response_minutes = models.PositiveIntegerField(null=True, blank=True)
    pause_statuses = models.ManyToManyField(
        "tickets.Status", blank=True, related_name="+", help_text="Statuses that pause the clocks."
    )
    warn_at_percent = models.PositiveSmallIntegerField(
        null=True, blank=True, default=75, help_text="Warn when this share of a target has elapsed; empty: no warning."
    )
    breach_raise_priority = models.BooleanField(default=False, help_text="On breach, raise the priority one step.")
    breach_reassign_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    is_active = models.BooleanField(default=True)
    is_default = models.BooleanField(default=False, help_text="The plan of tickets that no topic or department sets.")

    class Meta:
        ordering = ["name"]
        verbose_name = "SLA plan"
        constraints = [
            models.UniqueConstraint(fields=["is_default"], condition=Q(is_default=True), name="one_default_sla_plan")
        ]

    def __str__(self) -> str:
        return self.name

    def calendar(self) -> deadlines.Calendar:
        return (
            self.schedule.calendar() if self.schedule_id and self.schedule else deadlines.Calendar.twenty_four_seven()
        )

    def targets_for(self, priority_id: int | None) -> dict[str, int | None]:
        """Target seconds per clock for a priority: the priority's own targets where set."""
        minutes = {
            ClockTarget.FIRST_RESPONSE: self.first_response_minutes,
            ClockTarget.RESOLUTION: self.resolution_minutes,
            ClockTarget.NEXT_RESPONSE: self.next_response_minutes,
        }
        override = next((t for t in self.priority_targets.all() if t.priority_id == priority_id), None)
        if override is not None:
            # A priority's target replaces the plan's where it is set, and falls back to it where not.
            minutes = {
                ClockTarget.FIRST_RESPONSE: override.first_response_minutes or minutes[ClockTarget.FIRST_RESPONSE],
                ClockTarget.RESOLUTION: override.resolution_minutes or minutes[ClockTarget.RESOLUTION],
                ClockTarget.NEXT_RESPONSE: override.next_response_minutes or minutes[ClockTarget.NEXT_RESPONSE],
            }
        return {target: (m * 60 if m else None) for target, m in minutes.items()}


class SLAPriorityTarget(models.Model):
    """Targets of a plan for one priority, in place of the plan's own."""

    plan = models.ForeignKey(SLAPlan, on_delete=models.CASCADE, related_name="priority_targets")
    priority = models.ForeignKey("tickets.Priority", on_delete=models.CASCADE, related_name="+")
    first_response_minutes = models.PositiveIntegerField(null=True, blank=True)
    resolution_minutes = models.PositiveIntegerField(null=True, blank=True)
    next_response_minutes = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["plan", "priority"], name="sla_target_plan_priority_unique")]

    def __str__(self) -> str:
        return f"{self.plan} for {self.priority}"


class ClockTarget(models.TextChoices):
    FIRST_RESPONSE = "first_response", "First response"
    RESOLUTION = "resolution", "Resolution"
    NEXT_RESPONSE = "next_response", "Next response"


class ClockState(models.TextChoices):
    RUNNING = "running", "Running"
    PAUSED = "paused", "Paused"
    MET = "met", "Met"
    STOPPED = "stopped", "Stopped"


class TicketClock(models.Model):
    """One target of a ticket's SLA plan, counted in business time.

    `elapsed_seconds` is the business time counted up to `running_since`; while running,
    the time since then counts too. A clock is breached when its due instant passes while it
    runs (breached_at, set by the sweep); it may still be met afterwards, late.
    """

    # Indexed by clock_ticket_target_unique (ticket_id, target).
    ticket = models.ForeignKey("tickets.Ticket", on_delete=models.CASCADE, related_name="clocks", db_index=False)
    target = models.CharField(max_length=16, choices=ClockTarget.choices)
    state = models.CharField(max_length=16, choices=ClockState.choices, default=ClockState.RUNNING)
    target_seconds = models.PositiveIntegerField()
    elapsed_seconds = models.PositiveIntegerField(default=0)
    running_since = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField()
    due_at = models.DateTimeField(null=True, blank=True)
    warn_at = models.DateTimeField(null=True, blank=True)
    warned_at = models.DateTimeField(null=True, blank=True)
    breached_at = models.DateTimeField(null=True, blank=True)
    met_at = models.DateTimeField(null=True, blank=True)
    is_overridden = models.BooleanField(default=False, help_text="Due instant set by hand.")
    cycle = models.PositiveSmallIntegerField(default=1, help_text="Counts reopenings.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["ticket", "target"], name="clock_ticket_target_unique")]
        indexes = [
            # The sweep's two queries: running clocks past their warning or due instant, not
            # yet warned or breached. Partial, so they hold only the clocks still to act on.
            models.Index(
                fields=["due_at"],
                name="clock_breach_due_idx",
                condition=Q(state="running", breached_at__isnull=True, due_at__isnull=False),
            ),
            models.Index(
                fields=["warn_at"],
                name="clock_warn_due_idx",
                condition=Q(state="running", warned_at__isnull=True, warn_at__isnull=False),
            ),
            # The compliance reports (sla.reports): targets met in a period.
            models.Index(fields=["met_at"], name="clock_met_idx", condition=Q(state="met")),
        ]

    def __str__(self) -> str:
        return f"{self.get_target_display()} clock of ticket {self.ticket_id}"
