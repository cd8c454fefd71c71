"""The breach sweep: warnings and breaches acted on once, alerts to the right people, breach
actions through the ticket services, and `check_sla`."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.core.management import call_command

from accounts.models import DepartmentMembership, Role, User
from notifications.models import Notification, NotificationKind
from notifications.planner import recipients_for
from sla.models import ClockState, ClockTarget, SLAPlan
from sla.services import sla_sweep
from tests.factories import ticket_open
from tickets import services
from tickets.models import EventKind, Ticket

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 3, 8, 0, tzinfo=UTC)


def at(hours: float = 0, minutes: float = 0) -> datetime:
    return T0 + timedelta(hours=hours, minutes=minutes)


def opened(requester: User, plan: SLAPlan, **kwargs) -> Ticket:
    with time_machine.travel(at(), tick=False):
        return ticket_open(requester, sla_plan=plan, **kwargs)


@pytest.fixture
def one_hour() -> SLAPlan:
    return SLAPlan.objects.create(name="One hour", first_response_minutes=30, resolution_minutes=60, warn_at_percent=50)


def alerted(ticket: Ticket, kind: EventKind) -> set[str]:
    return set(
        Notification.objects.filter(event__ticket=ticket, event__kind=kind).values_list("recipient_email", flat=True)
    )


def test_an_unassigned_breach_alerts_the_departments_agents_and_the_manager(karen, john, admin, one_hour) -> None:
    ticket = opened(karen, one_hour)
    sla_sweep(now=at(2))
    # Support's agents are John and the admin, who also manages it: each is told once.
    assert alerted(ticket, EventKind.OVERDUE) == {"john@example.com", "admin@example.com"}


def test_a_breach_of_an_assigned_ticket_alerts_the_assignee_and_the_manager_only(
    karen, jane, online_banking, admin, one_hour
) -> None:
    ticket = opened(karen, one_hour, department=online_banking, assignee=jane)
    sla_sweep(now=at(2))
    assert alerted(ticket, EventKind.OVERDUE) == {"jane@example.com", "admin@example.com"}


def test_the_bulk_alert_plan_names_the_same_people_as_the_one_by_one_planner(
    karen, john, jane, viewer, support, admin, one_hour
) -> None:
    gone = User.objects.create_user("gone@example.com", name="Gone Agent", kind=User.Kind.AGENT, is_active=False)
    DepartmentMembership.objects.create(agent=gone, department=support, role=Role.objects.get(name="Agent"))
    unassigned = opened(karen, one_hour)
    assigned = opened(karen, one_hour, assignee=john)
    sla_sweep(now=at(0, 45))  # the first-response clocks breach, the resolution clocks warn
    sla_sweep(now=at(2))
    for ticket in (unassigned, assigned):
        for kind in (EventKind.SLA_WARNING, EventKind.OVERDUE):
            for event in ticket.events.filter(kind=kind):
                expected = {
                    person.email
                    for _, person in recipients_for(event)
                    if person.is_active and person.is_agent and person.pk != event.actor_id
                }
                assert set(event.notifications.values_list("recipient_email", flat=True)) == expected, (ticket, kind)
    assert "gone@example.com" not in set(Notification.objects.values_list("recipient_email", flat=True))
    assert "vic@example.com" in alerted(unassigned, EventKind.OVERDUE)


def test_a_clock_found_past_its_warning_and_its_due_instant_is_only_breached(karen, one_hour) -> None:
    ticket = opened(karen, one_hour)
    result = sla_sweep(now=at(3))
    assert result.warned == []
    assert len(result.breached) == 2
    assert not ticket.events.filter(kind=EventKind.SLA_WARNING).exists()
    assert sla_sweep(now=at(4)).warned == []


def test_a_rerun_changes_nothing_more(karen, one_hour) -> None:
    ticket = opened(karen, one_hour)
    first = sla_sweep(now=at(2))
    again = sla_sweep(now=at(2, 1))
    assert len(first.breached) == 2 and again.breached == [] and again.warned == []
    assert ticket.events.filter(kind=EventKind.OVERDUE).count() == 2
    assert Notification.objects.filter(kind=NotificationKind.OVERDUE_ALERT).count() == 4


def test_the_sweep_marks_the_ticket_overdue_and_names_the_target(karen, one_hour) -> None:
    ticket = opened(karen, one_hour)
    result = sla_sweep(now=at(0, 31))
    assert result.tickets_marked_overdue == 1
    ticket.refresh_from_db()
    assert ticket.is_overdue
    event = ticket.events.get(kind=EventKind.OVERDUE)
    assert event.to_value == "First response"
    assert event.data["target"] == ClockTarget.FIRST_RESPONSE
    assert event.data["due_at"] == at(0, 30).isoformat()
    assert event.actor is None


def test_paused_and_met_clocks_are_never_breached(karen, john, statuses, plans) -> None:
    plan = SLAPlan.objects.create(name="Pausing", first_response_minutes=30, resolution_minutes=60)
    plan.pause_statuses.set(plans["Default SLA"].pause_statuses.all())
    ticket = opened(karen, plan)
    with time_machine.travel(at(0, 10), tick=False):
        services.ticket_reply(ticket=ticket, actor=john, body="On it")
        services.ticket_wait_on_customer(ticket=ticket, actor=john)
    assert sla_sweep(now=at(5)).breached == []
    assert set(ticket.clocks.values_list("state", flat=True)) == {ClockState.MET, ClockState.PAUSED}


def test_the_alerts_are_sent_after_the_sweep_commits(karen, john, one_hour, django_capture_on_commit_callbacks) -> None:
    ticket = opened(karen, one_hour, assignee=john)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        sla_sweep(now=at(0, 31))
    assert mail.outbox == []
    for callback in callbacks:
        callback()
    subjects = {(m.to[0], m.subject) for m in mail.outbox}
    assert ("John Doe <john@example.com>", f"Overdue [#{ticket.number}] Printer is jammed") in subjects
    assert ("Alex Admin <admin@example.com>", f"Overdue [#{ticket.number}] Printer is jammed") in subjects


def test_a_breach_can_reassign_the_ticket_through_the_services(karen, john, admin, one_hour) -> None:
    one_hour.breach_reassign_to = admin
    one_hour.save()
    ticket = opened(karen, one_hour, assignee=john)
    result = sla_sweep(now=at(2))
    ticket.refresh_from_db()
    assert ticket.assignee == admin
    assert ticket.events.filter(kind=EventKind.ASSIGNED).last().to_value == "Alex Admin"
    assert result.actions == [f"#{ticket.number}: reassigned to Alex Admin"]  # once, though two clocks breached


def test_a_refused_breach_action_is_reported_and_the_breach_stands(karen, jane, one_hour) -> None:
    one_hour.breach_reassign_to = jane  # Jane is not in Support
    one_hour.save()
    ticket = opened(karen, one_hour)
    result = sla_sweep(now=at(2))
    ticket.refresh_from_db()
    assert ticket.assignee is None and ticket.is_overdue
    assert "breach action refused" in result.actions[0]
    assert ticket.events.filter(kind=EventKind.OVERDUE).count() == 2


def test_raising_the_priority_on_breach_stops_at_the_most_urgent(karen, one_hour, priorities) -> None:
    one_hour.breach_raise_priority = True
    one_hour.save()
    ticket = opened(karen, one_hour, priority=priorities["Emergency"])
    result = sla_sweep(now=at(2))
    ticket.refresh_from_db()
    assert ticket.priority == priorities["Emergency"]
    assert result.actions == []


def test_resolving_with_a_due_date_set_by_hand_and_no_plan_is_never_breached(karen, john) -> None:
    with time_machine.travel(at(), tick=False):
        ticket = ticket_open(karen)
        ticket = services.ticket_set_sla_plan(ticket=ticket, actor=john, sla_plan=None)
        ticket = services.ticket_set_due(ticket=ticket, actor=john, due_at=at(1), reason="Customer asked")
    with time_machine.travel(at(0, 30), tick=False):
        services.ticket_resolve(ticket=ticket, actor=john)
    assert sla_sweep(now=at(2)).breached == []


def test_a_due_date_set_by_hand_with_no_plan_is_breached_when_it_passes(karen, john) -> None:
    with time_machine.travel(at(), tick=False):
        ticket = ticket_open(karen)
        ticket = services.ticket_set_sla_plan(ticket=ticket, actor=john, sla_plan=None)
        ticket = services.ticket_set_due(ticket=ticket, actor=john, due_at=at(1), reason="Customer asked")
    assert ticket.due_at == at(1)
    assert len(sla_sweep(now=at(1)).breached) == 1


def test_check_sla_runs_one_sweep_and_says_what_it_did(karen, one_hour) -> None:
    ticket = opened(karen, one_hour)
    out = io.StringIO()
    with time_machine.travel(at(2), tick=False):
        call_command("check_sla", stdout=out)
    text = out.getvalue()
    assert "Breached 2 clocks on 1 ticket" in text
    assert f"#{ticket.number}" in text
    out = io.StringIO()
    with time_machine.travel(at(2, 1), tick=False):
        call_command("check_sla", stdout=out)
    assert "Nothing was due" in out.getvalue()


def test_check_sla_dry_run_lists_what_is_due_and_changes_nothing(karen, one_hour) -> None:
    ticket = opened(karen, one_hour)
    out = io.StringIO()
    with time_machine.travel(at(2), tick=False):
        call_command("check_sla", "--dry-run", stdout=out)
    assert f"#{ticket.number}" in out.getvalue()
    assert "Would breach 2 clocks on 1 ticket" in out.getvalue()
    assert "Would warn 0 clocks" in out.getvalue()
    assert not ticket.events.filter(kind=EventKind.OVERDUE).exists()


def test_overdue_alerts_switched_off_for_a_department_are_not_planned_but_the_breach_is_recorded(
    karen, support, online_banking, jane, one_hour
) -> None:
    from notifications.models import NotificationSetting

    NotificationSetting.objects.create(kind=NotificationKind.OVERDUE_ALERT, department=support, enabled=False)
    quiet = opened(karen, one_hour)
    loud = opened(karen, one_hour, department=online_banking, assignee=jane)
    sla_sweep(now=at(2))
    assert quiet.events.filter(kind=EventKind.OVERDUE).count() == 2
    assert alerted(quiet, EventKind.OVERDUE) == set()
    assert alerted(loud, EventKind.OVERDUE) == {"jane@example.com", "admin@example.com"}
    NotificationSetting.objects.create(kind=NotificationKind.OVERDUE_ALERT, department=None, enabled=False)
    again = opened(karen, one_hour, department=online_banking, assignee=jane)
    sla_sweep(now=at(2))
    assert alerted(again, EventKind.OVERDUE) == set()
