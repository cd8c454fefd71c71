"""The ticket page: what it shows, and each action through its service, with its event."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.urls import reverse

from accounts.models import User
from inbound.models import Mailbox
from inbound.services import email_ingest
from tests import mailkit
from tests.factories import EndUserFactory, ticket_open
from tickets import services
from tickets.locks import ticket_lock_acquire, ticket_lock_release
from tickets.models import Attachment, CannedResponse, EntryKind, EventKind, Ticket, TicketState

pytestmark = pytest.mark.django_db

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
    b"\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82"
)


@pytest.fixture
def outage(karen, report_a_problem) -> Ticket:
    return ticket_open(
        karen,
        "Entire mobile/online banking system is down",
        "Nothing loads since 9am.",
        help_topic=report_a_problem,
    )


def url(ticket: Ticket, name: str = "ticket", **kwargs: object) -> str:
    return reverse(f"staff:{name}", kwargs={"number": ticket.number, **kwargs})


def fresh(ticket: Ticket) -> Ticket:
    return Ticket.objects.get(pk=ticket.pk)


def last_event(ticket: Ticket, kind: str):
    return ticket.events.filter(kind=kind).latest("id")


# ---------------------------------------------------------------- the page


def test_an_inline_image_from_mail_shows_in_place_through_the_staff_download(client, john, karen, support) -> None:
    box = Mailbox.objects.create(
        name="Inbox", host="127.0.0.1", port=143, username="desk", password="x", department=support
    )
    entry = email_ingest(raw=mailkit.inline_image(karen.email, "Screenshot"), mailbox=box).entry
    image = entry.attachments.get()
    client.force_login(john)

    html = client.get(url(entry.ticket)).content.decode()

    src = url(entry.ticket, "attachment", pk=image.pk)
    assert f'src="{src}"' in html and "cid:" not in html
    download = client.get(src)
    assert download.status_code == 200 and b"".join(download.streaming_content).startswith(b"\x89PNG")


def test_the_page_shows_every_property_the_clock_and_the_thread(client, outage, john, karen) -> None:
    services.ticket_add_note(ticket=outage, actor=john, body="Checking the load balancer.")
    services.ticket_reply(ticket=outage, actor=john, body="We are on it.")
    client.force_login(john)
    response = client.get(url(outage))
    html = response.content.decode()
    assert response.status_code == 200
    for text in (
        f"#{outage.number}",
        "Entire mobile/online banking system is down",
        "Karen Doe",
        "karen@example.com",
        "Open",
        "Normal",
        "Support",
        "Report a Problem",
        "Default SLA",
        "Unassigned",
        "Web",
        "SLA clocks",
        "Resolution",
        "Nothing loads since 9am.",
        "Checking the load balancer.",
        "We are on it.",
        "Created in Support",
    ):
        assert text in html, text
    # Notes look different from messages and responses.
    assert 'class="card mb-2 entry entry-note' in html
    assert 'class="card mb-2 entry entry-response' in html
    assert 'class="card mb-2 entry entry-message' in html
    # Entries and events are in the order they happened.
    kinds = [kind for kind, _ in response.context["timeline"]]
    assert kinds[0] == "entry" and "event" in kinds


def test_the_page_shows_the_requesters_rating_and_comment_escaped(client, outage, john, karen) -> None:
    client.force_login(john)
    assert 'id="ticket-rating"' not in client.get(url(outage)).content.decode()
    services.ticket_resolve(ticket=outage, actor=john)
    services.ticket_rate(ticket=outage, actor=karen, rating=4, comment="Quick <b>fix</b> & clear")

    html = client.get(url(outage)).content.decode()
    rating = html.split('id="ticket-rating">', 1)[1].split("</dd>", 1)[0]
    assert "4 out of 5" in rating
    assert "Quick &lt;b&gt;fix&lt;/b&gt; &amp; clear" in rating and "<b>" not in rating
    assert "Rated the help 4 out of 5: “Quick &lt;b&gt;fix&lt;/b&gt; &amp; clear” — Karen Doe" in html


def test_the_page_shows_the_requesters_other_tickets_that_john_may_see(
    client, outage, john, karen, online_banking
) -> None:
    older = ticket_open(karen, "CFO's laptop not powering on")
    hidden = ticket_open(karen, "Card payments fail", department=online_banking)
    client.force_login(john)
    others = client.get(url(outage)).context["others"]
    assert older in others and hidden not in others


def test_what_users_write_is_shown_as_text(client, john) -> None:
    evil = EndUserFactory(name="<script>alert('name')</script>")
    ticket = ticket_open(evil, "<img src=x onerror=alert(1)>", "<script>alert('body')</script>")
    client.force_login(john)
    html = client.get(url(ticket)).content.decode()
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(&#x27;body&#x27;)&lt;/script&gt;" in html


def test_menus_show_names_as_text_and_keep_the_current_choice(client, outage, john, support) -> None:
    from accounts.models import DepartmentMembership, Role

    evil = User.objects.create_user(
        "evil@example.com", "x" * 12, name='<img src=x onerror="alert(1)">', kind=User.Kind.AGENT
    )
    DepartmentMembership.objects.create(
        agent=evil, department=support, role=Role.objects.get(name="Agent"), is_primary=True
    )
    client.force_login(john)
    html = client.get(url(outage)).content.decode()
    assert '<img src=x onerror="alert(1)">' not in html
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;</option>" in html
    assert f'<option value="{outage.priority_id}" selected>Normal</option>' in html


def test_the_ticket_page_costs_the_same_queries_for_a_short_or_long_thread(
    client, outage, john, jane, karen, django_assert_num_queries
) -> None:
    CannedResponse.objects.create(title="Thanks", body="Thank you, %{requester.first_name}.")
    client.force_login(john)
    with django_assert_num_queries(12):
        assert client.get(url(outage)).status_code == 200
    for i in range(10):
        services.ticket_add_message(
            ticket=outage, author=karen, body=f"Still down {i}", uploads=[services.Upload(f"s{i}.png", PNG)]
        )
        services.ticket_reply(ticket=outage, actor=john, body=f"Working on it {i}")
        services.ticket_add_note(ticket=outage, actor=john, body=f"Note {i}")
    services.ticket_add_collaborator(ticket=outage, actor=john, user=EndUserFactory())
    services.ticket_link(ticket=outage, other=ticket_open(karen, "Related"), actor=john)
    client.force_login(john)
    with django_assert_num_queries(12):
        response = client.get(url(outage))
    assert response.status_code == 200
    assert len([k for k, _ in response.context["timeline"] if k == "entry"]) == 31
    # Another agent writing a reply: the page names them, still at the same cost.
    ticket_lock_acquire(ticket=outage, agent=jane)
    with django_assert_num_queries(12):
        response = client.get(url(outage))
    assert f"{jane.name} is writing a reply to this ticket." in response.content.decode()
    ticket_lock_release(ticket=outage, agent=jane)
    ticket_lock_acquire(ticket=outage, agent=john)
    with django_assert_num_queries(12):
        response = client.get(url(outage))
    assert response.context["lock"].held and "is writing a reply" not in response.content.decode()


# ---------------------------------------------------------------- the thread


def test_john_replies_and_karen_is_emailed(client, outage, john, karen, django_capture_on_commit_callbacks) -> None:
    client.force_login(john)
    page = client.get(url(outage))
    seen = page.context["forms"]["reply"].initial["seen"]
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            url(outage, "reply"), {"reply-body": "We are on it.", "reply-version": outage.version, "reply-seen": seen}
        )
    assert response.status_code == 302 and response.url == url(outage)
    entry = outage.entries.latest("id")
    assert entry.kind == EntryKind.RESPONSE and entry.author == john and entry.body == "We are on it."
    assert last_event(outage, EventKind.RESPONSE).entry == entry
    assert any(karen.email in m.to[0] and "We are on it." in m.body for m in mail.outbox)


def test_a_reply_can_set_the_status_and_carry_attachments(client, outage, john, statuses) -> None:
    client.force_login(john)
    png = services.Upload("screen.png", PNG)
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = client.post(
        url(outage, "reply"),
        {
            "reply-body": "Fixed: the load balancer is back.",
            "reply-status": statuses["resolved"].pk,
            "reply-version": outage.version,
            "reply-seen": outage.entries.latest("id").pk,
            "reply-attachments": [
                SimpleUploadedFile(png.filename, png.content),
                SimpleUploadedFile("log.txt", b"ok\n"),
            ],
        },
    )
    assert response.status_code == 302
    ticket = fresh(outage)
    assert ticket.state == TicketState.RESOLVED
    assert last_event(ticket, EventKind.STATUS_CHANGED).to_value == "Resolved"
    assert sorted(Attachment.objects.filter(entry__ticket=ticket).values_list("filename", flat=True)) == [
        "log.txt",
        "screen.png",
    ]


def test_a_reply_with_a_refused_file_sends_nothing_and_says_why(client, outage, john) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(john)
    response = client.post(
        url(outage, "reply"),
        {
            "reply-body": "See attached.",
            "reply-version": outage.version,
            "reply-seen": outage.entries.latest("id").pk,
            "reply-attachments": SimpleUploadedFile("tool.exe", b"MZ\x90\x00" + b"\x00" * 64),
        },
    )
    assert response.status_code == 400
    assert "tool.exe: this kind of file is not accepted." in response.context["forms"]["reply"].errors["attachments"]
    assert not outage.entries.filter(kind=EntryKind.RESPONSE).exists()


def test_an_empty_reply_is_refused_beside_the_field(client, outage, john) -> None:
    client.force_login(john)
    response = client.post(url(outage, "reply"), {"reply-body": "   ", "reply-version": outage.version})
    assert response.status_code == 400
    assert response.context["forms"]["reply"].errors["body"] == ["Write a reply."]


def test_a_canned_response_is_filled_in_for_the_ticket(client, outage, john) -> None:
    canned = CannedResponse.objects.create(
        title="Looking", body="Hello %{requester.first_name}, #%{ticket.number} is ours."
    )
    client.force_login(john)
    page = client.get(url(outage))
    assert page.context["canned_bodies"][str(canned.pk)] == f"Hello Karen, #{outage.number} is ours."
    client.post(
        url(outage, "reply"),
        {
            "reply-body": "",
            "reply-canned": canned.pk,
            "reply-version": outage.version,
            "reply-seen": outage.entries.latest("id").pk,
        },
    )
    assert outage.entries.latest("id").body == f"Hello Karen, #{outage.number} is ours."


def test_johns_signature_is_appended_when_he_asks(client, outage, john) -> None:
    john.signature = "John Doe\nSupport desk"
    john.save()
    client.force_login(john)
    client.post(
        url(outage, "reply"),
        {
            "reply-body": "Done.",
            "reply-signature": "on",
            "reply-version": outage.version,
            "reply-seen": outage.entries.latest("id").pk,
        },
    )
    assert outage.entries.latest("id").body == "Done.\n\nJohn Doe\nSupport desk"


def test_an_internal_note_is_recorded_and_never_mailed_to_karen(
    client, outage, john, karen, django_capture_on_commit_callbacks
) -> None:
    client.force_login(john)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            url(outage, "note"), {"note-body": "Escalating to the network team.", "note-title": "Heads up"}
        )
    assert response.status_code == 302
    entry = outage.entries.latest("id")
    assert entry.kind == EntryKind.NOTE and entry.title == "Heads up"
    assert last_event(outage, EventKind.NOTE).entry == entry
    assert mail.outbox  # the alert to the department manager went out
    assert not any("Escalating" in m.body for m in mail.outbox if karen.email in m.to[0])


# ---------------------------------------------------------------- properties


def test_john_claims_and_releases(client, outage, john) -> None:
    client.force_login(john)
    client.post(url(outage, "claim"), {"version": outage.version})
    assert fresh(outage).assignee == john
    assert last_event(outage, EventKind.ASSIGNED).to_value == "John Doe"
    client.post(url(outage, "release"), {"version": fresh(outage).version})
    assert fresh(outage).assignee is None
    assert last_event(outage, EventKind.ASSIGNED).from_value == "John Doe"


def test_the_admin_assigns_john_with_a_note(client, outage, admin, john) -> None:
    client.force_login(admin)
    response = client.post(
        url(outage, "assign"), {"assign-assignee": john.pk, "assign-note": "Yours.", "assign-version": outage.version}
    )
    assert response.status_code == 302
    assert fresh(outage).assignee == john
    assert outage.entries.filter(kind=EntryKind.NOTE, body="Yours.").exists()


def test_assigning_an_agent_of_another_department_is_refused_beside_the_field(client, outage, john, jane) -> None:
    client.force_login(john)
    response = client.post(url(outage, "assign"), {"assign-assignee": jane.pk, "assign-version": outage.version})
    assert response.status_code == 400
    assert "assignee" in response.context["forms"]["assign"].errors
    assert fresh(outage).assignee is None


def test_john_sets_emergency_and_sev_a_and_the_due_date_moves(client, outage, john, priorities, plans) -> None:
    client.force_login(john)
    before = outage.due_at
    client.post(
        url(outage, "priority"), {"priority-priority": priorities["Emergency"].pk, "priority-version": outage.version}
    )
    ticket = fresh(outage)
    assert ticket.priority.name == "Emergency"
    assert last_event(ticket, EventKind.PRIORITY_CHANGED).to_value == "Emergency"
    client.post(url(outage, "sla_plan"), {"sla-sla_plan": plans["Sev-A"].pk, "sla-version": ticket.version})
    ticket = fresh(outage)
    assert ticket.sla_plan.name == "Sev-A"
    assert last_event(ticket, EventKind.SLA_CHANGED).to_value == "Sev-A"
    assert ticket.due_at < before


def test_john_transfers_to_online_banking_with_a_note_and_assigns_jane_in_one_step(
    client, outage, john, jane, online_banking
) -> None:
    client.force_login(john)
    response = client.post(
        url(outage, "transfer"),
        {
            "transfer-department": online_banking.pk,
            "transfer-assignee": jane.pk,
            "transfer-note": "Core banking is down: please take it.",
            "transfer-version": outage.version,
        },
    )
    ticket = fresh(outage)
    assert ticket.department == online_banking and ticket.assignee == jane
    assert last_event(ticket, EventKind.TRANSFERRED).to_value == "Online Banking"
    assert last_event(ticket, EventKind.ASSIGNED).to_value == "Jane Doe"
    assert ticket.entries.filter(kind=EntryKind.NOTE, title="Transfer note").exists()
    # The ticket left John's departments: he is sent back to his queues, told why.
    assert response.status_code == 302 and response.url == reverse("staff:home")
    assert client.get(url(outage)).status_code == 404


def test_a_transfer_to_an_agent_who_cannot_take_the_department_is_refused(client, outage, john, online_banking) -> None:
    client.force_login(john)
    response = client.post(
        url(outage, "transfer"),
        {"transfer-department": online_banking.pk, "transfer-assignee": john.pk, "transfer-version": outage.version},
    )
    assert response.status_code == 400
    assert response.context["forms"]["transfer"].errors["assignee"] == [
        "John Doe cannot take tickets of Online Banking."
    ]
    assert fresh(outage).department.name == "Support"


def test_john_changes_the_help_topic_and_the_status(client, outage, john, statuses) -> None:
    from tickets.models import HelpTopic

    client.force_login(john)
    topic = HelpTopic.objects.get(name="Access Request")
    client.post(url(outage, "help_topic"), {"topic-help_topic": topic.pk, "topic-version": outage.version})
    assert fresh(outage).help_topic == topic
    assert last_event(outage, EventKind.HELP_TOPIC_CHANGED).to_value == "Access Request"
    client.post(
        url(outage, "status"),
        {
            "status-status": statuses["waiting"].pk,
            "status-note": "Asked Karen for logs.",
            "status-version": fresh(outage).version,
        },
    )
    assert fresh(outage).state == TicketState.WAITING
    assert last_event(outage, EventKind.STATUS_CHANGED).to_value == "Waiting on customer"


def test_a_transition_the_state_forbids_is_refused_with_409(client, outage, john, statuses) -> None:
    services.ticket_close(ticket=outage, actor=john)
    client.force_login(john)
    response = client.post(
        url(outage, "status"), {"status-status": statuses["resolved"].pk, "status-version": fresh(outage).version}
    )
    assert response.status_code == 409
    assert "cannot become &#x27;Resolved&#x27;" in response.content.decode()


def test_john_overrides_the_due_date_in_his_time_zone_with_a_reason(client, outage, john) -> None:
    john.time_zone = "Europe/Berlin"
    john.save()
    client.force_login(john)
    with time_machine.travel(datetime(2026, 7, 1, 8, 0, tzinfo=UTC), tick=False):
        ticket = ticket_open(outage.requester, "Summer ticket")
        response = client.post(
            url(ticket, "due"),
            {"due-due_at": "2026-07-02T17:00", "due-reason": "Vendor promised a fix", "due-version": ticket.version},
        )
    assert response.status_code == 302
    ticket = fresh(ticket)
    assert ticket.due_at == datetime(2026, 7, 2, 15, 0, tzinfo=UTC)  # 17:00 in Berlin (summer time)
    event = last_event(ticket, EventKind.DUE_OVERRIDDEN)
    assert event.data["reason"] == "Vendor promised a fix"


def test_a_due_date_in_the_past_or_without_reason_is_refused_beside_the_fields(client, outage, john) -> None:
    client.force_login(john)
    response = client.post(
        url(outage, "due"), {"due-due_at": "2001-01-01T10:00", "due-reason": " ", "due-version": outage.version}
    )
    assert response.status_code == 400
    errors = response.context["forms"]["due"].errors
    assert errors["due_at"] == ["Choose a time in the future."]
    assert errors["reason"]
    assert not outage.events.filter(kind=EventKind.DUE_OVERRIDDEN).exists()


def test_a_stale_edit_is_refused_with_a_clear_message_and_changes_nothing(
    client, outage, john, admin, priorities
) -> None:
    client.force_login(john)
    loaded = client.get(url(outage)).context["ticket"].version
    services.ticket_set_priority(ticket=outage, actor=admin, priority=priorities["Low"])
    response = client.post(
        url(outage, "priority"), {"priority-priority": priorities["High"].pk, "priority-version": loaded}
    )
    assert response.status_code == 409
    assert "was changed by someone else" in response.content.decode()
    assert fresh(outage).priority.name == "Low"
    # The form now carries the current version: sending it again goes through.
    form = response.context["forms"]["priority"]
    assert int(form.data["priority-version"]) == fresh(outage).version
    client.post(
        url(outage, "priority"), {"priority-priority": priorities["High"].pk, "priority-version": fresh(outage).version}
    )
    assert fresh(outage).priority.name == "High"


# ---------------------------------------------------------------- people and other tickets


def test_john_copies_someone_and_removes_them(client, outage, john) -> None:
    client.force_login(john)
    client.post(url(outage, "collaborator_add"), {"cc-email": "CFO@Example.com", "cc-name": "The CFO"})
    cfo = User.objects.get(email="cfo@example.com")
    assert list(outage.collaborators.all()) == [cfo]
    assert last_event(outage, EventKind.COLLABORATOR_ADDED).to_value == "cfo@example.com"
    client.post(url(outage, "collaborator_remove", user_id=cfo.pk))
    assert not outage.collaborators.exists()
    assert last_event(outage, EventKind.COLLABORATOR_REMOVED).from_value == "cfo@example.com"


def test_a_bad_address_is_refused_beside_the_field(client, outage, john) -> None:
    client.force_login(john)
    response = client.post(url(outage, "collaborator_add"), {"cc-email": "not an address"})
    assert response.status_code == 400
    assert "email" in response.context["forms"]["collaborators"].errors


def test_john_merges_a_duplicate_into_the_outage(client, outage, john, ken) -> None:
    duplicate = ticket_open(ken, "Online banking down?", "Cannot log in.")
    client.force_login(john)
    response = client.post(url(duplicate, "merge"), {"merge-number": outage.number})
    assert response.status_code == 302 and response.url == url(outage)
    assert fresh(duplicate).merged_into == outage and fresh(duplicate).state == TicketState.CLOSED
    assert outage.entries.filter(body="Cannot log in.").exists()
    assert ken in outage.collaborators.all()
    assert last_event(outage, EventKind.MERGED).from_value == f"#{duplicate.number}"


def test_merging_into_a_ticket_john_cannot_see_is_refused_as_unknown(
    client, outage, john, karen, online_banking
) -> None:
    hidden = ticket_open(karen, "Card payments fail", department=online_banking)
    client.force_login(john)
    response = client.post(url(outage, "merge"), {"merge-number": hidden.number})
    assert response.status_code == 400
    assert response.context["forms"]["merge"].errors["number"] == [
        f"There is no ticket #{hidden.number} that you can see."
    ]
    assert fresh(outage).merged_into is None


def test_john_links_two_related_tickets(client, outage, john, ken) -> None:
    other = ticket_open(ken, "Mobile app crashes")
    client.force_login(john)
    client.post(url(outage, "link"), {"link-number": other.number})
    assert other in outage.linked.all()
    assert last_event(outage, EventKind.LINKED).to_value == f"#{other.number}"
    assert other in client.get(url(outage)).context["linked"]


def test_an_attachment_downloads_for_agents_who_see_the_ticket_only(client, outage, john, jane, karen) -> None:
    services.ticket_add_message(
        ticket=outage, author=karen, body="Screenshot", uploads=[services.Upload("<b>screen</b>.png", PNG)]
    )
    attachment = Attachment.objects.get()
    client.force_login(john)
    response = client.get(url(outage, "attachment", pk=attachment.pk))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PNG
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"].startswith("attachment;")
    assert "sandbox" in response["Content-Security-Policy"]
    client.force_login(jane)
    assert client.get(url(outage, "attachment", pk=attachment.pk)).status_code == 404
    other = ticket_open(karen, "Other")
    client.force_login(john)
    # An attachment reached through another ticket's number is not found either.
    assert client.get(url(other, "attachment", pk=attachment.pk)).status_code == 404


def test_the_events_read_as_sentences(client, outage, john, admin, priorities) -> None:
    services.ticket_set_priority(ticket=outage, actor=john, priority=priorities["High"])
    services.ticket_assign(ticket=outage, actor=admin, assignee=john)
    with time_machine.travel(timezone_now() + timedelta(days=1)):
        services.ticket_set_due(
            ticket=outage, actor=john, due_at=timezone_now() + timedelta(days=2), reason="Waiting for parts"
        )
    client.force_login(john)
    html = client.get(url(outage)).content.decode()
    assert "Priority changed: Normal → High" in html
    assert "Assigned to John Doe" in html
    assert "Waiting for parts" in html


def timezone_now() -> datetime:
    from django.utils import timezone

    return timezone.now()


def test_garbled_input_gets_a_4xx_and_never_a_server_error(client, outage, john) -> None:
    client.force_login(john)
    posts = {
        "reply": {
            "reply-body": "x",
            "reply-version": "abc",
            "reply-seen": "x",
            "reply-status": "zz",
            "reply-canned": "9",
        },
        "note": {"note-body": ""},
        "assign": {"assign-assignee": "abc", "assign-version": "-1"},
        "claim": {"version": "abc"},
        "transfer": {"transfer-department": "", "transfer-assignee": "x"},
        "priority": {"priority-priority": "99999"},
        "sla_plan": {"sla-sla_plan": "x"},
        "help_topic": {"topic-help_topic": "1.5"},
        "status": {"status-status": ""},
        "due": {"due-due_at": "2026-13-45T99:99", "due-reason": "x" * 600},
        "collaborator_add": {"cc-email": "a@@b"},
        "merge": {"merge-number": "#1 2"},
        "link": {"link-number": "-5"},
    }
    for name, data in posts.items():
        response = client.post(url(outage, name), data)
        assert response.status_code in (302, 400, 409), (name, response.status_code)
    for query in (
        {"page": "-1"},
        {"page": "99999"},
        {"created_from": "2026-02-30"},
        {"assignee": "<script>"},
        {"q": "\x00"},
    ):
        assert client.get(reverse("staff:queue", kwargs={"key": "all"}), query).status_code in (200, 400), query
    response = client.post(reverse("staff:bulk"), {"tickets": ["abc", "1e9"], "action": "explode"})
    assert response.status_code == 302
    assert fresh(outage).version == outage.version
