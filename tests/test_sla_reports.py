"""SLA compliance figures: % met, breaches, median and 90th percentile business time, per
target, plan, department, agent and period (PostgreSQL computes the percentiles itself;
SQLite gets the same numbers from Python)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse

from sla.models import ClockTarget, SLAPlan
from sla.reports import duration, sla_compliance
from sla.services import sla_sweep
from tests.factories import ticket_open
from tickets import services

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 3, 8, 0, tzinfo=UTC)
DAY = (T0 - timedelta(hours=8), T0 + timedelta(hours=16))


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.fixture
def worked_day(karen, john, admin) -> SLAPlan:
    """Four tickets on a 30-minute first response / 60-minute resolution plan."""
    plan = SLAPlan.objects.create(name="Hour", first_response_minutes=30, resolution_minutes=60, warn_at_percent=None)
    with time_machine.travel(T0, tick=False):
        on_time = ticket_open(karen, sla_plan=plan, assignee=john, subject="On time")
        late = ticket_open(karen, sla_plan=plan, assignee=john, subject="Late")
        ticket_open(karen, sla_plan=plan, subject="Nobody answered")
        quick = ticket_open(karen, sla_plan=plan, assignee=admin, subject="Solved without a word")
    for minutes, action in [
        (10, lambda: services.ticket_reply(ticket=on_time, actor=john, body="On it")),
        (20, lambda: services.ticket_resolve(ticket=quick, actor=admin)),
        (40, lambda: services.ticket_reply(ticket=late, actor=john, body="Sorry for the wait")),
        (50, lambda: services.ticket_resolve(ticket=on_time, actor=john)),
        (120, lambda: services.ticket_resolve(ticket=late, actor=john)),
    ]:
        with time_machine.travel(at(minutes), tick=False):
            action()
    sla_sweep(now=at(31))  # breaches the first response of the ticket nobody answered, only
    return plan


def figures(group_by: str = "plan") -> dict[tuple[str, str], tuple]:
    return {
        (r.group, r.target): (r.decided, r.met_on_time, r.breaches, r.percent_met, r.median_seconds, r.p90_seconds)
        for r in sla_compliance(start=DAY[0], end=DAY[1], group_by=group_by)
    }


def test_compliance_per_plan_counts_met_late_and_breached_targets(worked_day) -> None:
    result = figures()
    # First response: met at 10 min (on time) and 40 min (late), breached and still open once;
    # the ticket resolved without a reply has no first-response outcome.
    assert result[("Hour", ClockTarget.FIRST_RESPONSE)] == (3, 1, 2, 33.3, 1500.0, pytest.approx(2220.0))
    # Resolution: 20 and 50 minutes on time, 120 minutes late.
    assert result[("Hour", ClockTarget.RESOLUTION)] == (3, 2, 1, 66.7, 3000.0, pytest.approx(6360.0))


def test_compliance_per_agent_and_department(worked_day) -> None:
    per_agent = figures("agent")
    assert per_agent[("John Doe", ClockTarget.RESOLUTION)][:3] == (2, 1, 1)
    assert per_agent[("Alex Admin", ClockTarget.RESOLUTION)][:3] == (1, 1, 0)
    assert per_agent[("Unassigned", ClockTarget.FIRST_RESPONSE)][:3] == (1, 0, 1)
    assert figures("department")[("Support", ClockTarget.FIRST_RESPONSE)][:3] == (3, 1, 2)


def test_compliance_per_period_counts_an_outcome_on_the_day_it_fell(worked_day) -> None:
    per_day = figures("day")
    assert set(per_day) == {("2026-03-03", ClockTarget.FIRST_RESPONSE), ("2026-03-03", ClockTarget.RESOLUTION)}
    assert sla_compliance(start=DAY[1], end=DAY[1] + timedelta(days=1), group_by="day") == []
    assert {k[0] for k in figures("month")} == {"2026-03"}


def test_an_unknown_grouping_is_refused() -> None:
    with pytest.raises(ValueError, match="Unknown grouping"):
        sla_compliance(start=DAY[0], end=DAY[1], group_by="colour")


def test_durations_read_as_business_time() -> None:
    assert [duration(s) for s in (None, 59, 1500, 3 * 3600 + 300, 2 * 86400 + 4 * 3600)] == [
        "—",
        "1 min",
        "25 min",
        "3 h 05 min",
        "2 d 4 h",
    ]


def test_the_compliance_page_shows_the_figures(client, admin, worked_day) -> None:
    client.force_login(admin)
    response = client.get(
        reverse("adminpanel:reports"), {"start": "2026-03-03", "end": "2026-03-03", "group_by": "plan"}
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert "33.3 %" in page and "66.7 %" in page and "25 min" in page and "50 min" in page


def test_the_compliance_page_explains_a_bad_period(client, admin) -> None:
    client.force_login(admin)
    response = client.get(
        reverse("adminpanel:reports"), {"start": "2026-03-05", "end": "2026-03-03", "group_by": "plan"}
    )
    assert response.status_code == 400
    assert "The end cannot be before the start." in response.content.decode()
