"""The admin pages of the staff panel: who may see them, what they cost, and what each
form says about bad input (beside the field, saving nothing)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import DepartmentMembership, Role, User
from api.models import ApiKey
from api.services import api_key_create
from sla.models import Schedule, SLAPlan, SLAPriorityTarget
from tests.conftest import PASSWORD
from tests.factories import ticket_open
from tickets.models import Department, HelpTopic, Priority, Status

pytestmark = pytest.mark.django_db

LISTS = ["plans", "schedules", "reports", "departments", "topics", "priorities", "statuses", "agents", "api_keys"]
NEW = [
    "plan_new",
    "schedule_new",
    "department_new",
    "topic_new",
    "priority_new",
    "status_new",
    "agent_new",
    "api_key_new",
]


def formset(prefix: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """A table of rows as the browser posts it: every row counted as one the page showed."""
    data: dict[str, Any] = {
        f"{prefix}-TOTAL_FORMS": str(len(rows)),
        f"{prefix}-INITIAL_FORMS": str(len(rows)),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }
    for i, row in enumerate(rows):
        data.update({f"{prefix}-{i}-{key}": value for key, value in row.items()})
    return data


@pytest.fixture
def as_admin(client: Client, admin: User) -> Client:
    client.force_login(admin)
    return client


def office_days(start: str = "09:00", end: str = "17:00", days: range = range(5)) -> list[dict[str, Any]]:
    return [{"weekday": str(d), "start": start, "end": end} for d in days]


def schedule_post(name: str = "Berlin office", timezone: str = "Europe/Berlin", intervals=None, holidays=()) -> dict:
    return {
        "name": name,
        "timezone": timezone,
        **formset("intervals", office_days() if intervals is None else intervals),
        **formset("holidays", list(holidays)),
    }


def plan_post(**overrides: Any) -> dict[str, Any]:
    data = {
        "name": "Gold",
        "schedule": "",
        "first_response_minutes": "60",
        "resolution_minutes": "480",
        "next_response_minutes": "",
        "warn_at_percent": "75",
        "breach_reassign_to": "",
        "is_active": "on",
        **formset("targets", []),
    }
    data.update(overrides)
    return data


# ---------------------------------------------------------------- who may see them


@pytest.mark.parametrize("name", ["home", *LISTS, *NEW])
def test_admins_see_every_admin_page(as_admin: Client, name: str) -> None:
    assert as_admin.get(reverse(f"adminpanel:{name}")).status_code == 200


@pytest.mark.parametrize("name", ["home", *LISTS, *NEW])
def test_agents_and_end_users_get_a_404_and_strangers_the_sign_in(client, john, karen, name: str) -> None:
    url = reverse(f"adminpanel:{name}")
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("staff:login"))
    for person in (john, karen):
        client.force_login(person)
        assert client.get(url).status_code == 404
    assert client.post(url, {"name": "Sneaky"}).status_code == 404


def test_an_agent_cannot_post_to_an_admin_action(client, john, plans) -> None:
    client.force_login(john)
    assert client.post(reverse("adminpanel:plan_delete", args=[plans["Sev-A"].pk])).status_code == 404
    assert SLAPlan.objects.filter(name="Sev-A", is_active=True).exists()


def test_the_staff_sign_in_leads_an_admin_to_the_admin_pages(client, admin) -> None:
    response = client.post(
        reverse("staff:login") + "?next=" + reverse("adminpanel:plans"),
        {"username": admin.email, "password": PASSWORD},
    )
    assert response.status_code == 302 and response["Location"] == reverse("adminpanel:plans")


# ---------------------------------------------------------------- what they cost


def _more_of_everything(admin: User, support: Department) -> None:
    role = Role.objects.get(name="Agent")
    for i in range(6):
        schedule = Schedule.objects.create(name=f"Shift {i}", timezone="UTC")
        schedule.intervals.create(weekday=i % 7, start="08:00", end="12:00")
        schedule.holidays.create(date="2026-12-25")
        plan = SLAPlan.objects.create(name=f"Plan {i}", schedule=schedule, resolution_minutes=60 + i)
        SLAPriorityTarget.objects.create(plan=plan, priority=Priority.objects.first(), resolution_minutes=30)
        department = Department.objects.create(name=f"Dept {i}", manager=admin, default_sla_plan=plan)
        agent = User.objects.create_user(f"agent{i}@example.com", name=f"Agent {i}", kind=User.Kind.AGENT)
        DepartmentMembership.objects.create(agent=agent, department=department, role=role, is_primary=True)
        DepartmentMembership.objects.create(agent=agent, department=support, role=role)
        HelpTopic.objects.create(name=f"Topic {i}", department=department, sla_plan=plan, auto_assign_to=agent)
        Priority.objects.create(name=f"P{i}", urgency=10 + i)
        status = Status.objects.create(name=f"Custom {i}", state="open", order=10 + i)
        plan.pause_statuses.add(status)
        api_key_create(name=f"Key {i}", allowed_addresses="10.0.0.0/8")


@pytest.mark.parametrize("name", LISTS)
def test_each_list_page_costs_the_same_queries_however_long_it_is(
    as_admin: Client, admin, support, name: str, django_assert_num_queries
) -> None:
    url = reverse(f"adminpanel:{name}")
    as_admin.get(url)  # warm the session and the content types
    with CaptureQueriesContext(connection) as before:
        as_admin.get(url)
    _more_of_everything(admin, support)
    with django_assert_num_queries(len(before.captured_queries)):
        response = as_admin.get(url)
    assert response.status_code == 200
    assert len(before.captured_queries) <= 8


# ---------------------------------------------------------------- schedules


def test_an_admin_creates_a_schedule_with_intervals_and_holidays(as_admin: Client) -> None:
    data = schedule_post(holidays=[{"date": "2026-12-24", "end_date": "2026-12-26", "name": "Christmas"}])
    response = as_admin.post(reverse("adminpanel:schedule_new"), data)
    schedule = Schedule.objects.get(name="Berlin office")
    assert response.status_code == 302 and response["Location"] == reverse("adminpanel:schedule", args=[schedule.pk])
    assert schedule.intervals.count() == 5
    assert len(schedule.calendar().holidays) == 3


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (schedule_post(timezone="Mars/Olympus_Mons"), "Unknown time zone"),
        (schedule_post(intervals=[{"weekday": "0", "start": "22:00", "end": "02:00"}]), "split a night shift at midnight"),
        (
            schedule_post(
                intervals=[{"weekday": "0", "start": "09:00", "end": "12:00"}, {"weekday": "0", "start": "11:00", "end": "13:00"}]
            ),
            "Monday: 09:00-12:00 and 11:00-13:00 overlap.",
        ),
        (schedule_post(intervals=[]), "Give at least one open interval."),
        (schedule_post(holidays=[{"date": "2026-12-27", "end_date": "2026-12-24", "name": ""}]), "cannot be before the first"),
        (schedule_post(name=""), "This field is required."),
    ],
)  # fmt: skip
def test_a_bad_schedule_is_explained_beside_the_field_and_nothing_saved(as_admin: Client, data, message) -> None:
    response = as_admin.post(reverse("adminpanel:schedule_new"), data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Schedule.objects.exclude(name__startswith="Office hours").exists()


def test_a_schedule_in_use_is_not_deleted(as_admin: Client) -> None:
    schedule = Schedule.objects.get(name__startswith="Office hours")
    SLAPlan.objects.create(name="Office plan", schedule=schedule, resolution_minutes=60)
    response = as_admin.post(reverse("adminpanel:schedule_delete", args=[schedule.pk]), follow=True)
    assert "used by Office plan" in response.content.decode()
    assert Schedule.objects.filter(pk=schedule.pk).exists()


def test_editing_a_schedule_recomputes_open_tickets_in_the_background(
    as_admin: Client, karen, django_capture_on_commit_callbacks
) -> None:
    schedule = Schedule.objects.get(name__startswith="Office hours")
    plan = SLAPlan.objects.create(name="Office plan", schedule=schedule, resolution_minutes=8 * 60)
    with time_machine.travel(datetime(2026, 3, 3, 9, 0, tzinfo=UTC), tick=False):  # Tuesday 09:00
        ticket = ticket_open(karen, sla_plan=plan)
    assert ticket.due_at == datetime(2026, 3, 3, 17, 0, tzinfo=UTC)
    data = schedule_post(name=schedule.name, timezone="UTC", intervals=office_days("09:00", "13:00"))
    with (
        time_machine.travel(datetime(2026, 3, 3, 9, 0, tzinfo=UTC), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = as_admin.post(reverse("adminpanel:schedule", args=[schedule.pk]), data, follow=True)
    assert "being recomputed in the background" in response.content.decode()
    ticket.refresh_from_db()
    assert ticket.due_at == datetime(2026, 3, 4, 13, 0, tzinfo=UTC)  # four hours a day now


# ---------------------------------------------------------------- plans


def test_an_admin_creates_a_plan_with_targets_per_priority(as_admin: Client, priorities, statuses) -> None:
    data = plan_post(
        pause_statuses=[str(statuses["waiting"].pk)],
        **formset("targets", [{"priority": str(priorities["Emergency"].pk), "resolution_minutes": "60"}]),
    )
    response = as_admin.post(reverse("adminpanel:plan_new"), data)
    plan = SLAPlan.objects.get(name="Gold")
    assert response.status_code == 302
    assert plan.targets_for(priorities["Emergency"].pk)["resolution"] == 3600
    assert plan.targets_for(priorities["Low"].pk)["resolution"] == 480 * 60
    assert list(plan.pause_statuses.all()) == [statuses["waiting"]]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"resolution_minutes": "-5"}, "Ensure this value is greater than or equal to 1."),
        ({"first_response_minutes": "", "resolution_minutes": ""}, "Set a first-response or a resolution target."),
        ({"warn_at_percent": "150"}, "Ensure this value is less than or equal to 99."),
        ({"name": "Sev-A"}, "is already taken"),
        ({"is_active": "", "is_default": "on"}, "The default plan must be active."),
    ],
)
def test_a_bad_plan_is_explained_beside_the_field_and_nothing_saved(as_admin: Client, overrides, message) -> None:
    before = SLAPlan.objects.count()
    response = as_admin.post(reverse("adminpanel:plan_new"), plan_post(**overrides))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert SLAPlan.objects.count() == before


def test_a_priority_listed_twice_is_refused(as_admin: Client, priorities) -> None:
    rows = [{"priority": str(priorities["High"].pk), "resolution_minutes": "60"}] * 2
    response = as_admin.post(reverse("adminpanel:plan_new"), plan_post(**formset("targets", rows)))
    assert response.status_code == 400
    assert "High is listed twice." in response.content.decode()


def test_a_closed_status_cannot_pause_the_clocks(as_admin: Client, statuses) -> None:
    response = as_admin.post(reverse("adminpanel:plan_new"), plan_post(pause_statuses=[str(statuses["closed"].pk)]))
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()


def test_editing_a_plan_moves_the_due_dates_of_its_open_tickets(
    as_admin: Client, karen, plans, django_capture_on_commit_callbacks
) -> None:
    sev_b = plans["Sev-B"]
    t0 = datetime(2026, 3, 3, 8, 0, tzinfo=UTC)
    with time_machine.travel(t0, tick=False):
        ticket = ticket_open(karen, sla_plan=sev_b)
    data = plan_post(name="Sev-B", first_response_minutes="", resolution_minutes="120", warn_at_percent="75")
    with time_machine.travel(t0 + timedelta(minutes=30), tick=False), django_capture_on_commit_callbacks(execute=True):
        response = as_admin.post(reverse("adminpanel:plan", args=[sev_b.pk]), data, follow=True)
    assert "being recomputed" in response.content.decode()
    ticket.refresh_from_db()
    assert ticket.due_at == t0 + timedelta(hours=2)


def test_a_plan_in_use_is_deactivated_rather_than_deleted(as_admin: Client, karen, plans) -> None:
    ticket_open(karen, sla_plan=plans["Sev-A"])
    response = as_admin.post(reverse("adminpanel:plan_delete", args=[plans["Sev-A"].pk]), follow=True)
    assert "deactivated instead of deleted" in response.content.decode()
    assert SLAPlan.objects.get(name="Sev-A").is_active is False


def test_the_default_plan_cannot_be_deleted(as_admin: Client, plans) -> None:
    response = as_admin.post(reverse("adminpanel:plan_delete", args=[plans["Default SLA"].pk]), follow=True)
    assert "make another plan the default first" in response.content.decode()


def preview(client: Client, plan: SLAPlan, **params: str) -> Any:
    query = {"opened_at": "2026-03-06T16:00", "timezone": "Europe/Berlin", "priority": "", **formset("pauses", [])}
    query.update(params)
    return client.get(reverse("adminpanel:plan_preview", args=[plan.pk]), query)


def test_the_preview_shows_when_each_target_falls_due_and_the_time_counted(as_admin: Client) -> None:
    office = Schedule.objects.create(name="Berlin", timezone="Europe/Berlin")
    for day in range(5):
        office.intervals.create(weekday=day, start="09:00", end="17:00")
    plan = SLAPlan.objects.create(name="Office", schedule=office, first_response_minutes=60, resolution_minutes=480)
    response = preview(
        as_admin,
        plan,
        **formset("pauses", [{"start": "2026-03-09T09:00", "end": "2026-03-09T10:00"}]),
    )
    page = response.content.decode()
    assert response.status_code == 200
    # Friday 16:00 Berlin: first response due 17:00 Friday; resolution 1 h Friday, the
    # Monday 09-10 pause, 7 h more: 17:00 Monday.
    assert "Fri 06 Mar 2026, 17:00 CET" in page and "2026-03-06 16:00" in page
    assert "Mon 09 Mar 2026, 17:00 CET" in page and "2026-03-09 16:00" in page
    assert "Fri 06 Mar 16:00 \N{EN DASH} Fri 06 Mar 17:00: 1 h 00 min" in page
    assert "Paused" in page and "1 h 00 min" in page


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (formset("pauses", [{"start": "2026-03-06T18:00", "end": "2026-03-06T17:00"}]), "A pause must end after it starts."),
        ({"opened_at": "next friday"}, "Enter a valid date/time."),
        ({"timezone": "Mars/Base"}, "Select a valid choice."),
    ],
)  # fmt: skip
def test_a_bad_preview_is_explained_beside_the_field(as_admin: Client, plans, params, message) -> None:
    response = preview(as_admin, plans["Sev-A"], **params)
    assert response.status_code == 400
    assert message in response.content.decode()


# ---------------------------------------------------------------- departments and help topics


def test_an_admin_creates_a_department_with_members(as_admin: Client, john, jane, plans) -> None:
    role = Role.objects.get(name="Manager")
    data = {
        "name": "Networks",
        "manager": str(john.pk),
        "default_sla_plan": str(plans["Sev-B"].pk),
        "auto_response": "on",
        "email_address": "networks@example.com",
        "is_active": "on",
        **formset("members", [{"agent": str(jane.pk), "role": str(role.pk), "is_available": "on"}]),
    }
    response = as_admin.post(reverse("adminpanel:department_new"), data)
    assert response.status_code == 302
    department = Department.objects.get(name="Networks")
    assert (department.manager, department.default_sla_plan) == (john, plans["Sev-B"])
    membership = DepartmentMembership.objects.get(department=department)
    assert (membership.agent, membership.role, membership.is_primary) == (jane, role, False)  # Jane keeps her primary


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"name": "support"}, "There is already a department named"),
        ({"email_address": "not-an-address"}, "Enter a valid email address."),
        ({"name": ""}, "This field is required."),
    ],
)
def test_a_bad_department_is_explained_beside_the_field(as_admin: Client, overrides, message) -> None:
    data = {"name": "Networks", "auto_response": "on", "is_active": "on", **formset("members", []), **overrides}
    response = as_admin.post(reverse("adminpanel:department_new"), data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Department.objects.filter(name="Networks").exists()


def test_an_agent_listed_twice_in_a_department_is_refused(as_admin: Client, support, john) -> None:
    role = Role.objects.get(name="Agent")
    rows = [{"agent": str(john.pk), "role": str(role.pk)}] * 2
    data = {"name": "Support", "is_active": "on", **formset("members", rows)}
    response = as_admin.post(reverse("adminpanel:department", args=[support.pk]), data)
    assert response.status_code == 400
    assert "John Doe is listed twice." in response.content.decode()


def test_removing_a_member_takes_away_their_access(as_admin: Client, support, admin, john) -> None:
    role = Role.objects.get(name="Manager")
    data = {
        "name": "Support",
        "manager": str(admin.pk),
        "auto_response": "on",
        "is_active": "on",
        **formset("members", [{"agent": str(admin.pk), "role": str(role.pk), "is_available": "on"}]),
    }
    assert as_admin.post(reverse("adminpanel:department", args=[support.pk]), data).status_code == 302
    assert not DepartmentMembership.objects.filter(agent=john, department=support).exists()


def topic_post(department: Department, **overrides: Any) -> dict[str, Any]:
    return {
        "name": "Network outage",
        "department": str(department.pk),
        "is_public": "on",
        "is_active": "on",
        **overrides,
    }


def test_an_admin_creates_a_help_topic_that_assigns_in_turn(as_admin: Client, support, plans) -> None:
    response = as_admin.post(
        reverse("adminpanel:topic_new"), topic_post(support, sla_plan=str(plans["Sev-A"].pk), round_robin="on")
    )
    assert response.status_code == 302
    topic = HelpTopic.objects.get(name="Network outage")
    assert topic.round_robin and topic.sla_plan == plans["Sev-A"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"round_robin": "on", "auto_assign_to": "JOHN"}, "Assign to one agent or in turn, not both."),
        ({"auto_assign_to": "JANE"}, "Jane Doe is not an agent of Support"),
        ({"name": "report a problem"}, "There is already a help topic named"),
    ],
)
def test_a_bad_help_topic_is_explained_beside_the_field(
    as_admin: Client, support, john, jane, overrides, message
) -> None:
    people = {"JOHN": str(john.pk), "JANE": str(jane.pk)}
    data = topic_post(support, **{k: people.get(v, v) for k, v in overrides.items()})
    response = as_admin.post(reverse("adminpanel:topic_new"), data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not HelpTopic.objects.filter(name="Network outage").exists()


# ---------------------------------------------------------------- priorities and statuses


def test_an_admin_adds_a_priority_and_makes_it_the_default(as_admin: Client) -> None:
    data = {"name": "Routine", "urgency": "5", "color": "info", "is_default": "on"}
    assert as_admin.post(reverse("adminpanel:priority_new"), data).status_code == 302
    assert Priority.objects.get(is_default=True).name == "Routine"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "Routine", "urgency": "1", "color": "info"}, "Emergency already has urgency 1"),
        ({"name": "Routine", "urgency": "0", "color": "info"}, "Ensure this value is greater than or equal to 1."),
        ({"name": "Routine", "urgency": "5", "color": "pink"}, "Select a valid choice."),
        ({"name": "high", "urgency": "5", "color": "info"}, "There is already a priority named"),
    ],
)
def test_a_bad_priority_is_explained_beside_the_field(as_admin: Client, data, message) -> None:
    response = as_admin.post(reverse("adminpanel:priority_new"), data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Priority.objects.filter(name="Routine").exists()


def test_an_admin_adds_a_status_that_pauses_a_plan(as_admin: Client, plans) -> None:
    data = {"name": "Waiting on vendor", "state": "waiting", "order": "5", "pauses_plans": [str(plans["Sev-B"].pk)]}
    assert as_admin.post(reverse("adminpanel:status_new"), data).status_code == 302
    status = Status.objects.get(name="Waiting on vendor")
    assert status in plans["Sev-B"].pause_statuses.all()
    assert status not in plans["Sev-A"].pause_statuses.all()


def test_a_status_stops_pausing_a_plan_when_unticked(as_admin: Client, plans, statuses) -> None:
    waiting = statuses["waiting"]
    data = {
        "name": waiting.name,
        "state": "waiting",
        "order": "1",
        "is_default": "on",
        "pauses_plans": [str(plans["Sev-A"].pk)],
    }
    assert as_admin.post(reverse("adminpanel:status", args=[waiting.pk]), data).status_code == 302
    assert waiting in plans["Sev-A"].pause_statuses.all()
    assert waiting not in plans["Sev-B"].pause_statuses.all()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "Archived", "state": "closed", "order": "9", "pauses_plans": ["SEV_A"]}, "Only open or waiting statuses can pause"),
        ({"name": "Archived", "state": "gone", "order": "9"}, "Select a valid choice."),
        ({"name": "open", "state": "open", "order": "9"}, "There is already a status named"),
    ],
)  # fmt: skip
def test_a_bad_status_is_explained_beside_the_field(as_admin: Client, plans, data, message) -> None:
    if data.get("pauses_plans"):
        data = {**data, "pauses_plans": [str(plans["Sev-A"].pk)]}
    response = as_admin.post(reverse("adminpanel:status_new"), data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Status.objects.filter(name="Archived").exists()


def test_the_state_of_a_status_in_use_cannot_change(as_admin: Client, karen, statuses) -> None:
    ticket_open(karen)
    opened = statuses["open"]
    data = {"name": opened.name, "state": "waiting", "order": "0", "is_default": "on"}
    response = as_admin.post(reverse("adminpanel:status", args=[opened.pk]), data)
    assert response.status_code == 400
    assert "its state cannot change" in response.content.decode()


# ---------------------------------------------------------------- agents


def test_an_admin_creates_an_agent_who_can_then_sign_in(as_admin: Client, support, client) -> None:
    role = Role.objects.get(name="Agent")
    data = {
        "name": "Nina Network",
        "email": "Nina@Example.com",
        "password": "a-long-and-unusual-passphrase",
        **formset("memberships", [{"department": str(support.pk), "role": str(role.pk), "is_available": "on"}]),
    }
    assert as_admin.post(reverse("adminpanel:agent_new"), data).status_code == 302
    nina = User.objects.get(email="nina@example.com")
    assert nina.is_agent and not nina.is_admin
    assert DepartmentMembership.objects.get(agent=nina).is_primary
    fresh = Client()
    response = fresh.post(
        reverse("staff:login"), {"username": "nina@example.com", "password": "a-long-and-unusual-passphrase"}
    )
    assert response.status_code == 302


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "Karen again", "email": "karen@example.com"}, "already belongs to an end user"),
        ({"name": "Nina", "email": "nina@example.com", "password": "short"}, "This password is too short."),
        ({"name": "Nina", "email": "not an address"}, "Enter a valid email address."),
    ],
)
def test_a_bad_agent_is_explained_beside_the_field(as_admin: Client, data, message) -> None:
    response = as_admin.post(reverse("adminpanel:agent_new"), {**data, **formset("memberships", [])})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not User.objects.filter(email="nina@example.com").exists()


def test_two_primary_departments_are_refused(as_admin: Client, john, support, online_banking) -> None:
    role = Role.objects.get(name="Agent")
    rows = [
        {"department": str(support.pk), "role": str(role.pk), "is_primary": "on"},
        {"department": str(online_banking.pk), "role": str(role.pk), "is_primary": "on"},
    ]
    data = {"name": john.name, "email": john.email, **formset("memberships", rows)}
    response = as_admin.post(reverse("adminpanel:agent", args=[john.pk]), data)
    assert response.status_code == 400
    assert "Only one department can be the primary one." in response.content.decode()


def test_an_admin_gives_an_agent_a_second_department_with_another_role(
    as_admin: Client, john, support, online_banking
) -> None:
    rows = [
        {
            "department": str(support.pk),
            "role": str(Role.objects.get(name="Agent").pk),
            "is_primary": "on",
            "is_available": "on",
        },
        {"department": str(online_banking.pk), "role": str(Role.objects.get(name="Read only").pk)},
    ]
    data = {"name": john.name, "email": john.email, **formset("memberships", rows)}
    assert as_admin.post(reverse("adminpanel:agent", args=[john.pk]), data).status_code == 302
    roles = {m.department.name: m.role.name for m in DepartmentMembership.objects.filter(agent=john)}
    assert roles == {"Support": "Agent", "Online Banking": "Read only"}


def test_a_deactivated_agent_cannot_sign_in_and_is_not_alerted(as_admin: Client, john) -> None:
    response = as_admin.post(reverse("adminpanel:agent_active", args=[john.pk]), {"active": "0"}, follow=True)
    assert "is deactivated" in response.content.decode()
    john.refresh_from_db()
    assert not john.is_active
    assert Client().post(reverse("staff:login"), {"username": john.email, "password": PASSWORD}).status_code == 200
    as_admin.post(reverse("adminpanel:agent_active", args=[john.pk]), {"active": "1"})
    john.refresh_from_db()
    assert john.is_active


def test_an_admin_cannot_lock_themselves_out(as_admin: Client, admin) -> None:
    response = as_admin.post(reverse("adminpanel:agent_active", args=[admin.pk]), {"active": "0"}, follow=True)
    assert "You cannot deactivate yourself." in response.content.decode()
    data = {"name": admin.name, "email": admin.email, **formset("memberships", [])}
    response = as_admin.post(reverse("adminpanel:agent", args=[admin.pk]), data)
    assert "You cannot take away your own admin rights." in response.content.decode()
    admin.refresh_from_db()
    assert admin.is_active and admin.is_admin


# ---------------------------------------------------------------- API keys


def test_a_new_api_key_is_shown_once_and_only_its_hash_is_kept(as_admin: Client) -> None:
    data = {"name": "Nagios", "allowed_addresses": "10.1.0.0/16, 192.0.2.7", "can_create_tickets": "on"}
    response = as_admin.post(reverse("adminpanel:api_key_new"), data)
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    api_key = ApiKey.objects.get(name="Nagios")
    key = response.context["key"]
    assert key in response.content.decode()
    assert api_key.key_hash == ApiKey.hash_key(key) and key not in api_key.key_hash
    assert api_key.allows_address("10.1.200.3") and api_key.allows_address("192.0.2.7")
    assert not api_key.allows_address("192.0.2.8")
    assert key not in as_admin.get(reverse("adminpanel:api_keys")).content.decode()
    assert key not in as_admin.get(reverse("adminpanel:api_key", args=[api_key.pk])).content.decode()


@pytest.mark.parametrize(
    ("addresses", "message"),
    [
        ("10.0.0.300", "is not an IP address or a CIDR range"),
        ("  ", "This field is required."),
        ("any", "is not an IP"),
    ],
)
def test_a_key_bound_to_no_valid_address_is_refused(as_admin: Client, addresses, message) -> None:
    response = as_admin.post(reverse("adminpanel:api_key_new"), {"name": "Nagios", "allowed_addresses": addresses})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not ApiKey.objects.filter(name="Nagios").exists()


def test_an_admin_revokes_a_key_and_rebinds_another(as_admin: Client) -> None:
    old, _ = api_key_create(name="Old monitor", allowed_addresses="127.0.0.1")
    other, _ = api_key_create(name="Scripts", allowed_addresses="127.0.0.1")
    as_admin.post(reverse("adminpanel:api_key_revoke", args=[old.pk]))
    old.refresh_from_db()
    assert not old.is_active
    data = {"name": "Scripts", "allowed_addresses": "203.0.113.0/24", "notes": "CI runners"}
    assert as_admin.post(reverse("adminpanel:api_key", args=[other.pk]), data).status_code == 302
    other.refresh_from_db()
    assert other.allows_address("203.0.113.9") and not other.allows_address("127.0.0.1")
    assert other.can_create_tickets is False


# ---------------------------------------------------------------- what users write is escaped


def test_names_are_escaped_wherever_the_admin_pages_show_them(as_admin: Client) -> None:
    SLAPlan.objects.create(name="<script>alert(1)</script>", resolution_minutes=60)
    page = as_admin.get(reverse("adminpanel:plans")).content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


DETAILS = ["plan", "schedule", "department", "topic", "priority", "status", "agent", "api_key", "plan_preview"]


def _detail_url(name: str, admin: User, support: Department) -> str:
    objects = {
        "plan": SLAPlan.objects.get(name="Default SLA"),
        "plan_preview": SLAPlan.objects.get(name="Default SLA"),
        "schedule": Schedule.objects.get(name__startswith="Office hours"),
        "department": support,
        "topic": HelpTopic.objects.get(name="Report a Problem"),
        "priority": Priority.objects.get(name="High"),
        "status": Status.objects.get(name="Open"),
        "agent": admin,
        "api_key": ApiKey.objects.get(name="Detail key"),
    }
    return reverse(f"adminpanel:{name}", args=[objects[name].pk])


def _grow(admin: User, support: Department) -> None:
    """More rows in every table a detail page shows: targets, intervals, holidays, members,
    memberships, and more choices in every drop-down."""
    _more_of_everything(admin, support)
    plan = SLAPlan.objects.get(name="Default SLA")
    for priority in Priority.objects.exclude(pk__in=plan.priority_targets.values("priority")):
        SLAPriorityTarget.objects.create(plan=plan, priority=priority, resolution_minutes=30)
    office = Schedule.objects.get(name__startswith="Office hours")
    office.intervals.create(weekday=5, start="09:00", end="12:00")
    office.holidays.create(date="2026-12-24", name="Christmas Eve")
    office.holidays.create(date="2026-12-31", name="New Year's Eve")
    role = Role.objects.get(name="Agent")
    for department in Department.objects.exclude(pk=support.pk):
        DepartmentMembership.objects.get_or_create(agent=admin, department=department, defaults={"role": role})


@pytest.mark.parametrize("name", DETAILS)
def test_each_detail_page_costs_the_same_queries_however_many_rows_it_shows(
    as_admin: Client, admin, support, name: str, django_assert_num_queries
) -> None:
    api_key_create(name="Detail key", allowed_addresses="127.0.0.1")
    url = _detail_url(name, admin, support)
    query = (
        {"opened_at": "2026-03-03T08:00", "timezone": "UTC", **formset("pauses", [])} if name == "plan_preview" else {}
    )
    as_admin.get(url, query)
    with CaptureQueriesContext(connection) as before:
        assert as_admin.get(url, query).status_code == 200
    _grow(admin, support)
    with django_assert_num_queries(len(before.captured_queries)):
        assert as_admin.get(url, query).status_code == 200
