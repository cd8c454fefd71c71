"""Reference data through the REST API: agents read it, admins change it; end users read only
what they need (statuses, priorities, public help topics)."""

from __future__ import annotations

import pytest

from accounts.models import DepartmentMembership, Role, User
from tests.factories import ticket_open
from tests.test_api_helpers import client_as
from tickets.models import Department, HelpTopic, Priority, Status, TicketState

pytestmark = pytest.mark.django_db

LISTS = ["departments", "help-topics", "priorities", "statuses", "roles", "agents", "users"]
END_USER_LISTS = {"help-topics", "priorities", "statuses"}


@pytest.mark.parametrize("name", LISTS)
def test_each_list_answers_by_who_asks(name: str, admin: User, john: User, jane: User, karen: User) -> None:
    assert client_as(None).get(f"/api/v1/{name}/").status_code == 401
    for agent in (admin, john, jane):
        assert client_as(agent).get(f"/api/v1/{name}/").status_code == 200
    assert client_as(karen).get(f"/api/v1/{name}/").status_code == (200 if name in END_USER_LISTS else 403)


@pytest.mark.parametrize(
    ("name", "payload"),
    [
        ("departments", {"name": "Facilities"}),
        ("priorities", {"name": "Trivial", "urgency": 9}),
        ("statuses", {"name": "In progress", "state": "open"}),
        ("users", {"email": "new.person@example.org", "name": "New Person"}),
    ],
)
def test_only_admins_create(name: str, payload: dict, admin: User, john: User, karen: User) -> None:
    assert client_as(karen).post(f"/api/v1/{name}/", payload, format="json").status_code == 403
    assert client_as(john).post(f"/api/v1/{name}/", payload, format="json").status_code == 403
    response = client_as(admin).post(f"/api/v1/{name}/", payload, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["name"] == payload["name"]


def test_an_admin_creates_a_help_topic_and_end_users_see_it_once_public(
    admin: User, karen: User, support: Department, priorities: dict[str, Priority]
) -> None:
    created = client_as(admin).post(
        "/api/v1/help-topics/",
        {"name": "Hardware", "department": support.pk, "priority": priorities["High"].pk, "is_public": False},
        format="json",
    )
    assert created.status_code == 201
    topic_id = created.json()["id"]
    names = {t["name"] for t in client_as(karen).get("/api/v1/help-topics/").json()["results"]}
    assert "Hardware" not in names
    assert client_as(karen).get(f"/api/v1/help-topics/{topic_id}/").status_code == 404
    client_as(admin).patch(f"/api/v1/help-topics/{topic_id}/", {"is_public": True}, format="json")
    names = {t["name"] for t in client_as(karen).get("/api/v1/help-topics/").json()["results"]}
    assert "Hardware" in names


def test_a_new_default_takes_over_from_the_old_one(admin: User, priorities: dict[str, Priority]) -> None:
    response = client_as(admin).patch(
        f"/api/v1/priorities/{priorities['High'].pk}/", {"is_default": True}, format="json"
    )
    assert response.status_code == 200
    assert list(Priority.objects.filter(is_default=True).values_list("name", flat=True)) == ["High"]


def test_a_new_default_status_replaces_the_default_of_its_state_only(admin: User) -> None:
    response = client_as(admin).post(
        "/api/v1/statuses/", {"name": "Triaged", "state": "open", "is_default": True}, format="json"
    )
    assert response.status_code == 201
    defaults = dict(Status.objects.filter(is_default=True).values_list("state", "name"))
    assert defaults[TicketState.OPEN] == "Triaged"
    assert defaults[TicketState.CLOSED] == "Closed"


def test_duplicate_names_are_400_naming_the_field(admin: User) -> None:
    response = client_as(admin).post("/api/v1/departments/", {"name": "Support"}, format="json")
    assert response.status_code == 400
    assert "name" in response.json()


def test_deleting_what_tickets_use_is_409(admin: User, karen: User, support: Department) -> None:
    ticket_open(karen, "Uses Support")
    response = client_as(admin).delete(f"/api/v1/departments/{support.pk}/")
    assert response.status_code == 409
    assert Department.objects.filter(pk=support.pk).exists()


def test_deleting_what_nothing_uses_works(admin: User) -> None:
    spare = Priority.objects.create(name="Spare", urgency=42)
    assert client_as(admin).delete(f"/api/v1/priorities/{spare.pk}/").status_code == 204
    assert not Priority.objects.filter(pk=spare.pk).exists()


def test_an_admin_adds_an_agent_with_departments_and_roles(
    admin: User, support: Department, online_banking: Department
) -> None:
    agent_role = Role.objects.get(name="Agent")
    response = client_as(admin).post(
        "/api/v1/agents/",
        {
            "email": "sam@example.com",
            "name": "Sam Agent",
            "memberships": [
                {"department": online_banking.pk, "role": agent_role.pk},
                {"department": support.pk, "role": agent_role.pk, "is_primary": True},
            ],
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    sam = User.objects.get(email="sam@example.com")
    assert sam.is_agent and not sam.is_admin
    assert DepartmentMembership.objects.get(agent=sam, is_primary=True).department == support
    assert {m["department"]["name"] for m in response.json()["memberships"]} == {"Support", "Online Banking"}


def test_an_agent_needs_a_department(admin: User) -> None:
    response = client_as(admin).post(
        "/api/v1/agents/", {"email": "sam@example.com", "name": "Sam", "memberships": []}, format="json"
    )
    assert response.status_code == 400
    assert "memberships" in response.json()


def test_an_admin_moves_jane_to_support_and_deactivates_no_one_by_mistake(
    admin: User, jane: User, support: Department
) -> None:
    client = client_as(admin)
    role = Role.objects.get(name="Agent")
    response = client.patch(
        f"/api/v1/agents/{jane.pk}/", {"memberships": [{"department": support.pk, "role": role.pk}]}, format="json"
    )
    assert response.status_code == 200
    assert [m["department"]["name"] for m in response.json()["memberships"]] == ["Support"]
    refused = client.patch(f"/api/v1/agents/{admin.pk}/", {"is_active": False}, format="json")
    assert refused.status_code == 400
    assert "is_active" in refused.json()


def test_agents_and_users_lists_cost_fixed_queries(john: User, admin: User, django_assert_num_queries: object) -> None:
    client = client_as(john)
    # token, count, page, memberships with their departments and roles
    with django_assert_num_queries(4):  # type: ignore[operator]
        response = client.get("/api/v1/agents/")
    assert {a["email"] for a in response.json()["results"]} >= {"john@example.com", "jane@example.com"}
    for i in range(4):
        User.objects.create_user(f"agent{i}@example.com", name=f"Agent {i}", kind=User.Kind.AGENT)
    with django_assert_num_queries(4):  # type: ignore[operator]
        client.get("/api/v1/agents/")


def test_agents_find_end_users_by_name_or_email(john: User, karen: User, ken: User) -> None:
    results = client_as(john).get("/api/v1/users/?q=karen").json()["results"]
    assert [u["email"] for u in results] == ["karen@example.com"]


def test_end_users_list_excludes_agents(john: User, karen: User) -> None:
    emails = {u["email"] for u in client_as(john).get("/api/v1/users/").json()["results"]}
    assert "karen@example.com" in emails and "john@example.com" not in emails


def test_ids_that_are_not_numbers_are_404(admin: User) -> None:
    assert client_as(admin).get("/api/v1/departments/abc/").status_code == 404


def test_help_topics_of_other_departments_are_readable_by_every_agent(jane: User) -> None:
    names = {t["name"] for t in client_as(jane).get("/api/v1/help-topics/").json()["results"]}
    assert names >= {"Report a Problem", "General Inquiry"}
    assert HelpTopic.objects.count() == len(names)
