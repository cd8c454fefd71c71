"""Mass assignment: fields a caller adds to a form or an API body that they may not set are
ignored (or refused with a clear error), never applied. An agent cannot raise their own role
or add departments to themselves. API keys do only what they are allowed to, and only from the
addresses they are bound to.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from accounts.models import DepartmentMembership, Role, User
from api.models import ApiKey, Webhook
from api.services import api_key_create, api_token_issue
from tests.security.world import World
from tickets.models import EntryKind, Status, Ticket, TicketSource, TicketState

pytestmark = pytest.mark.django_db

# What no end user may set, under every name a form or an API might use for it.
FORBIDDEN_FIELDS: dict[str, Any] = {
    "kind": "admin",
    "is_staff": "on",
    "is_superuser": "on",
    "is_admin": "true",
    "is_active": "false",
    "role": "1",
    "department": "2",
    "assignee": "1",
    "status": "1",
    "state": "closed",
    "requester": "1",
    "number": "1",
    "priority": "1",
    "sla_plan": "1",
    "source": "email",
    "email_verified_at": "2020-01-01",
    "created_at": "2020-01-01",
    "author": "1",
}


def _memberships(user: User) -> list[tuple[int, int, bool]]:
    return sorted(DepartmentMembership.objects.filter(agent=user).values_list("department_id", "role_id", "is_primary"))


def _api(client: Client, method: str, path: str, body: dict[str, Any]) -> Any:
    return client.generic(method, path, json.dumps(body), content_type="application/json")


# ---------------------------------------------------------------- the portal


def test_a_guests_new_ticket_takes_only_the_forms_fields(client, world: World, report_a_problem) -> None:
    form = {
        "help_topic": report_a_problem.pk,
        "name": "Pat",
        "email": "pat@example.net",
        "subject": "Cannot print",
        "body": "Nothing comes out.",
    }
    extra = {**FORBIDDEN_FIELDS, "department": world.online_banking.pk, "assignee": world.users["jane"].pk}
    response = client.post(reverse("portal:open"), {**extra, **form})
    assert response.status_code == 302
    ticket = Ticket.objects.get(subject="Cannot print")
    assert ticket.requester.email == "pat@example.net" and ticket.requester.kind == User.Kind.END_USER
    assert ticket.department_id == report_a_problem.department_id
    assert ticket.priority_id == report_a_problem.priority_id or report_a_problem.priority_id is None
    assert (ticket.assignee_id, ticket.state, ticket.source) == (None, TicketState.OPEN, TicketSource.WEB)
    assert ticket.number != 1
    assert not ticket.requester.has_usable_password()


def test_a_signed_in_user_opens_tickets_only_for_herself(client, world: World, report_a_problem) -> None:
    karen, ken = world.users["karen"], world.users["ken"]
    client.force_login(karen)
    form = {"help_topic": report_a_problem.pk, "subject": "For Ken?", "body": "Opened as someone else."}
    response = client.post(reverse("portal:open"), {**form, "email": ken.email, "name": "Ken Doe", "requester": ken.pk})
    assert response.status_code == 302
    assert Ticket.objects.get(subject="For Ken?").requester == karen


def test_a_reply_in_the_portal_is_a_message_by_its_author(client, world: World) -> None:
    karen = world.users["karen"]
    client.force_login(karen)
    number = world.t1.number
    body = {"body": "More detail.", "kind": EntryKind.NOTE, "author": world.users["john"].pk, "ticket": world.t2.pk}
    assert client.post(reverse("portal:ticket_reply", args=[number]), body).status_code == 302
    entry = world.t1.entries.order_by("-pk").first()
    assert entry is not None and (entry.kind, entry.author_id, entry.body) == (
        EntryKind.MESSAGE,
        karen.pk,
        "More detail.",
    )
    assert not world.t2.entries.filter(body="More detail.").exists()


def test_the_portal_profile_changes_only_name_phone_and_time_zone(client, world: World) -> None:
    karen = world.users["karen"]
    verified = karen.email_verified_at
    client.force_login(karen)
    form = {**FORBIDDEN_FIELDS, "email": "other@example.net", "name": "Karen D.", "phone": "555", "time_zone": ""}
    assert client.post(reverse("portal:profile"), form).status_code == 302
    karen.refresh_from_db()
    assert (karen.name, karen.phone, karen.email) == ("Karen D.", "555", "karen@example.com")
    assert (karen.kind, karen.is_active, karen.email_verified_at) == (User.Kind.END_USER, True, verified)


# ---------------------------------------------------------------- the staff panel


def test_an_agent_cannot_raise_their_own_role_from_their_profile(client, world: World) -> None:
    john = world.users["john"]
    before = _memberships(john)
    manager = Role.objects.get(name="Manager")
    client.force_login(john)
    form = {
        **FORBIDDEN_FIELDS,
        "name": "John D.",
        "signature": "John",
        "time_zone": "",
        "role": manager.pk,
        "memberships": world.online_banking.pk,
        "department": world.online_banking.pk,
        "departments": [world.online_banking.pk],
    }
    assert client.post(reverse("staff:profile"), form).status_code == 302
    john.refresh_from_db()
    assert john.name == "John D."
    assert (john.kind, john.is_active) == (User.Kind.AGENT, True)
    assert _memberships(john) == before


def test_agents_cannot_change_themselves_through_the_admin_pages_or_the_api(client, world: World) -> None:
    manager = Role.objects.get(name="Manager")
    for name in ("john", "viewer"):
        agent = world.users[name]
        before = _memberships(agent)
        client.force_login(agent)
        promote = {
            "is_admin": True,
            "memberships": [
                {"department": world.support.pk, "role": manager.pk, "is_primary": True},
                {"department": world.online_banking.pk, "role": manager.pk},
            ],
        }
        assert _api(client, "PATCH", f"/api/v1/agents/{agent.pk}/", promote).status_code == 403
        assert (
            _api(client, "POST", "/api/v1/agents/", {"email": "x@example.net", "name": "X", **promote}).status_code
            == 403
        )
        page = reverse("adminpanel:agent", args=[agent.pk])
        assert client.post(page, {"is_admin": "on", "department": world.online_banking.pk}).status_code == 404
        agent.refresh_from_db()
        assert agent.kind == User.Kind.AGENT and _memberships(agent) == before
    assert not User.objects.filter(email="x@example.net").exists()


def test_a_saved_queue_belongs_to_whoever_saved_it(client, world: World) -> None:
    john, jane = world.users["john"], world.users["jane"]
    client.force_login(john)
    client.post(reverse("staff:saved_queue_save"), {"name": "Mine", "base": "all", "params": "", "owner": jane.pk})
    assert john.saved_queues.filter(name="Mine").exists()
    assert not jane.saved_queues.filter(name="Mine").exists()


def test_a_note_stays_a_note_whatever_else_is_posted(client, world: World) -> None:
    client.force_login(world.users["john"])
    number = world.t1.number
    form = {"note-body": "Only for us.", "note-kind": EntryKind.RESPONSE, "kind": EntryKind.RESPONSE}
    assert client.post(reverse("staff:note", args=[number]), form).status_code == 302
    assert world.t1.entries.get(body="Only for us.").kind == EntryKind.NOTE


# ---------------------------------------------------------------- the REST API


def test_an_end_users_api_ticket_ignores_what_only_the_help_desk_sets(client, world: World) -> None:
    karen = world.users["karen"]
    client.force_login(karen)
    closed = Status.objects.filter(state=TicketState.CLOSED).first()
    assert closed is not None
    body = {"subject": "Via API", "message": "Hello", "number": 7, "status": closed.pk, "state": "closed",
            "is_overdue": True, "due_at": "2030-01-01T00:00:00Z", "version": 99, "created_at": "2020-01-01T00:00:00Z"}  # fmt: skip
    response = _api(client, "POST", "/api/v1/tickets/", body)
    assert response.status_code == 201, response.content
    ticket = Ticket.objects.get(number=response.json()["number"])
    assert ticket.number != 7 and ticket.requester == karen
    assert (ticket.state, ticket.is_overdue, ticket.version) == (TicketState.OPEN, False, 1)
    assert ticket.created_at.year != 2020


@pytest.mark.parametrize("field", ["requester", "priority", "department", "sla_plan", "assignee", "source"])
def test_an_end_user_is_told_which_fields_only_agents_set(client, world: World, field) -> None:
    client.force_login(world.users["karen"])
    values = {"requester": {"email": "ken@example.com"}, "source": "email"}
    body = {"subject": "Via API", "message": "Hello", field: values.get(field, world.users["jane"].pk)}
    response = _api(client, "POST", "/api/v1/tickets/", body)
    assert response.status_code == 400
    assert field in response.json()
    assert not Ticket.objects.filter(subject="Via API").exists()


def test_an_api_change_ignores_fields_that_are_not_changeable(client, world: World) -> None:
    client.force_login(world.users["john"])
    ticket = world.t1
    body = {"number": 1, "subject": "Renamed", "requester": world.users["ken"].pk, "state": "closed", "note": "Noted"}
    response = _api(client, "PATCH", f"/api/v1/tickets/{ticket.number}/", body)
    assert response.status_code == 200, response.content
    after = Ticket.objects.get(pk=ticket.pk)
    assert (after.number, after.subject, after.requester_id, after.state) == (
        ticket.number,
        ticket.subject,
        ticket.requester_id,
        ticket.state,
    )


def test_end_users_cannot_be_made_agents_through_the_api(client, world: World) -> None:
    ken = world.users["ken"]
    client.force_login(world.users["admin"])
    response = _api(client, "PATCH", f"/api/v1/users/{ken.pk}/", {"kind": "admin", "is_admin": True, "name": "Ken"})
    assert response.status_code == 200
    ken.refresh_from_db()
    assert ken.kind == User.Kind.END_USER and not ken.is_agent
    created = _api(client, "POST", "/api/v1/users/", {"email": "new@example.net", "name": "New", "kind": "agent"})
    assert created.status_code == 201
    assert User.objects.get(email="new@example.net").kind == User.Kind.END_USER


def test_a_webhooks_secret_is_made_by_the_help_desk(client, world: World) -> None:
    client.force_login(world.users["admin"])
    body = {"name": "Chat", "url": "https://chat.example.net/hook", "events": ["ticket.created"], "secret": "mine",
            "created_by": world.users["john"].pk}  # fmt: skip
    response = _api(client, "POST", "/api/v1/webhooks/", body)
    assert response.status_code == 201
    webhook = Webhook.objects.get(pk=response.json()["id"])
    assert webhook.secret != "mine" and webhook.created_by == world.users["admin"]


# ---------------------------------------------------------------- API keys

ALERT = {"name": "Nagios", "email": "nagios@example.com", "subject": "db1 down", "message": "Packet loss 100%"}


def intake(key: str | None, *, address: str = "192.0.2.10", body: dict[str, Any] | None = None, **headers: str) -> Any:
    if key is not None:
        headers["HTTP_X_API_KEY"] = key
    return Client(REMOTE_ADDR=address).post(
        "/api/tickets.json", json.dumps(body or ALERT), content_type="application/json", **headers
    )


@pytest.fixture
def key(world: World) -> str:
    cache.clear()
    return api_key_create(name="Nagios", allowed_addresses="192.0.2.0/28, 2001:db8::/64")[1]


def _created() -> int:
    return Ticket.objects.filter(subject="db1 down").count()


def test_a_key_works_from_its_addresses_only(world: World, key: str) -> None:
    assert intake(key, address="192.0.2.10").status_code == 201
    assert intake(key, address="2001:db8::7").status_code == 201
    for address in ("192.0.2.16", "198.51.100.1", "127.0.0.1", "2001:db8:1::7", "::ffff:192.0.2.10"):
        assert intake(key, address=address).status_code == 401, address
    assert _created() == 2


def test_a_forwarded_address_counts_only_from_a_trusted_proxy(world: World, key: str, settings) -> None:
    spoofed = {"HTTP_X_FORWARDED_FOR": "192.0.2.10"}
    assert intake(key, address="198.51.100.1", **spoofed).status_code == 401
    settings.TRUSTED_PROXIES = ["10.0.0.1"]
    assert intake(key, address="10.0.0.1", **spoofed).status_code == 201
    # The client wrote the left part itself; the proxy appended the address it saw.
    assert intake(key, address="10.0.0.1", HTTP_X_FORWARDED_FOR="192.0.2.10, 198.51.100.1").status_code == 401
    assert intake(key, address="198.51.100.1", **spoofed).status_code == 401
    assert _created() == 1


def test_a_key_that_is_revoked_inactive_or_not_for_tickets_opens_nothing(client, world: World, key: str) -> None:
    api_key = ApiKey.objects.get(key_hash=ApiKey.hash_key(key))
    for change in ({"can_create_tickets": False}, {"is_active": False}):
        ApiKey.objects.filter(pk=api_key.pk).update(**change)
        assert intake(key).status_code == 401
        raw = b"From: a@example.net\r\nTo: help@example.com\r\nSubject: db1 down\r\n\r\nDown"
        piped = Client(REMOTE_ADDR="192.0.2.10").post(
            "/api/tickets.email", raw, content_type="message/rfc822", HTTP_X_API_KEY=key
        )
        assert piped.status_code == 401
        ApiKey.objects.filter(pk=api_key.pk).update(can_create_tickets=True, is_active=True)
    client.force_login(world.users["admin"])
    assert client.post(reverse("adminpanel:api_key_revoke", args=[api_key.pk])).status_code == 302
    assert intake(key).status_code == 401
    assert _created() == 0


def test_a_key_opens_tickets_and_nothing_more(client, world: World, key: str) -> None:
    body = {**ALERT, "deptId": world.online_banking.pk, "department": world.online_banking.pk,
            "assignee": world.users["jane"].pk, "staffId": world.users["jane"].pk, "status": "closed",
            "state": "closed", "number": 1, "sla_plan": 1, "kind": "admin"}  # fmt: skip
    response = intake(key, body=body)
    assert response.status_code == 201
    ticket = Ticket.objects.get(number=int(response.content))
    assert ticket.assignee_id is None and ticket.state == TicketState.OPEN and ticket.number != 1
    assert ticket.department_id != world.online_banking.pk
    assert User.objects.get(email="nagios@example.com").kind == User.Kind.END_USER
    # The key is not a credential anywhere else.
    for headers in ({"HTTP_X_API_KEY": key}, {"HTTP_AUTHORIZATION": f"Token {key}"}):
        other = Client(REMOTE_ADDR="192.0.2.10")
        assert other.get("/api/v1/tickets/", **headers).status_code == 401
        assert other.post("/api/v1/tickets/", {"subject": "x", "message": "y"}, **headers).status_code == 401
        assert other.get(reverse("staff:home"), **headers).status_code == 302


def test_a_personal_api_token_acts_as_its_owner_only(world: World) -> None:
    _, token = api_token_issue(user=world.users["ken"])
    client = Client(HTTP_AUTHORIZATION=f"Token {token}")
    listed = client.get("/api/v1/tickets/").json()["results"]
    assert [t["number"] for t in listed] == [world.t2.number]
    assert client.get(f"/api/v1/tickets/{world.t1.number}/").status_code == 404
    assert client.get("/api/v1/agents/").status_code == 403
