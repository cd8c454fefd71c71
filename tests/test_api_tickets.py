"""The REST API's tickets: list, open, read, change, thread, posts and files, for each of
the cast (admin, John of Support, Jane of Online Banking, Karen and Ken, anonymous)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.models import User
from tests.factories import EndUserFactory, ticket_open
from tests.test_api_helpers import client_as
from tickets import services
from tickets.models import Department, EntryKind, EventKind, HelpTopic, Priority, Status, Ticket, TicketState

pytestmark = pytest.mark.django_db

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
    b"\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99=\x1d\x00\x00\x00\x00IEND\xaeB`\x82"
)


@pytest.fixture
def karens_ticket(karen: User, report_a_problem: HelpTopic) -> Ticket:
    return ticket_open(karen, "Entire mobile/online banking system is down", help_topic=report_a_problem)


@pytest.fixture
def kens_ticket(ken: User, support: Department) -> Ticket:
    return ticket_open(ken, "Accounting department needs Adobe upgrade")


@pytest.fixture
def banking_ticket(karen: User, online_banking: Department) -> Ticket:
    return ticket_open(karen, "Card payments fail", department=online_banking)


# ---------------------------------------------------------------- reading


def test_anonymous_callers_get_401(karens_ticket: Ticket) -> None:
    client = client_as(None)
    assert client.get("/api/v1/tickets/").status_code == 401
    assert client.get(f"/api/v1/tickets/{karens_ticket.number}/").status_code == 401


def test_a_bad_token_gets_401(karens_ticket: Ticket) -> None:
    client = client_as(None)
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    response = client.get("/api/v1/tickets/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


def test_each_caller_lists_only_the_tickets_they_may_see(
    admin: User, john: User, jane: User, karen: User, ken: User, karens_ticket: Ticket, kens_ticket: Ticket,
    banking_ticket: Ticket,
) -> None:  # fmt: skip
    def numbers(user: User) -> set[int]:
        response = client_as(user).get("/api/v1/tickets/")
        assert response.status_code == 200
        return {t["number"] for t in response.json()["results"]}

    assert numbers(admin) == {karens_ticket.number, kens_ticket.number, banking_ticket.number}
    assert numbers(john) == {karens_ticket.number, kens_ticket.number}
    assert numbers(jane) == {banking_ticket.number}
    assert numbers(karen) == {karens_ticket.number, banking_ticket.number}
    assert numbers(ken) == {kens_ticket.number}


def test_a_ticket_reads_with_its_properties(john: User, karens_ticket: Ticket) -> None:
    response = client_as(john).get(f"/api/v1/tickets/{karens_ticket.number}/")
    assert response.status_code == 200
    body = response.json()
    assert body["number"] == karens_ticket.number
    assert body["subject"] == "Entire mobile/online banking system is down"
    assert body["status"] == {"id": karens_ticket.status_id, "name": "Open"}
    assert body["state"] == "open"
    assert body["priority"]["name"] == "Normal"
    assert body["department"]["name"] == "Support"
    assert body["help_topic"]["name"] == "Report a Problem"
    assert body["sla_plan"]["name"] == "Default SLA"
    assert body["assignee"] is None
    assert body["requester"] == {"name": "Karen Doe", "email": "karen@example.com"}
    assert body["source"] == "web"
    assert body["due_at"] is not None
    assert body["is_overdue"] is False
    assert body["closed_at"] is None
    assert set(body) >= {"first_response_due_at", "created_at", "updated_at", "version"}


def test_a_ticket_the_caller_may_not_see_is_404_like_one_that_does_not_exist(
    jane: User, ken: User, karens_ticket: Ticket
) -> None:
    for user in (jane, ken):
        client = client_as(user)
        hidden = client.get(f"/api/v1/tickets/{karens_ticket.number}/")
        missing = client.get("/api/v1/tickets/999999999/")
        assert hidden.status_code == missing.status_code == 404
        assert hidden.json() == missing.json()


def test_the_list_costs_the_same_queries_whatever_its_length(
    john: User, karen: User, django_assert_num_queries: object
) -> None:
    client = client_as(john)
    ticket_open(karen, "One")
    # token, the agent's departments, count, page
    with django_assert_num_queries(4):  # type: ignore[operator]
        assert client.get("/api/v1/tickets/").status_code == 200
    for i in range(8):
        ticket_open(karen, f"More {i}")
    with django_assert_num_queries(4):  # type: ignore[operator]
        response = client.get("/api/v1/tickets/")
    assert response.json()["count"] == 9


def test_the_list_is_paginated_with_a_total_count(john: User, karen: User) -> None:
    for i in range(5):
        ticket_open(karen, f"Ticket {i}")
    response = client_as(john).get("/api/v1/tickets/?page_size=2&page=2&ordering=number")
    body = response.json()
    assert body["count"] == 5
    assert len(body["results"]) == 2
    assert body["next"] and body["previous"]
    numbers = [t["number"] for t in body["results"]]
    assert numbers == sorted(numbers)


def test_the_list_filters_by_each_property(
    admin: User, john: User, karen: User, ken: User, priorities: dict[str, Priority], statuses: dict[str, Status],
    online_banking: Department, report_a_problem: HelpTopic,
) -> None:  # fmt: skip
    with time_machine.travel(datetime(2026, 3, 2, 9, tzinfo=UTC), tick=False):
        old = ticket_open(karen, "Old printer problem", source="email")
    urgent = ticket_open(ken, "Server room is flooding", priority=priorities["Emergency"], help_topic=report_a_problem)
    services.ticket_assign(ticket=urgent, actor=john, assignee=john)
    banking = ticket_open(karen, "Card payments fail", department=online_banking)
    services.ticket_resolve(ticket=old, actor=admin)
    client = client_as(admin)

    def numbers(query: str) -> set[int]:
        response = client.get(f"/api/v1/tickets/?{query}")
        assert response.status_code == 200, response.json()
        return {t["number"] for t in response.json()["results"]}

    assert numbers(f"priority={priorities['Emergency'].pk}") == {urgent.number}
    assert numbers(f"status={statuses[TicketState.RESOLVED].pk}") == {old.number}
    assert numbers("state=open") == {urgent.number, banking.number}
    assert numbers(f"department={online_banking.pk}") == {banking.number}
    assert numbers(f"help_topic={report_a_problem.pk}") == {urgent.number}
    assert numbers(f"assignee={john.pk}") == {urgent.number}
    assert numbers("assignee=none") == {old.number, banking.number}
    assert numbers("requester=KEN@example.com") == {urgent.number}
    assert numbers("source=email") == {old.number}
    assert numbers("overdue=false") == {old.number, urgent.number, banking.number}
    assert numbers("overdue=true") == set()
    assert numbers("created_before=2026-04-01T00:00:00Z") == {old.number}
    assert numbers("created_after=2026-04-01T00:00:00Z") == {urgent.number, banking.number}
    assert numbers("q=flooding") == {urgent.number}
    assert numbers(f"q={banking.number}") == {banking.number}
    assert client_as(john).get("/api/v1/tickets/?assignee=me").json()["count"] == 1


def test_full_text_search_never_finds_an_end_user_a_ticket_by_its_internal_notes(
    john: User, karen: User, karens_ticket: Ticket
) -> None:
    services.ticket_add_note(ticket=karens_ticket, actor=john, body="Suspect the zebra router")
    assert client_as(karen).get("/api/v1/tickets/?q=zebra").json()["count"] == 0
    assert client_as(john).get("/api/v1/tickets/?q=zebra").json()["count"] == 1


def test_ordering_follows_the_allowlist_and_refuses_anything_else(john: User, karen: User, priorities: dict) -> None:
    low = ticket_open(karen, "Low", priority=priorities["Low"])
    urgent = ticket_open(karen, "Urgent", priority=priorities["Emergency"])
    client = client_as(john)
    assert [t["number"] for t in client.get("/api/v1/tickets/?ordering=priority").json()["results"]] == [
        urgent.number,
        low.number,
    ]
    assert [t["number"] for t in client.get("/api/v1/tickets/?ordering=-priority").json()["results"]] == [
        low.number,
        urgent.number,
    ]
    refused = client.get("/api/v1/tickets/?ordering=requester__password")
    assert refused.status_code == 400
    assert "ordering" in refused.json()


def test_bad_filters_get_400_naming_the_field(john: User) -> None:
    response = client_as(john).get("/api/v1/tickets/?priority=high&created_after=yesterday&assignee=someone")
    assert response.status_code == 400
    assert set(response.json()) == {"priority", "created_after", "assignee"}


# ---------------------------------------------------------------- opening


def test_an_agent_opens_a_ticket_for_a_requester_by_email_and_name(
    john: User, priorities: dict[str, Priority], report_a_problem: HelpTopic
) -> None:
    response = client_as(john).post(
        "/api/v1/tickets/",
        {
            "requester": {"email": "Pat@Example.org", "name": "Pat Caller"},
            "subject": "Phone: VPN drops every hour",
            "message": "Pat called about the VPN.",
            "help_topic": report_a_problem.pk,
            "priority": priorities["High"].pk,
            "source": "phone",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["requester"] == {"name": "Pat Caller", "email": "pat@example.org"}
    assert body["source"] == "phone"
    assert body["priority"]["name"] == "High"
    ticket = Ticket.objects.get(number=body["number"])
    assert ticket.events.get(kind=EventKind.CREATED).actor == john
    assert ticket.entries.get().body == "Pat called about the VPN."


def test_an_agent_must_say_who_the_ticket_is_for(john: User) -> None:
    response = client_as(john).post("/api/v1/tickets/", {"subject": "x", "message": "y"}, format="json")
    assert response.status_code == 400
    assert "requester" in response.json()
    assert not Ticket.objects.exists()


def test_an_end_user_opens_a_ticket_for_themselves_with_a_file(karen: User, report_a_problem: HelpTopic) -> None:
    response = client_as(karen).post(
        "/api/v1/tickets/",
        {
            "subject": "Entire mobile/online banking system is down",
            "message": "Nothing loads since 9:00.",
            "help_topic": report_a_problem.pk,
            "attachments": [SimpleUploadedFile("screen.png", PNG, content_type="image/png")],
        },
        format="multipart",
    )
    assert response.status_code == 201, response.json()
    ticket = Ticket.objects.get(number=response.json()["number"])
    assert ticket.requester == karen
    assert ticket.department.name == "Support"
    assert [a.filename for a in ticket.entries.get().attachments.all()] == ["screen.png"]


def test_an_end_user_may_not_set_what_agents_decide(karen: User, priorities: dict[str, Priority]) -> None:
    response = client_as(karen).post(
        "/api/v1/tickets/",
        {"subject": "Please hurry", "message": "Now!", "priority": priorities["Emergency"].pk},
        format="json",
    )
    assert response.status_code == 400
    assert response.json() == {"priority": ["Only agents may set this."]}
    assert not Ticket.objects.exists()


def test_a_refused_file_refuses_the_ticket_naming_the_field(karen: User) -> None:
    response = client_as(karen).post(
        "/api/v1/tickets/",
        {
            "subject": "A script",
            "message": "See attached",
            "attachments": [SimpleUploadedFile("run.exe", b"MZ\x90\x00" + b"\x00" * 200)],
        },
        format="multipart",
    )
    assert response.status_code == 400
    assert "attachments" in response.json()
    assert not Ticket.objects.exists()


def test_opening_with_unknown_ids_gets_400_naming_each_field(john: User) -> None:
    response = client_as(john).post(
        "/api/v1/tickets/",
        {
            "requester": {"email": "pat@example.org"},
            "subject": "x",
            "message": "y",
            "priority": 9999,
            "department": "support",
        },
        format="json",
    )
    assert response.status_code == 400
    assert set(response.json()) == {"priority", "department"}


# ---------------------------------------------------------------- changing


def test_john_works_the_seed_story_through_patch(
    admin: User, john: User, jane: User, karens_ticket: Ticket, priorities: dict[str, Priority], plans: dict,
    online_banking: Department,
) -> None:  # fmt: skip
    client = client_as(admin)
    due_before = karens_ticket.due_at
    response = client.patch(
        f"/api/v1/tickets/{karens_ticket.number}/",
        {
            "priority": priorities["Emergency"].pk,
            "sla_plan": plans["Sev-A"].pk,
            "department": online_banking.pk,
            "assignee": jane.pk,
            "note": "Online Banking: the whole mobile platform is down.",
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["priority"]["name"] == "Emergency"
    assert body["sla_plan"]["name"] == "Sev-A"
    assert body["department"]["name"] == "Online Banking"
    assert body["assignee"] == {"id": jane.pk, "name": "Jane Doe"}
    karens_ticket.refresh_from_db()
    assert karens_ticket.due_at != due_before
    note = karens_ticket.entries.get(kind=EntryKind.NOTE)
    assert note.title == "Transfer note"
    kinds = set(karens_ticket.events.values_list("kind", flat=True))
    assert {EventKind.PRIORITY_CHANGED, EventKind.SLA_CHANGED, EventKind.TRANSFERRED, EventKind.ASSIGNED} <= kinds


def test_a_status_change_the_state_does_not_allow_is_409(
    admin: User, karens_ticket: Ticket, statuses: dict[str, Status]
) -> None:
    client = client_as(admin)
    assert (
        client.patch(
            f"/api/v1/tickets/{karens_ticket.number}/", {"status": statuses[TicketState.CLOSED].pk}, format="json"
        ).status_code
        == 200
    )
    response = client.patch(
        f"/api/v1/tickets/{karens_ticket.number}/", {"status": statuses[TicketState.WAITING].pk}, format="json"
    )
    assert response.status_code == 409
    assert "cannot become" in response.json()["detail"]


def test_a_stale_version_is_409_and_changes_nothing(
    john: User, karens_ticket: Ticket, priorities: dict[str, Priority]
) -> None:
    client = client_as(john)
    version = client.get(f"/api/v1/tickets/{karens_ticket.number}/").json()["version"]
    services.ticket_add_note(ticket=karens_ticket, actor=john, body="Someone else was here")
    response = client.patch(
        f"/api/v1/tickets/{karens_ticket.number}/",
        {"priority": priorities["High"].pk, "version": version},
        format="json",
    )
    assert response.status_code == 409
    karens_ticket.refresh_from_db()
    assert karens_ticket.priority.name == "Normal"


def test_one_refused_change_undoes_the_whole_patch(
    john: User, jane: User, karens_ticket: Ticket, priorities: dict[str, Priority]
) -> None:
    # Jane is not in Support: she cannot hold a Support ticket.
    response = client_as(john).patch(
        f"/api/v1/tickets/{karens_ticket.number}/",
        {"priority": priorities["High"].pk, "assignee": jane.pk},
        format="json",
    )
    assert response.status_code == 400
    assert "assignee" in response.json()
    karens_ticket.refresh_from_db()
    assert karens_ticket.priority.name == "Normal"
    assert not karens_ticket.events.filter(kind=EventKind.PRIORITY_CHANGED).exists()


def test_a_due_date_override_needs_a_note(john: User, karens_ticket: Ticket) -> None:
    client = client_as(john)
    due = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    refused = client.patch(f"/api/v1/tickets/{karens_ticket.number}/", {"due_at": due}, format="json")
    assert refused.status_code == 400
    assert refused.json() == {"note": ["Say why the due date changes."]}
    done = client.patch(
        f"/api/v1/tickets/{karens_ticket.number}/", {"due_at": due, "note": "Customer agreed"}, format="json"
    )
    assert done.status_code == 200
    assert karens_ticket.events.get(kind=EventKind.DUE_OVERRIDDEN).data == {"reason": "Customer agreed"}


def test_a_read_only_agent_may_look_but_not_change(
    viewer: User, karens_ticket: Ticket, priorities: dict[str, Priority]
) -> None:
    client = client_as(viewer)
    assert client.get(f"/api/v1/tickets/{karens_ticket.number}/").status_code == 200
    response = client.patch(
        f"/api/v1/tickets/{karens_ticket.number}/", {"priority": priorities["High"].pk}, format="json"
    )
    assert response.status_code == 403
    reply = client.post(f"/api/v1/tickets/{karens_ticket.number}/replies/", {"body": "Hi"}, format="json")
    assert reply.status_code == 403


def test_jane_cannot_change_a_support_ticket_she_cannot_see(
    jane: User, karens_ticket: Ticket, priorities: dict[str, Priority]
) -> None:
    response = client_as(jane).patch(
        f"/api/v1/tickets/{karens_ticket.number}/", {"priority": priorities["High"].pk}, format="json"
    )
    assert response.status_code == 404


def test_karen_closes_her_ticket_but_may_not_reprioritise_it(
    karen: User, karens_ticket: Ticket, statuses: dict[str, Status], priorities: dict[str, Priority]
) -> None:
    client = client_as(karen)
    refused = client.patch(
        f"/api/v1/tickets/{karens_ticket.number}/", {"priority": priorities["Emergency"].pk}, format="json"
    )
    assert refused.status_code == 403
    closed = client.patch(
        f"/api/v1/tickets/{karens_ticket.number}/", {"status": statuses[TicketState.CLOSED].pk}, format="json"
    )
    assert closed.status_code == 200
    assert closed.json()["state"] == "closed"


def test_an_empty_patch_is_400(john: User, karens_ticket: Ticket) -> None:
    response = client_as(john).patch(f"/api/v1/tickets/{karens_ticket.number}/", {}, format="json")
    assert response.status_code == 400


def test_a_note_alone_is_added_as_an_internal_note(john: User, karens_ticket: Ticket) -> None:
    response = client_as(john).patch(
        f"/api/v1/tickets/{karens_ticket.number}/", {"note": "Called her back"}, format="json"
    )
    assert response.status_code == 200
    assert karens_ticket.entries.get(kind=EntryKind.NOTE).body == "Called her back"


# ---------------------------------------------------------------- the thread


def test_the_thread_shows_entries_and_events_in_order_to_agents(
    john: User, karen: User, karens_ticket: Ticket, django_assert_num_queries: object
) -> None:
    services.ticket_add_note(ticket=karens_ticket, actor=john, body="Checking the load balancer")
    services.ticket_reply(ticket=karens_ticket, actor=john, body="We are on it.")
    client = client_as(john)
    # token, ticket, the agent's departments, entries, attachments, events
    with django_assert_num_queries(6):  # type: ignore[operator]
        response = client.get(f"/api/v1/tickets/{karens_ticket.number}/thread/")
    items = response.json()
    entries = [i for i in items if i["type"] == "entry"]
    assert [e["kind"] for e in entries] == ["message", "note", "response"]
    assert any(i["type"] == "event" and i["kind"] == "created" for i in items)
    times = [i["created_at"] for i in items]
    assert times == sorted(times)
    for i in range(5):
        services.ticket_add_note(ticket=karens_ticket, actor=john, body=f"More {i}")
    with django_assert_num_queries(6):  # type: ignore[operator]
        client.get(f"/api/v1/tickets/{karens_ticket.number}/thread/")


def test_an_end_user_reads_only_the_public_thread_and_no_events(john: User, karen: User, karens_ticket: Ticket) -> None:
    services.ticket_add_note(ticket=karens_ticket, actor=john, body="Secret: the vendor is at fault")
    services.ticket_reply(ticket=karens_ticket, actor=john, body="We are on it.")
    items = client_as(karen).get(f"/api/v1/tickets/{karens_ticket.number}/thread/").json()
    assert [i["kind"] for i in items] == ["message", "response"]
    assert all(i["type"] == "entry" for i in items)
    assert "Secret" not in str(items)


def test_jane_replies_and_karen_answers_through_the_api(
    admin: User, jane: User, karen: User, karens_ticket: Ticket, online_banking: Department,
    statuses: dict[str, Status], django_capture_on_commit_callbacks: object,
) -> None:  # fmt: skip
    services.ticket_transfer(ticket=karens_ticket, actor=admin, department=online_banking)
    services.ticket_assign(ticket=karens_ticket, actor=admin, assignee=jane)
    reply = client_as(jane).post(
        f"/api/v1/tickets/{karens_ticket.number}/replies/",
        {
            "body": "Fixed; please confirm.",
            "status": statuses[TicketState.RESOLVED].pk,
            "attachments": [SimpleUploadedFile("log.txt", b"all green\n")],
        },
        format="multipart",
    )
    assert reply.status_code == 201, reply.json()
    assert reply.json()["kind"] == "response"
    assert reply.json()["attachments"][0]["filename"] == "log.txt"
    karens_ticket.refresh_from_db()
    assert karens_ticket.state == TicketState.RESOLVED

    answer = client_as(karen).post(
        f"/api/v1/tickets/{karens_ticket.number}/messages/", {"body": "Still broken on Android."}, format="json"
    )
    assert answer.status_code == 201
    karens_ticket.refresh_from_db()
    assert karens_ticket.state == TicketState.OPEN


def test_posts_go_only_where_each_caller_may_write(john: User, karen: User, ken: User, karens_ticket: Ticket) -> None:
    number = karens_ticket.number
    assert client_as(karen).post(f"/api/v1/tickets/{number}/replies/", {"body": "x"}, format="json").status_code == 403
    assert client_as(karen).post(f"/api/v1/tickets/{number}/notes/", {"body": "x"}, format="json").status_code == 403
    assert client_as(john).post(f"/api/v1/tickets/{number}/messages/", {"body": "x"}, format="json").status_code == 403
    assert client_as(ken).post(f"/api/v1/tickets/{number}/messages/", {"body": "x"}, format="json").status_code == 404
    assert client_as(None).post(f"/api/v1/tickets/{number}/messages/", {"body": "x"}, format="json").status_code == 401
    assert client_as(john).post(f"/api/v1/tickets/{number}/notes/", {"body": "ok"}, format="json").status_code == 201


def test_an_empty_post_is_400_naming_the_body(john: User, karens_ticket: Ticket) -> None:
    response = client_as(john).post(f"/api/v1/tickets/{karens_ticket.number}/notes/", {"body": "  "}, format="json")
    assert response.status_code == 400
    assert response.json() == {"body": ["Write a message."]}


def test_a_message_to_a_ticket_closed_too_long_ago_is_409(karen: User, admin: User, karens_ticket: Ticket) -> None:
    services.ticket_close(ticket=karens_ticket, actor=admin)
    with time_machine.travel(datetime.now(UTC) + timedelta(days=30)):
        response = client_as(karen).post(
            f"/api/v1/tickets/{karens_ticket.number}/messages/", {"body": "Again"}, format="json"
        )
    assert response.status_code == 409


def test_files_download_for_those_who_may_read_the_entry(
    john: User, karen: User, ken: User, karens_ticket: Ticket
) -> None:
    from tickets.attachments import Upload

    note = services.ticket_add_note(
        ticket=karens_ticket, actor=john, body="Internal log", uploads=[Upload("internal.txt", b"secret log\n")]
    )
    reply = services.ticket_reply(
        ticket=karens_ticket, actor=john, body="See this", uploads=[Upload("steps.txt", b"1. restart\n")]
    )
    public = reply.attachments.get()
    internal = note.attachments.get()
    url = f"/api/v1/tickets/{karens_ticket.number}/attachments/"
    response = client_as(karen).get(f"{url}{public.pk}/")
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment")
    assert b"".join(response.streaming_content) == b"1. restart\n"  # type: ignore[attr-defined]
    assert client_as(karen).get(f"{url}{internal.pk}/").status_code == 404
    assert client_as(john).get(f"{url}{internal.pk}/").status_code == 200
    assert client_as(ken).get(f"{url}{public.pk}/").status_code == 404


def test_ticket_numbers_that_are_not_numbers_are_404(john: User) -> None:
    assert client_as(john).get("/api/v1/tickets/abc/").status_code == 404
    assert client_as(john).get("/api/v1/tickets/99999999999999999999999/").status_code == 404


def test_an_inactive_agents_token_stops_working(john: User, karens_ticket: Ticket) -> None:
    client = client_as(john)
    User.objects.filter(pk=john.pk).update(is_active=False)
    assert client.get("/api/v1/tickets/").status_code == 401


def test_an_agent_assigned_a_ticket_outside_their_departments_sees_it(
    admin: User, jane: User, karens_ticket: Ticket
) -> None:
    # Admins may assign anyone who can hold tickets of the department; Jane cannot hold Support's.
    response = client_as(admin).patch(f"/api/v1/tickets/{karens_ticket.number}/", {"assignee": jane.pk}, format="json")
    assert response.status_code == 400
    assert client_as(jane).get(f"/api/v1/tickets/{karens_ticket.number}/").status_code == 404


def test_new_end_users_get_a_row_when_an_agent_opens_for_them(john: User) -> None:
    client_as(john).post(
        "/api/v1/tickets/",
        {"requester": {"email": "new@example.org", "name": "New Person"}, "subject": "Hi", "message": "Hello"},
        format="json",
    )
    person = User.objects.get(email="new@example.org")
    assert person.kind == User.Kind.END_USER and person.name == "New Person"
    assert not person.has_usable_password()


def test_a_collaborator_reads_and_writes_to_the_ticket(john: User, karen: User, karens_ticket: Ticket) -> None:
    colleague = EndUserFactory(email="cfo@example.com")
    services.ticket_add_collaborator(ticket=karens_ticket, actor=john, user=colleague)
    client = client_as(colleague)
    assert client.get(f"/api/v1/tickets/{karens_ticket.number}/").status_code == 200
    assert (
        client.post(f"/api/v1/tickets/{karens_ticket.number}/messages/", {"body": "Me too"}, format="json").status_code
        == 201
    )


# Karen's Support ticket, as each of the cast reaches it: (method, path, body) -> status per persona.
MATRIX = [
    # anonymous, admin, John (Support), Jane (Online Banking), Karen (requester), Ken (another end user)
    ("get", "", None, [401, 200, 200, 404, 200, 404]),
    ("get", "thread/", None, [401, 200, 200, 404, 200, 404]),
    ("patch", "", {"note": "checked"}, [401, 200, 200, 404, 403, 404]),
    ("post", "replies/", {"body": "On it"}, [401, 201, 201, 404, 403, 404]),
    ("post", "notes/", {"body": "Internal"}, [401, 201, 201, 404, 403, 404]),
    ("post", "messages/", {"body": "Any news?"}, [401, 403, 403, 404, 201, 404]),
]


@pytest.mark.parametrize(("method", "path", "body", "expected"), MATRIX)
def test_the_permission_matrix_of_a_ticket(
    method: str, path: str, body: dict | None, expected: list[int], admin: User, john: User, jane: User,
    karen: User, ken: User, karens_ticket: Ticket,
) -> None:  # fmt: skip
    got = []
    for user in (None, admin, john, jane, karen, ken):
        call = getattr(client_as(user), method)
        url = f"/api/v1/tickets/{karens_ticket.number}/{path}"
        got.append((call(url, body, format="json") if body is not None else call(url)).status_code)
    assert got == expected
