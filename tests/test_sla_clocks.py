"""The SLA clocks as the ticket services keep them, with SLA.md's worked examples."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time, timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError

from sla.models import ClockState, ClockTarget, Schedule, ScheduleInterval, SLAPlan, SLAPriorityTarget
from sla.services import IntervalSpec, PlanFields, schedule_create, schedule_update, sla_plan_update, sla_sweep
from tests.factories import ticket_open
from tickets import services
from tickets.models import EventKind, TicketState

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 3, 8, 0, tzinfo=UTC)  # a Tuesday


def at(hours: float = 0, minutes: float = 0) -> datetime:
    return T0 + timedelta(hours=hours, minutes=minutes)


def clock(ticket, target=ClockTarget.RESOLUTION):
    return ticket.clocks.get(target=target)


def test_waiting_on_customer_pauses_the_clock_and_resuming_moves_the_due_instant(karen, john, plans) -> None:
    # 24/7, created 08:00, resolution 2 h, waiting on customer 09:00-10:05: due 11:05.
    plan = SLAPlan.objects.create(name="Two hours", resolution_minutes=120)
    plan.pause_statuses.set(plans["Default SLA"].pause_statuses.all())
    with time_machine.travel(at(), tick=False):
        ticket = ticket_open(karen, sla_plan=plan, actor=john)
        assert ticket.due_at == at(2)
    with time_machine.travel(at(1), tick=False):
        ticket = services.ticket_wait_on_customer(ticket=ticket, actor=john)
        assert ticket.due_at is None
        assert clock(ticket).state == ClockState.PAUSED
    with time_machine.travel(at(2, 5), tick=False):
        services.ticket_add_message(ticket=ticket, author=karen, body="Here you go")
    ticket.refresh_from_db()
    assert ticket.due_at == at(3, 5)
    assert clock(ticket).elapsed_seconds == 3600
    assert [k for k in ticket.events.values_list("kind", flat=True) if k.startswith("sla_")] == [
        EventKind.SLA_STARTED,
        EventKind.SLA_PAUSED,
        EventKind.SLA_RESUMED,
    ]


def test_next_response_does_not_run_before_the_first_response_is_met(karen, john) -> None:
    plan = SLAPlan.objects.create(
        name="FR4 NR1", first_response_minutes=240, next_response_minutes=60, resolution_minutes=2400
    )
    with time_machine.travel(at(), tick=False):
        ticket = ticket_open(karen, sla_plan=plan, actor=john)
    with time_machine.travel(at(0, 30), tick=False):
        services.ticket_add_message(ticket=ticket, author=karen, body="Any news?")
    assert not ticket.clocks.filter(target=ClockTarget.NEXT_RESPONSE).exists()
    ticket.refresh_from_db()
    assert ticket.first_response_due_at == at(4)
    with time_machine.travel(at(1), tick=False):
        services.ticket_reply(ticket=ticket, actor=john, body="Looking")
    with time_machine.travel(at(2), tick=False):
        services.ticket_add_message(ticket=ticket, author=karen, body="Still down")
    with time_machine.travel(at(2, 20), tick=False):
        services.ticket_add_message(ticket=ticket, author=karen, body="Hello?")
    # It counts from the oldest unanswered message.
    assert clock(ticket, ClockTarget.NEXT_RESPONSE).due_at == at(3)
    with time_machine.travel(at(2, 30), tick=False):
        services.ticket_reply(ticket=ticket, actor=john, body="Fixing")
    assert clock(ticket, ClockTarget.NEXT_RESPONSE).state == ClockState.MET


def test_raising_the_priority_retargets_keeping_elapsed_time(karen, john, priorities) -> None:
    # 8 h target with 3 h elapsed, priority raised to a 4 h target: 1 h left; breach at 4 h elapsed.
    plan = SLAPlan.objects.create(name="By priority", resolution_minutes=8 * 60)
    SLAPriorityTarget.objects.create(plan=plan, priority=priorities["Emergency"], resolution_minutes=4 * 60)
    with time_machine.travel(at(), tick=False):
        ticket = ticket_open(karen, sla_plan=plan, actor=john)
        assert ticket.due_at == at(8)
    with time_machine.travel(at(3), tick=False):
        ticket = services.ticket_set_priority(ticket=ticket, actor=john, priority=priorities["Emergency"])
    assert ticket.due_at == at(4)
    assert clock(ticket).elapsed_seconds == 3 * 3600
    assert ticket.events.filter(kind=EventKind.SLA_RETARGETED).exists()
    assert sla_sweep(now=at(3, 59)).breached == []
    assert len(sla_sweep(now=at(4)).breached) == 1


def test_sixteen_business_hours_from_tuesday_ten_fall_due_thursday_ten(karen, john) -> None:
    office = Schedule.objects.create(name="Nine to five", timezone="UTC")
    for day in range(5):
        ScheduleInterval.objects.create(schedule=office, weekday=day, start=time(9), end=time(17))
    plan = SLAPlan.objects.create(name="Two days", schedule=office, resolution_minutes=16 * 60)
    with time_machine.travel(datetime(2026, 3, 3, 10, 0, tzinfo=UTC), tick=False):
        ticket = ticket_open(karen, sla_plan=plan, actor=john)
    assert ticket.due_at == datetime(2026, 3, 5, 10, 0, tzinfo=UTC)


def test_resolving_meets_the_clock_and_a_reopen_carries_the_elapsed_time(karen, john) -> None:
    plan = SLAPlan.objects.create(name="Ten hours", resolution_minutes=600)
    with time_machine.travel(at(), tick=False):
        ticket = ticket_open(karen, sla_plan=plan, actor=john)
    with time_machine.travel(at(2), tick=False):
        ticket = services.ticket_resolve(ticket=ticket, actor=john)
    assert clock(ticket).state == ClockState.MET and ticket.due_at is None
    with time_machine.travel(at(5), tick=False):
        services.ticket_add_message(ticket=ticket, author=karen, body="Broken again")
    ticket.refresh_from_db()
    reopened = clock(ticket)
    assert (reopened.state, reopened.cycle, reopened.elapsed_seconds) == (ClockState.RUNNING, 2, 2 * 3600)
    assert ticket.due_at == at(13)


def test_changing_to_no_plan_stops_the_clocks(karen, john) -> None:
    ticket = ticket_open(karen)
    ticket = services.ticket_set_sla_plan(ticket=ticket, actor=john, sla_plan=None)
    assert ticket.due_at is None
    assert clock(ticket).state == ClockState.STOPPED


def test_the_sweep_marks_an_overdue_ticket_and_alerts_once(karen, john, admin) -> None:
    plan = SLAPlan.objects.create(name="One hour", resolution_minutes=60, warn_at_percent=50)
    with time_machine.travel(at(), tick=False):
        ticket = ticket_open(karen, sla_plan=plan, actor=john)
        services.ticket_assign(ticket=ticket, actor=john, assignee=john)
    assert sla_sweep(now=at(0, 29)).warned == []
    assert len(sla_sweep(now=at(0, 30)).warned) == 1
    result = sla_sweep(now=at(1, 1))
    assert len(result.breached) == 1
    assert sla_sweep(now=at(1, 2)).breached == []
    ticket.refresh_from_db()
    assert ticket.is_overdue
    overdue = ticket.events.get(kind=EventKind.OVERDUE)
    alerted = set(overdue.notifications.values_list("recipient_email", flat=True))
    assert alerted == {"john@example.com", "admin@example.com"}  # the assignee and the manager
    assert ticket.events.filter(kind=EventKind.SLA_WARNING).count() == 1


def test_resolving_an_overdue_ticket_clears_the_flag(karen, john) -> None:
    plan = SLAPlan.objects.create(name="One hour", resolution_minutes=60)
    with time_machine.travel(at(), tick=False):
        ticket = ticket_open(karen, sla_plan=plan, actor=john)
    sla_sweep(now=at(2))
    with time_machine.travel(at(2), tick=False):
        ticket = services.ticket_resolve(ticket=ticket, actor=john)
    assert ticket.is_overdue is False
    met = ticket.events.get(kind=EventKind.SLA_MET)
    assert met.data["late"] is True


def test_a_breach_can_raise_the_priority_through_the_services(karen, john, priorities) -> None:
    plan = SLAPlan.objects.create(name="Escalating", resolution_minutes=60, breach_raise_priority=True)
    with time_machine.travel(at(), tick=False):
        ticket = ticket_open(karen, sla_plan=plan, actor=john)
    sla_sweep(now=at(1))
    ticket.refresh_from_db()
    assert ticket.priority == priorities["High"]
    assert ticket.state == TicketState.OPEN
    assert ticket.events.get(kind=EventKind.PRIORITY_CHANGED).actor is None


# ---------------------------------------------------------------- more of our own


def nine_to_five(name: str = "Office") -> Schedule:
    return schedule_create(
        name=name, timezone_name="UTC", intervals=[IntervalSpec(day, time(9), time(17)) for day in range(5)]
    )


def test_a_due_date_set_by_hand_holds_and_a_pause_moves_it_by_the_paused_time(karen, john, plans) -> None:
    plan = SLAPlan.objects.create(name="Eight hours", resolution_minutes=480)
    plan.pause_statuses.set(plans["Default SLA"].pause_statuses.all())
    with time_machine.travel(at(), tick=False):
        ticket = ticket_open(karen, sla_plan=plan, actor=john)
    with time_machine.travel(at(1), tick=False):
        ticket = services.ticket_set_due(ticket=ticket, actor=john, due_at=at(3), reason="Vendor visit at 11")
    assert ticket.due_at == at(3)
    assert clock(ticket).is_overridden
    with time_machine.travel(at(2), tick=False):
        ticket = services.ticket_wait_on_customer(ticket=ticket, actor=john)
    assert ticket.due_at is None
    with time_machine.travel(at(4), tick=False):
        services.ticket_add_message(ticket=ticket, author=karen, body="Back")
    ticket.refresh_from_db()
    assert ticket.due_at == at(5)  # one hour was left when it paused
    assert ticket.events.get(kind=EventKind.DUE_OVERRIDDEN).data["reason"] == "Vendor visit at 11"


def test_changing_the_priority_drops_a_due_date_set_by_hand(karen, john, priorities) -> None:
    plan = SLAPlan.objects.create(name="Eight hours", resolution_minutes=480)
    with time_machine.travel(at(), tick=False):
        ticket = ticket_open(karen, sla_plan=plan, actor=john)
        ticket = services.ticket_set_due(ticket=ticket, actor=john, due_at=at(30), reason="Waiting for parts")
    with time_machine.travel(at(1), tick=False):
        ticket = services.ticket_set_priority(ticket=ticket, actor=john, priority=priorities["High"])
    assert ticket.due_at == at(8)
    assert not clock(ticket).is_overridden


def test_a_reopen_after_a_breach_starts_a_new_cycle_that_can_breach_again(karen, john) -> None:
    plan = SLAPlan.objects.create(name="Two hours", resolution_minutes=120, warn_at_percent=None)
    with time_machine.travel(at(), tick=False):
        ticket = ticket_open(karen, sla_plan=plan, actor=john)
    assert len(sla_sweep(now=at(3)).breached) == 1
    with time_machine.travel(at(3), tick=False):
        ticket = services.ticket_resolve(ticket=ticket, actor=john)
    with time_machine.travel(at(4), tick=False):
        services.ticket_add_message(ticket=ticket, author=karen, body="It is down again")
    ticket.refresh_from_db()
    reopened = clock(ticket)
    # Three hours already counted carry over: the new cycle is due at once, and breaches anew.
    assert (reopened.cycle, reopened.elapsed_seconds, reopened.breached_at) == (2, 3 * 3600, None)
    assert ticket.due_at == at(4) and not ticket.is_overdue
    assert len(sla_sweep(now=at(4, 1)).breached) == 1
    assert ticket.events.filter(kind=EventKind.OVERDUE).count() == 2


def test_a_reopen_can_start_afresh_when_configured(karen, john, settings) -> None:
    settings.SLA_REOPEN_KEEPS_ELAPSED = False
    plan = SLAPlan.objects.create(name="Ten hours", resolution_minutes=600)
    with time_machine.travel(at(), tick=False):
        ticket = ticket_open(karen, sla_plan=plan, actor=john)
    with time_machine.travel(at(2), tick=False):
        ticket = services.ticket_resolve(ticket=ticket, actor=john)
    with time_machine.travel(at(5), tick=False):
        services.ticket_add_message(ticket=ticket, author=karen, body="Broken again")
    ticket.refresh_from_db()
    assert ticket.due_at == at(15)


def test_resolving_without_a_reply_stops_the_first_response_clock_and_says_so(karen, john) -> None:
    plan = SLAPlan.objects.create(name="Both", first_response_minutes=60, resolution_minutes=600)
    with time_machine.travel(at(), tick=False):
        ticket = ticket_open(karen, sla_plan=plan, actor=john)
    with time_machine.travel(at(0, 30), tick=False):
        ticket = services.ticket_resolve(ticket=ticket, actor=john)
    assert clock(ticket, ClockTarget.FIRST_RESPONSE).state == ClockState.STOPPED
    assert ticket.events.get(kind=EventKind.SLA_MET).data["stopped"] == [ClockTarget.FIRST_RESPONSE]
    assert ticket.first_response_due_at is None


def test_a_warning_is_armed_again_when_a_longer_target_moves_it_into_the_future(karen, john, priorities) -> None:
    plan = SLAPlan.objects.create(name="Four hours", resolution_minutes=240, warn_at_percent=50)
    SLAPriorityTarget.objects.create(plan=plan, priority=priorities["Low"], resolution_minutes=16 * 60)
    with time_machine.travel(at(), tick=False):
        ticket = ticket_open(karen, sla_plan=plan, actor=john)
    assert len(sla_sweep(now=at(2, 30)).warned) == 1
    with time_machine.travel(at(3), tick=False):
        ticket = services.ticket_set_priority(ticket=ticket, actor=john, priority=priorities["Low"])
    assert clock(ticket).warned_at is None and clock(ticket).warn_at == at(8)
    assert len(sla_sweep(now=at(8)).warned) == 1


def test_a_plan_given_to_a_ticket_that_had_none_counts_from_its_creation(karen, john, plans) -> None:
    with time_machine.travel(at(), tick=False):
        ticket = ticket_open(karen)
        ticket = services.ticket_set_sla_plan(ticket=ticket, actor=john, sla_plan=None)
    with time_machine.travel(at(1), tick=False):
        ticket = services.ticket_set_sla_plan(ticket=ticket, actor=john, sla_plan=plans["Sev-B"])
    assert ticket.due_at == at(4)  # Sev-B's four hours, one of which had passed


def test_an_admins_edit_of_the_targets_moves_open_tickets_due_dates_keeping_elapsed_time(
    karen, john, django_capture_on_commit_callbacks
) -> None:
    plan = SLAPlan.objects.create(name="Ten hours", resolution_minutes=600)
    with time_machine.travel(at(), tick=False):
        ticket = ticket_open(karen, sla_plan=plan, actor=john)
        overridden = ticket_open(karen, sla_plan=plan, actor=john)
        overridden = services.ticket_set_due(ticket=overridden, actor=john, due_at=at(30), reason="Parts on order")
    with time_machine.travel(at(2), tick=False), django_capture_on_commit_callbacks(execute=True):
        sla_plan_update(plan=plan, fields=PlanFields(name="Ten hours", resolution_minutes=240))
    ticket.refresh_from_db()
    overridden.refresh_from_db()
    assert ticket.due_at == at(4)
    assert overridden.due_at == at(30)  # an agent's promise stands
    event = ticket.events.get(kind=EventKind.SLA_RETARGETED)
    assert event.actor is None and event.data["reason"] == "plan 'Ten hours' edited"
    assert not overridden.events.filter(kind=EventKind.SLA_RETARGETED).exists()


def test_the_background_recompute_is_logged(karen, john, django_capture_on_commit_callbacks) -> None:
    plan = SLAPlan.objects.create(name="Ten hours", resolution_minutes=600)
    ticket_open(karen, sla_plan=plan, actor=john)
    lines: list[str] = []
    handler = logging.Handler(logging.INFO)
    handler.emit = lambda record: lines.append(record.getMessage())  # type: ignore[method-assign]
    logger = logging.getLogger("sla.tasks")
    logger.addHandler(handler)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            sla_plan_update(plan=plan, fields=PlanFields(name="Ten hours", resolution_minutes=300))
    finally:
        logger.removeHandler(handler)
    assert any("SLA clocks recomputed for 1 open tickets on plans" in line for line in lines)
    assert any("plan 'Ten hours' edited" in line for line in lines)


def test_an_edit_of_the_schedule_never_rewrites_the_time_already_counted(
    karen, john, django_capture_on_commit_callbacks
) -> None:
    office = nine_to_five()
    plan = SLAPlan.objects.create(name="Sixteen business hours", schedule=office, resolution_minutes=16 * 60)
    tuesday_ten = datetime(2026, 3, 3, 10, 0, tzinfo=UTC)
    with time_machine.travel(tuesday_ten, tick=False):
        ticket = ticket_open(karen, sla_plan=plan, actor=john)
    assert ticket.due_at == datetime(2026, 3, 5, 10, 0, tzinfo=UTC)
    # On Wednesday at 12:00 the office starts opening at 08:00 (and closing at 18:00).
    wednesday_noon = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
    with time_machine.travel(wednesday_noon, tick=False), django_capture_on_commit_callbacks(execute=True):
        schedule_update(
            schedule=office,
            name="Office",
            timezone_name="UTC",
            intervals=[IntervalSpec(day, time(8), time(18)) for day in range(5)],
        )
    ticket.refresh_from_db()
    # Counted before the edit in the old hours: Tuesday 10-17 (7 h) and Wednesday 9-12 (3 h).
    # The 6 h left count in the new hours from Wednesday 12:00: due at 18:00 that day.
    assert clock(ticket).elapsed_seconds == 10 * 3600
    assert ticket.due_at == datetime(2026, 3, 4, 18, 0, tzinfo=UTC)


def test_a_schedule_with_overlapping_or_midnight_crossing_intervals_is_refused_and_nothing_saved() -> None:
    with pytest.raises(ValidationError) as overlap:
        schedule_create(
            name="Bad",
            timezone_name="UTC",
            intervals=[IntervalSpec(0, time(9), time(12)), IntervalSpec(0, time(11), time(13))],
        )
    assert "overlap" in overlap.value.message_dict["intervals"][0]
    with pytest.raises(ValidationError) as night:
        schedule_create(name="Night", timezone_name="Mars/Base", intervals=[IntervalSpec(4, time(22), time(2))])
    assert set(night.value.message_dict) == {"timezone", "intervals"}
    assert not Schedule.objects.filter(name__in=["Bad", "Night"]).exists()


def test_an_interval_ending_at_midnight_runs_to_the_end_of_the_day(karen, john) -> None:
    late = schedule_create(name="Late", timezone_name="UTC", intervals=[IntervalSpec(1, time(20), time(0))])
    assert late.calendar().weekly[1] == ((20 * 60, 24 * 60),)
    assert date(2026, 3, 3).weekday() == 1
