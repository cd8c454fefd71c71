"""The SLA configuration through the REST API: /api/v1/schedules/ and /api/v1/sla-plans/."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from rest_framework.test import APIClient

from accounts.models import User
from sla.models import Schedule, SLAPlan
from tests.factories import ticket_open

pytestmark = pytest.mark.django_db

BERLIN_OFFICE = {
    "name": "Berlin office",
    "timezone": "Europe/Berlin",
    "intervals": [{"weekday": d, "start": "09:00", "end": "17:00"} for d in range(5)],
    "holidays": [{"date": "2026-12-25", "name": "Christmas Day"}],
}


def api(user: User | None = None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


@pytest.fixture
def berlin(admin) -> dict:
    response = api(admin).post("/api/v1/schedules/", BERLIN_OFFICE, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def plan_body(**overrides) -> dict:
    return {
        "name": "Gold",
        "schedule": None,
        "first_response_minutes": 60,
        "resolution_minutes": 480,
        "next_response_minutes": None,
        "pause_statuses": [],
        "warn_at_percent": 80,
        "active": True,
        **overrides,
    }


def test_an_admin_creates_a_schedule_and_reads_it_back_in_the_same_shape(berlin) -> None:
    assert {k: berlin[k] for k in BERLIN_OFFICE} == {
        **BERLIN_OFFICE,
        "holidays": [{"date": "2026-12-25", "name": "Christmas Day", "end_date": None}],
    }
    assert Schedule.objects.get(pk=berlin["id"]).intervals.count() == 5


def test_an_interval_to_midnight_is_written_and_read_as_24_00(admin) -> None:
    body = {"name": "Evenings", "timezone": "UTC", "intervals": [{"weekday": 5, "start": "18:00", "end": "24:00"}]}
    response = api(admin).post("/api/v1/schedules/", body, format="json")
    assert response.status_code == 201
    assert response.json()["intervals"] == [{"weekday": 5, "start": "18:00", "end": "24:00"}]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
        ({"intervals": [{"weekday": 0, "start": "22:00", "end": "02:00"}]}, "intervals"),
        (
            {
                "intervals": [
                    {"weekday": 0, "start": "09:00", "end": "12:00"},
                    {"weekday": 0, "start": "11:00", "end": "13:00"},
                ]
            },
            "intervals",
        ),
        ({"intervals": [{"weekday": 7, "start": "09:00", "end": "17:00"}]}, "intervals"),
        ({"intervals": [{"weekday": 0, "start": "9am", "end": "17:00"}]}, "intervals"),
        ({"holidays": [{"date": "2026-12-27", "end_date": "2026-12-24"}]}, "holidays"),
        ({"name": ""}, "name"),
    ],
)
def test_a_bad_schedule_gets_a_400_naming_the_field_and_nothing_is_saved(admin, change, field) -> None:
    response = api(admin).post("/api/v1/schedules/", {**BERLIN_OFFICE, **change}, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not Schedule.objects.filter(name="Berlin office").exists()


def test_overlapping_intervals_are_named_in_the_error(admin) -> None:
    body = {
        **BERLIN_OFFICE,
        "intervals": [
            {"weekday": 0, "start": "09:00", "end": "12:00"},
            {"weekday": 0, "start": "11:00", "end": "13:00"},
        ],
    }
    response = api(admin).post("/api/v1/schedules/", body, format="json")
    assert response.json() == {"intervals": ["Monday: intervals overlap."]}


def test_a_schedule_name_is_unique(admin, berlin) -> None:
    response = api(admin).post("/api/v1/schedules/", {**BERLIN_OFFICE, "name": "berlin OFFICE"}, format="json")
    assert response.status_code == 400 and "name" in response.json()


def test_an_admin_patches_a_schedule(admin, berlin) -> None:
    response = api(admin).patch(f"/api/v1/schedules/{berlin['id']}/", {"timezone": "America/New_York"}, format="json")
    assert response.status_code == 200
    assert response.json()["timezone"] == "America/New_York"
    assert len(response.json()["intervals"]) == 5


def test_a_schedule_a_plan_counts_in_cannot_be_deleted(admin, berlin) -> None:
    response = api(admin).post("/api/v1/sla-plans/", plan_body(schedule=berlin["id"]), format="json")
    assert response.status_code == 201
    response = api(admin).delete(f"/api/v1/schedules/{berlin['id']}/")
    assert response.status_code == 409
    assert "Gold" in response.json()["detail"]


def test_an_unused_schedule_is_deleted(admin, berlin) -> None:
    assert api(admin).delete(f"/api/v1/schedules/{berlin['id']}/").status_code == 204
    assert not Schedule.objects.filter(pk=berlin["id"]).exists()


def test_an_admin_creates_a_plan_and_reads_it_back(admin, berlin, statuses) -> None:
    body = plan_body(schedule=berlin["id"], pause_statuses=[statuses["waiting"].pk])
    response = api(admin).post("/api/v1/sla-plans/", body, format="json")
    assert response.status_code == 201, response.json()
    plan = response.json()
    assert {k: plan[k] for k in body} == body
    assert api(admin).get(f"/api/v1/sla-plans/{plan['id']}/").json() == plan


def test_a_plan_may_carry_targets_per_priority(admin) -> None:
    body = plan_body(priority_targets=[{"priority": "Emergency", "resolution_minutes": 60}])
    plan = api(admin).post("/api/v1/sla-plans/", body, format="json").json()
    assert plan["priority_targets"] == [
        {
            "priority": "Emergency",
            "first_response_minutes": None,
            "resolution_minutes": 60,
            "next_response_minutes": None,
        }
    ]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"resolution_minutes": -5}, "resolution_minutes"),
        ({"first_response_minutes": 0}, "first_response_minutes"),
        ({"first_response_minutes": None, "resolution_minutes": None}, "resolution_minutes"),
        ({"warn_at_percent": 120}, "warn_at_percent"),
        ({"schedule": 99999}, "schedule"),
        ({"pause_statuses": [99999]}, "pause_statuses"),
        ({"name": "Sev-A"}, "name"),
        ({"active": False, "is_default": True}, "is_active"),
        ({"priority_targets": [{"priority": "Whenever", "resolution_minutes": 60}]}, "priority_targets"),
    ],
)
def test_a_bad_plan_gets_a_400_naming_the_field_and_nothing_is_saved(admin, change, field) -> None:
    response = api(admin).post("/api/v1/sla-plans/", plan_body(**change), format="json")
    assert response.status_code == 400
    assert field in response.json(), response.json()
    assert not SLAPlan.objects.filter(name="Gold").exists()


def test_a_closed_status_cannot_pause_a_plan(admin, statuses) -> None:
    response = api(admin).post("/api/v1/sla-plans/", plan_body(pause_statuses=[statuses["closed"].pk]), format="json")
    assert response.status_code == 400
    assert "Closed" in response.json()["pause_statuses"][0]


def test_patching_a_plan_changes_only_what_is_sent(admin, plans) -> None:
    sev_b = plans["Sev-B"]
    response = api(admin).patch(f"/api/v1/sla-plans/{sev_b.pk}/", {"first_response_minutes": 30}, format="json")
    assert response.status_code == 200
    assert (response.json()["first_response_minutes"], response.json()["resolution_minutes"]) == (30, 240)


def test_a_plan_in_use_is_deactivated_not_deleted(admin, karen, plans) -> None:
    ticket_open(karen, sla_plan=plans["Sev-A"])
    response = api(admin).delete(f"/api/v1/sla-plans/{plans['Sev-A'].pk}/")
    assert response.status_code == 200
    assert response.json()["active"] is False
    assert SLAPlan.objects.filter(name="Sev-A", is_active=False).exists()


def test_an_unused_plan_is_deleted_and_the_default_one_is_kept(admin, plans) -> None:
    unused = api(admin).post("/api/v1/sla-plans/", plan_body(), format="json").json()
    assert api(admin).delete(f"/api/v1/sla-plans/{unused['id']}/").status_code == 204
    response = api(admin).delete(f"/api/v1/sla-plans/{plans['Default SLA'].pk}/")
    assert response.status_code == 409
    assert SLAPlan.objects.filter(name="Default SLA", is_active=True).exists()


def test_the_preview_answers_when_each_target_falls_due_in_utc(admin, berlin) -> None:
    plan = api(admin).post("/api/v1/sla-plans/", plan_body(schedule=berlin["id"]), format="json").json()
    body = {
        "opened_at": "2026-03-06T16:00:00+01:00",  # a Friday, 16:00 in Berlin
        "paused": [{"from": "2026-03-09T09:00:00+01:00", "to": "2026-03-09T10:00:00+01:00"}],
        "priority": None,
    }
    response = api(admin).post(f"/api/v1/sla-plans/{plan['id']}/preview/", body, format="json")
    assert response.status_code == 200, response.json()
    # First response (1 h) Friday 17:00 Berlin; resolution (8 h): 1 h on Friday, the Monday
    # pause, then 7 h from 10:00 Monday, so 17:00 Monday Berlin.
    assert response.json() == {
        "first_response_due_at": "2026-03-06T16:00:00Z",
        "resolution_due_at": "2026-03-09T16:00:00Z",
    }


def test_the_preview_uses_the_priority_s_own_targets(admin, plans) -> None:
    body = plan_body(priority_targets=[{"priority": "Emergency", "resolution_minutes": 30}])
    plan = api(admin).post("/api/v1/sla-plans/", body, format="json").json()
    response = api(admin).post(
        f"/api/v1/sla-plans/{plan['id']}/preview/",
        {"opened_at": "2026-03-03T08:00:00Z", "priority": "Emergency"},
        format="json",
    )
    assert response.json()["resolution_due_at"] == "2026-03-03T08:30:00Z"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"opened_at": "2026-03-03T08:00:00Z", "paused": [{"from": "2026-03-03T10:00:00Z", "to": "2026-03-03T09:00:00Z"}]}, "paused"),
        ({"opened_at": "yesterday"}, "opened_at"),
        ({"opened_at": "2026-03-03T08:00:00Z", "priority": "Whenever"}, "priority"),
        ({}, "opened_at"),
    ],
)  # fmt: skip
def test_a_bad_preview_gets_a_400_naming_the_field(admin, plans, body, field) -> None:
    response = api(admin).post(f"/api/v1/sla-plans/{plans['Sev-A'].pk}/preview/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()


def test_agents_read_the_configuration_but_may_not_change_or_preview_it(john, plans, berlin) -> None:
    assert api(john).get("/api/v1/sla-plans/").status_code == 200
    assert api(john).get(f"/api/v1/schedules/{berlin['id']}/").status_code == 200
    assert api(john).post("/api/v1/sla-plans/", plan_body(), format="json").status_code == 403
    assert api(john).patch(f"/api/v1/schedules/{berlin['id']}/", {"name": "Mine"}, format="json").status_code == 403
    assert api(john).delete(f"/api/v1/sla-plans/{plans['Sev-A'].pk}/").status_code == 403
    preview = api(john).post(f"/api/v1/sla-plans/{plans['Sev-A'].pk}/preview/", {"opened_at": "2026-03-03T08:00:00Z"})
    assert preview.status_code == 403


def test_end_users_and_strangers_get_nothing(karen, plans) -> None:
    assert api(karen).get("/api/v1/sla-plans/").status_code == 403
    assert api(karen).get("/api/v1/schedules/").status_code == 403
    assert api().get("/api/v1/sla-plans/").status_code in (401, 403)


def test_the_lists_cost_a_fixed_number_of_queries(admin, john, django_assert_num_queries, berlin, statuses) -> None:
    for i in range(5):
        body = plan_body(name=f"Plan {i}", schedule=berlin["id"], pause_statuses=[statuses["waiting"].pk])
        api(admin).post(
            "/api/v1/sla-plans/",
            {**body, "priority_targets": [{"priority": "High", "resolution_minutes": 9}]},
            format="json",
        )
        api(admin).post("/api/v1/schedules/", {**BERLIN_OFFICE, "name": f"Office {i}"}, format="json")
    client = api(john)
    with django_assert_num_queries(4):  # plans, their pause statuses, their targets, those targets' priorities
        assert len(client.get("/api/v1/sla-plans/").json()) == 8
    with django_assert_num_queries(3):
        assert len(client.get("/api/v1/schedules/").json()) == 7  # with the seed's office hours


def test_an_edit_through_the_api_moves_the_due_dates_of_open_tickets(
    admin, karen, plans, django_capture_on_commit_callbacks
) -> None:
    t0 = datetime(2026, 3, 3, 8, 0, tzinfo=UTC)
    with time_machine.travel(t0, tick=False):
        ticket = ticket_open(karen, sla_plan=plans["Sev-B"])
    with time_machine.travel(t0 + timedelta(hours=1), tick=False), django_capture_on_commit_callbacks(execute=True):
        response = api(admin).patch(
            f"/api/v1/sla-plans/{plans['Sev-B'].pk}/", {"resolution_minutes": 120}, format="json"
        )
    assert response.status_code == 200
    ticket.refresh_from_db()
    assert ticket.due_at == t0 + timedelta(hours=2)


def test_the_openapi_schema_describes_the_sla_endpoints() -> None:
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    paths = [p for p in schema["paths"] if "sla-plans" in p or "schedules" in p]
    assert any(p.endswith("/sla-plans/{id}/preview/") for p in paths)
    assert any(p.endswith("/schedules/{id}/") for p in paths)
    preview = next(v for p, v in schema["paths"].items() if p.endswith("/preview/"))["post"]
    assert "PreviewIn" in str(preview["requestBody"]) and "PreviewOut" in str(preview["responses"])


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"opened_at": "9999-12-31T23:00:00Z"}, "opened_at"),
        ({"opened_at": "2026-03-03T08:00:00Z", "paused": [{"from": "2026-03-03T09:00:00Z", "to": "2126-03-03T09:00:00Z"}]}, "paused"),
    ],
)  # fmt: skip
def test_a_preview_out_of_bounds_is_a_400_not_a_crash(admin, plans, body, field) -> None:
    response = api(admin).post(f"/api/v1/sla-plans/{plans['Sev-A'].pk}/preview/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()


def test_a_holiday_range_longer_than_a_year_is_refused(admin) -> None:
    body = {**BERLIN_OFFICE, "holidays": [{"date": "2026-01-01", "end_date": "2030-01-01", "name": "Sabbatical"}]}
    response = api(admin).post("/api/v1/schedules/", body, format="json")
    assert response.status_code == 400
    assert "a year at most" in response.json()["holidays"][0]
