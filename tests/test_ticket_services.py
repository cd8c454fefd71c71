"""The lifecycle services: every transition, permission and event of tickets/services.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from django.core import mail
from django.db import transaction

from accounts.models import User
from notifications.models import Notification, NotificationKind
from sla.models import ClockState, ClockTarget
from tests.factories import EndUserFactory, ticket_open
from tickets import services
from tickets.attachments import Upload, files_removed_on_error
from tickets.exceptions import ActionNotAllowed, InvalidInput, InvalidTransition, StaleTicket
from tickets.models import Attachment, EntryKind, EventKind, Status, Ticket, TicketState
from tickets.selectors import thread_entries_for_user, tickets_visible_to

pytestmark = pytest.mark.django_db

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
    b"\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82"
)


def kinds(ticket: Ticket) -> list[str]:
    return list(ticket.events.values_list("kind", flat=True))


# ---------------------------------------------------------------- creating


def test_karens_ticket_gets_the_seed_defaults(karen, report_a_problem, support) -> None:
    ticket = ticket_open(karen, "Entire mobile/online banking system is down", help_topic=report_a_problem)
    assert ticket.department == support
    assert ticket.priority.name == "Normal"
    assert ticket.sla_plan.name == "Default SLA"
    assert ticket.status.state == TicketState.OPEN and ticket.state == TicketState.OPEN
    assert ticket.assignee is None
    assert ticket.due_at == ticket.created_at + timedelta(hours=18)
    assert EventKind.CREATED in kinds(ticket)
    entry = ticket.entries.get()
    assert entry.kind == EntryKind.MESSAGE and entry.author == karen


def test_ticket_numbers_are_digits_without_a_leading_zero_and_unique(karen) -> None:
    numbers = [ticket_open(karen).number for _ in range(30)]
    assert len(set(numbers)) == 30
    assert all(str(n)[0] != "0" and len(str(n)) == 8 for n in numbers)


def test_a_collision_on_the_number_draws_another(karen, monkeypatch) -> None:
    first = ticket_open(karen)
    draws = iter([first.number, first.number, 12345678])
    monkeypatch.setattr(services, "ticket_number_random", lambda: next(draws))
    second = ticket_open(karen)
    assert second.number == 12345678


def test_the_plan_comes_from_the_agent_then_the_topic_then_the_department_then_the_default(
    karen, john, report_a_problem, support, plans
) -> None:
    assert ticket_open(karen, sla_plan=plans["Sev-A"], actor=john).sla_plan == plans["Sev-A"]
    report_a_problem.sla_plan = plans["Sev-B"]
    report_a_problem.save()
    assert ticket_open(karen, help_topic=report_a_problem).sla_plan == plans["Sev-B"]
    support.default_sla_plan = plans["Sev-A"]
    support.save()
    assert ticket_open(karen, department=support).sla_plan == plans["Sev-A"]
    support.default_sla_plan = None
    support.save()
    assert ticket_open(karen, department=support).sla_plan == plans["Default SLA"]


def test_an_empty_subject_or_body_creates_nothing(karen) -> None:
    with pytest.raises(InvalidInput) as err:
        ticket_open(karen, subject="  \n ")
    assert err.value.field == "subject"
    with pytest.raises(InvalidInput) as err:
        ticket_open(karen, body="")
    assert err.value.field == "body"
    assert not Ticket.objects.exists()


def test_a_subject_is_one_line(karen) -> None:
    ticket = ticket_open(karen, subject="Hello\r\nBcc: victim@example.com")
    assert ticket.subject == "Hello Bcc: victim@example.com"


def test_html_bodies_are_sanitised_and_kept_as_text_too(karen) -> None:
    ticket = services.ticket_create(
        requester=karen, subject="x", body="", body_html='<p onclick="x()">Hi <script>alert(1)</script><b>there</b></p>'
    )
    entry = ticket.entries.get()
    assert "script" not in entry.body_html and "onclick" not in entry.body_html
    assert "<b>there</b>" in entry.body_html
    assert "Hi" in entry.body and "there" in entry.body


def test_attachments_are_stored_under_generated_names(karen) -> None:
    ticket = ticket_open(karen, uploads=[Upload("../../etc/screen shot.png", PNG)])
    attachment = Attachment.objects.get(entry__ticket=ticket)
    assert attachment.filename == "screen shot.png"
    assert attachment.content_type == "image/png"
    assert "screen" not in attachment.file.name and ".." not in attachment.file.name
    assert attachment.file.read() == PNG


def test_a_refused_attachment_creates_no_ticket(karen) -> None:
    with pytest.raises(InvalidInput, match="not accepted"):
        ticket_open(karen, uploads=[Upload("page.html", b"<html><script>alert(1)</script></html>")])
    with pytest.raises(InvalidInput, match="not accepted"):
        ticket_open(karen, uploads=[Upload("photo.png", b"%PDF-1.4 not a png")])
    assert not Ticket.objects.exists()


def test_a_failure_after_files_were_written_leaves_no_file_behind(karen, monkeypatch, settings) -> None:
    def fail(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(services.clocks, "clocks_start", fail)
    with pytest.raises(RuntimeError):
        ticket_open(karen, uploads=[Upload("a.png", PNG)])
    assert not Ticket.objects.exists()
    media = settings.MEDIA_ROOT
    assert not any(p.is_file() for p in media.rglob("*")) if media.exists() else True


def test_files_written_inside_a_larger_transaction_go_when_it_fails_after_the_ticket_was_made(karen, settings) -> None:
    # A guest's account and their ticket, an incoming message and its record: one transaction
    # around the ticket service, failing after the service itself succeeded.
    with pytest.raises(RuntimeError), files_removed_on_error(), transaction.atomic():
        ticket = ticket_open(karen, uploads=[Upload("a.png", PNG), Upload("b.png", PNG)])
        stored = [Path(a.file.path) for a in Attachment.objects.filter(entry__ticket=ticket)]
        assert len(stored) == 2 and all(path.exists() for path in stored)
        raise RuntimeError("the commit failed: the connection was lost")
    assert not Ticket.objects.exists()
    assert not any(path.exists() for path in stored)


def test_a_failed_change_inside_a_larger_transaction_removes_its_own_files_at_once(
    karen, monkeypatch, settings
) -> None:
    def fail(**kwargs):
        raise RuntimeError("database went away")

    with files_removed_on_error(), transaction.atomic():
        kept = ticket_open(karen, uploads=[Upload("kept.png", PNG)])
        monkeypatch.setattr(services.clocks, "clocks_start", fail)
        with pytest.raises(RuntimeError), transaction.atomic():
            ticket_open(karen, uploads=[Upload("a.png", PNG)])
    assert Ticket.objects.get() == kept
    on_disk = [p for p in settings.MEDIA_ROOT.rglob("*") if p.is_file()]
    assert on_disk == [Path(Attachment.objects.get().file.path)]


def test_a_topic_with_an_agent_assigns_new_tickets_to_them(karen, john, report_a_problem) -> None:
    report_a_problem.auto_assign_to = john
    report_a_problem.save()
    ticket = ticket_open(karen, help_topic=report_a_problem)
    assert ticket.assignee == john
    assert EventKind.ASSIGNED in kinds(ticket)


def test_round_robin_takes_the_departments_agents_in_turn(karen, john, admin, report_a_problem) -> None:
    report_a_problem.round_robin = True
    report_a_problem.save()
    assignees = [ticket_open(karen, help_topic=report_a_problem).assignee for _ in range(4)]
    assert assignees == [john, admin, john, admin]


def test_an_end_user_cannot_use_an_internal_topic(karen, report_a_problem) -> None:
    report_a_problem.is_public = False
    report_a_problem.save()
    with pytest.raises(InvalidInput):
        ticket_open(karen, help_topic=report_a_problem)


# ---------------------------------------------------------------- the thread


def test_johns_reply_meets_first_response_and_reaches_karen(karen, john, plans) -> None:
    plans["Default SLA"].first_response_minutes = 60
    plans["Default SLA"].save()
    ticket = ticket_open(karen)
    entry = services.ticket_reply(ticket=ticket, actor=john, body="We are on it.")
    ticket.refresh_from_db()
    assert entry.kind == EntryKind.RESPONSE
    assert ticket.first_response_at == entry.created_at
    assert ticket.clocks.get(target=ClockTarget.FIRST_RESPONSE).state == ClockState.MET
    assert ticket.first_response_due_at is None
    assert Notification.objects.filter(event__entry=entry, kind=NotificationKind.RESPONSE, recipient=karen).count() == 1


def test_an_end_user_cannot_reply_as_an_agent(karen) -> None:
    ticket = ticket_open(karen)
    with pytest.raises(ActionNotAllowed):
        services.ticket_reply(ticket=ticket, actor=karen, body="I am the agent now")


def test_a_read_only_agent_cannot_reply(karen, viewer) -> None:
    ticket = ticket_open(karen)
    with pytest.raises(ActionNotAllowed):
        services.ticket_reply(ticket=ticket, actor=viewer, body="hi")
    assert not ticket.entries.filter(kind=EntryKind.RESPONSE).exists()


def test_an_agent_of_another_department_cannot_reply(karen, jane) -> None:
    ticket = ticket_open(karen)
    with pytest.raises(ActionNotAllowed):
        services.ticket_reply(ticket=ticket, actor=jane, body="hi")


def test_reply_and_set_status_resolves_with_the_reply(karen, john, statuses) -> None:
    ticket = ticket_open(karen)
    services.ticket_reply(ticket=ticket, actor=john, body="Fixed.", status=statuses[TicketState.RESOLVED])
    ticket.refresh_from_db()
    assert ticket.state == TicketState.RESOLVED and ticket.resolved_at is not None
    assert kinds(ticket)[-3:] == [EventKind.RESPONSE, EventKind.STATUS_CHANGED, EventKind.SLA_MET]


def test_internal_notes_are_for_agents_only(karen, john) -> None:
    ticket = ticket_open(karen)
    note = services.ticket_add_note(ticket=ticket, actor=john, body="Looks like the core switch.")
    assert note.kind == EntryKind.NOTE
    assert note not in thread_entries_for_user(ticket=ticket, user=karen)
    assert note in thread_entries_for_user(ticket=ticket, user=john)
    with pytest.raises(ActionNotAllowed):
        services.ticket_add_note(ticket=ticket, actor=karen, body="can I write a note?")


def test_a_note_never_notifies_the_requester(karen, john, admin) -> None:
    ticket = ticket_open(karen)
    services.ticket_assign(ticket=ticket, actor=admin, assignee=john)
    services.ticket_add_note(ticket=ticket, actor=admin, body="secret")
    recipients = set(Notification.objects.filter(event__kind=EventKind.NOTE).values_list("recipient_email", flat=True))
    assert recipients == {"john@example.com"}


def test_karens_message_brings_a_waiting_ticket_back_to_open(karen, john) -> None:
    ticket = ticket_open(karen)
    services.ticket_wait_on_customer(ticket=ticket, actor=john)
    services.ticket_add_message(ticket=ticket, author=karen, body="Here is the screenshot.")
    ticket.refresh_from_db()
    assert ticket.state == TicketState.OPEN
    assert ticket.last_message_at is not None


def test_a_message_reopens_a_resolved_ticket_within_the_window(karen, john, settings) -> None:
    settings.TICKET_REOPEN_DAYS = 7
    ticket = ticket_open(karen)
    services.ticket_resolve(ticket=ticket, actor=john)
    services.ticket_add_message(ticket=ticket, author=karen, body="It broke again.")
    ticket.refresh_from_db()
    assert ticket.state == TicketState.OPEN and ticket.reopened_at is not None and ticket.resolved_at is None


def test_a_message_past_the_window_is_refused(karen, john, settings) -> None:
    settings.TICKET_REOPEN_DAYS = 7
    ticket = ticket_open(karen)
    services.ticket_close(ticket=ticket, actor=john)
    with time_machine.travel(datetime.now(tz=UTC) + timedelta(days=8)), pytest.raises(InvalidTransition):
        services.ticket_add_message(ticket=ticket, author=karen, body="Hello again")
    assert ticket.entries.count() == 1


def test_only_the_requester_and_collaborators_may_post_messages(karen, ken, john) -> None:
    ticket = ticket_open(karen)
    with pytest.raises(ActionNotAllowed):
        services.ticket_add_message(ticket=ticket, author=ken, body="Let me in")
    services.ticket_add_collaborator(ticket=ticket, actor=john, user=ken)
    services.ticket_add_message(ticket=ticket, author=ken, body="Same problem here")
    assert ticket.entries.filter(author=ken).count() == 1


# ---------------------------------------------------------------- properties


def test_john_sets_emergency_and_sev_a_and_the_due_date_moves(karen, john, priorities, plans) -> None:
    ticket = ticket_open(karen)
    before = ticket.due_at
    services.ticket_set_priority(ticket=ticket, actor=john, priority=priorities["Emergency"])
    ticket = services.ticket_set_sla_plan(ticket=ticket, actor=john, sla_plan=plans["Sev-A"])
    assert ticket.priority.name == "Emergency" and ticket.sla_plan.name == "Sev-A"
    assert ticket.due_at < before
    assert abs((ticket.due_at - ticket.created_at) - timedelta(hours=1)) < timedelta(seconds=5)
    events = ticket.events.filter(kind__in=[EventKind.PRIORITY_CHANGED, EventKind.SLA_CHANGED])
    assert [(e.from_value, e.to_value, e.actor) for e in events] == [
        ("Normal", "Emergency", john),
        ("Default SLA", "Sev-A", john),
    ]


def test_transfer_moves_the_ticket_with_a_note_for_the_new_department(karen, john, jane, online_banking) -> None:
    ticket = ticket_open(karen)
    ticket = services.ticket_transfer(ticket=ticket, actor=john, department=online_banking, note="Banking core is down")
    assert ticket.department == online_banking
    note = ticket.entries.get(kind=EntryKind.NOTE)
    assert note.body == "Banking core is down"
    event = ticket.events.get(kind=EventKind.TRANSFERRED)
    assert (event.from_value, event.to_value) == ("Support", "Online Banking")
    assert Notification.objects.filter(event=event, recipient=jane, kind=NotificationKind.TRANSFER_ALERT).exists()


def test_transfer_to_the_same_department_is_refused(karen, john, support) -> None:
    ticket = ticket_open(karen)
    with pytest.raises(InvalidInput):
        services.ticket_transfer(ticket=ticket, actor=john, department=support)


def test_john_assigns_jane_once_the_ticket_is_in_her_department(karen, john, jane, online_banking) -> None:
    ticket = ticket_open(karen)
    with pytest.raises(InvalidInput):
        services.ticket_assign(ticket=ticket, actor=john, assignee=jane)
    services.ticket_transfer(ticket=ticket, actor=john, department=online_banking)
    # John no longer belongs to the ticket's department.
    with pytest.raises(ActionNotAllowed):
        services.ticket_assign(ticket=ticket, actor=john, assignee=jane)


def test_assignment_notifies_the_new_assignee(karen, john, admin) -> None:
    ticket = ticket_open(karen)
    ticket = services.ticket_assign(ticket=ticket, actor=admin, assignee=john)
    event = ticket.events.get(kind=EventKind.ASSIGNED)
    assert (event.from_value, event.to_value) == ("", "John Doe")
    assert Notification.objects.filter(event=event, recipient=john, kind=NotificationKind.ASSIGNED_ALERT).exists()


def test_claim_and_release_need_only_the_right_to_reply(karen, john, seed) -> None:
    from accounts.models import Role

    Role.objects.filter(name="Agent").update(can_assign=False)
    ticket = ticket_open(karen)
    john = User.objects.get(pk=john.pk)
    ticket = services.ticket_assign(ticket=ticket, actor=john, assignee=john)
    assert ticket.assignee == john
    ticket = services.ticket_assign(ticket=ticket, actor=john, assignee=None)
    assert ticket.assignee is None


def test_a_read_only_agent_cannot_change_properties(karen, viewer, priorities, plans, support) -> None:
    ticket = ticket_open(karen)
    for call in (
        lambda: services.ticket_set_priority(ticket=ticket, actor=viewer, priority=priorities["High"]),
        lambda: services.ticket_set_sla_plan(ticket=ticket, actor=viewer, sla_plan=plans["Sev-A"]),
        lambda: services.ticket_assign(ticket=ticket, actor=viewer, assignee=viewer),
        lambda: services.ticket_resolve(ticket=ticket, actor=viewer),
        lambda: services.ticket_set_due(ticket=ticket, actor=viewer, due_at=datetime.now(tz=UTC), reason="x"),
    ):
        with pytest.raises(ActionNotAllowed):
            call()
    assert kinds(ticket) == [EventKind.CREATED, EventKind.SLA_STARTED]


def test_a_due_date_override_needs_a_reason_and_is_audited(karen, john) -> None:
    ticket = ticket_open(karen)
    due = datetime.now(tz=UTC) + timedelta(days=3)
    with pytest.raises(InvalidInput):
        services.ticket_set_due(ticket=ticket, actor=john, due_at=due, reason=" ")
    ticket = services.ticket_set_due(ticket=ticket, actor=john, due_at=due, reason="Vendor ships the part Friday")
    assert ticket.due_at == due
    assert ticket.events.get(kind=EventKind.DUE_OVERRIDDEN).data == {"reason": "Vendor ships the part Friday"}


def test_a_stale_edit_is_refused(karen, john, priorities) -> None:
    ticket = ticket_open(karen)
    seen = ticket.version
    services.ticket_set_priority(ticket=ticket, actor=john, priority=priorities["High"], expected_version=seen)
    with pytest.raises(StaleTicket):
        services.ticket_set_priority(ticket=ticket, actor=john, priority=priorities["Low"], expected_version=seen)
    ticket.refresh_from_db()
    assert ticket.priority.name == "High"


# ---------------------------------------------------------------- status


@pytest.mark.parametrize(
    ("start", "target", "allowed"),
    [
        (TicketState.OPEN, TicketState.WAITING, True),
        (TicketState.OPEN, TicketState.RESOLVED, True),
        (TicketState.OPEN, TicketState.CLOSED, True),
        (TicketState.WAITING, TicketState.OPEN, True),
        (TicketState.WAITING, TicketState.RESOLVED, True),
        (TicketState.WAITING, TicketState.CLOSED, True),
        (TicketState.RESOLVED, TicketState.OPEN, True),
        (TicketState.RESOLVED, TicketState.CLOSED, True),
        (TicketState.RESOLVED, TicketState.WAITING, False),
        (TicketState.CLOSED, TicketState.OPEN, True),
        (TicketState.CLOSED, TicketState.RESOLVED, False),
        (TicketState.CLOSED, TicketState.WAITING, False),
    ],
)
def test_status_transitions_follow_the_table(karen, john, statuses, start, target, allowed) -> None:
    ticket = ticket_open(karen)
    if start != TicketState.OPEN:
        services.ticket_change_status(ticket=ticket, actor=john, status=statuses[start])
    if allowed:
        ticket = services.ticket_change_status(ticket=ticket, actor=john, status=statuses[target])
        assert ticket.state == target
        event = ticket.events.filter(kind=EventKind.STATUS_CHANGED).last()
        assert event.data["from_state"] == start and event.data["to_state"] == target
    else:
        with pytest.raises(InvalidTransition):
            services.ticket_change_status(ticket=ticket, actor=john, status=statuses[target])
        ticket.refresh_from_db()
        assert ticket.state == start


def test_moving_to_the_status_it_has_is_refused(karen, john, statuses) -> None:
    ticket = ticket_open(karen)
    with pytest.raises(InvalidTransition):
        services.ticket_change_status(ticket=ticket, actor=john, status=statuses[TicketState.OPEN])


def test_statuses_of_the_same_state_move_freely(karen, john) -> None:
    in_progress = Status.objects.create(name="In progress", state=TicketState.OPEN)
    ticket = services.ticket_change_status(ticket=ticket_open(karen), actor=john, status=in_progress)
    assert ticket.status == in_progress and ticket.state == TicketState.OPEN


def test_karen_may_close_her_own_ticket_but_not_reopen_or_resolve_it(karen, ken, statuses) -> None:
    ticket = ticket_open(karen)
    with pytest.raises(ActionNotAllowed):
        services.ticket_close(ticket=ticket, actor=ken)
    with pytest.raises(ActionNotAllowed):
        services.ticket_resolve(ticket=ticket, actor=karen)
    ticket = services.ticket_close(ticket=ticket, actor=karen)
    assert ticket.state == TicketState.CLOSED and ticket.closed_at is not None
    with pytest.raises(ActionNotAllowed):
        services.ticket_reopen(ticket=ticket, actor=karen)


def test_resolving_notifies_karen_with_the_survey(karen, john) -> None:
    ticket = services.ticket_resolve(ticket=ticket_open(karen), actor=john)
    assert Notification.objects.filter(ticket=ticket, kind=NotificationKind.RESOLVED_NOTICE, recipient=karen).exists()


def test_resolved_tickets_close_after_the_configured_days(karen, john, settings) -> None:
    settings.TICKET_AUTOCLOSE_DAYS = 3
    ticket = services.ticket_resolve(ticket=ticket_open(karen), actor=john)
    assert services.tickets_autoclose() == 0
    with time_machine.travel(datetime.now(tz=UTC) + timedelta(days=4)):
        assert services.tickets_autoclose() == 1
    ticket.refresh_from_db()
    assert ticket.state == TicketState.CLOSED
    assert ticket.events.filter(kind=EventKind.STATUS_CHANGED).last().actor is None


def test_karen_rates_the_help_once_after_resolution(karen, john) -> None:
    ticket = ticket_open(karen)
    with pytest.raises(InvalidTransition):
        services.ticket_rate(ticket=ticket, actor=karen, rating=5)
    services.ticket_resolve(ticket=ticket, actor=john)
    with pytest.raises(InvalidInput):
        services.ticket_rate(ticket=ticket, actor=karen, rating=6)
    ticket = services.ticket_rate(ticket=ticket, actor=karen, rating=5, comment="Quick!")
    assert (ticket.satisfaction_rating, ticket.satisfaction_comment) == (5, "Quick!")
    with pytest.raises(InvalidTransition):
        services.ticket_rate(ticket=ticket, actor=karen, rating=1)


def test_only_karen_rates_her_ticket(karen, ken, john) -> None:
    ticket = services.ticket_resolve(ticket=ticket_open(karen), actor=john)
    with pytest.raises(ActionNotAllowed):
        services.ticket_rate(ticket=ticket, actor=ken, rating=1)


# ---------------------------------------------------------------- merge, link, collaborators


def test_merging_moves_the_thread_and_closes_the_duplicate(karen, ken, john) -> None:
    original = ticket_open(karen, "VPN down")
    duplicate = ticket_open(ken, "VPN not working")
    target = services.ticket_merge(ticket=duplicate, into=original, actor=john)
    duplicate.refresh_from_db()
    assert duplicate.state == TicketState.CLOSED and duplicate.merged_into == original
    assert target.entries.count() == 2
    assert ken in target.collaborators.all()
    assert EventKind.MERGED in kinds(duplicate) and EventKind.MERGED in kinds(original)
    with pytest.raises(InvalidTransition):
        services.ticket_merge(ticket=duplicate, into=original, actor=john)


def test_linking_relates_both_tickets(karen, john) -> None:
    one, two = ticket_open(karen), ticket_open(karen)
    services.ticket_link(ticket=one, other=two, actor=john)
    assert list(one.linked.all()) == [two] and list(two.linked.all()) == [one]
    with pytest.raises(InvalidInput):
        services.ticket_link(ticket=one, other=one, actor=john)


def test_collaborators_are_added_and_removed_with_events(karen, john) -> None:
    ticket = ticket_open(karen)
    friend = EndUserFactory(email="friend@example.org")
    services.ticket_add_collaborator(ticket=ticket, actor=john, user=friend)
    assert ticket in tickets_visible_to(friend)
    services.ticket_remove_collaborator(ticket=ticket, actor=john, user=friend)
    assert ticket not in tickets_visible_to(friend)
    assert kinds(ticket)[-2:] == [EventKind.COLLABORATOR_ADDED, EventKind.COLLABORATOR_REMOVED]


# ---------------------------------------------------------------- access


def test_who_sees_which_ticket(karen, ken, john, jane, admin, online_banking) -> None:
    karens = ticket_open(karen)
    kens = ticket_open(ken)
    banking = services.ticket_transfer(ticket=ticket_open(ken), actor=admin, department=online_banking)
    assert set(tickets_visible_to(karen)) == {karens}
    assert set(tickets_visible_to(ken)) == {kens, banking}
    assert set(tickets_visible_to(john)) == {karens, kens}
    assert set(tickets_visible_to(jane)) == {banking}
    assert set(tickets_visible_to(admin)) == {karens, kens, banking}
    services.ticket_assign(ticket=karens, actor=admin, assignee=admin)
    # An agent also sees what is assigned to them, in any department.
    services.ticket_transfer(ticket=karens, actor=admin, department=online_banking)
    services.ticket_assign(ticket=banking, actor=admin, assignee=jane)
    assert banking in tickets_visible_to(jane)


# ---------------------------------------------------------------- after commit


def test_mail_leaves_only_after_the_change_commits(karen, john, django_capture_on_commit_callbacks) -> None:
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        ticket = ticket_open(karen)
    assert len(callbacks) >= 1
    assert mail.outbox == []
    for callback in callbacks:
        callback()
    subjects = sorted(m.subject for m in mail.outbox)
    assert f"[#{ticket.number}] Printer is jammed" in subjects
    auto = next(m for m in mail.outbox if m.to == ["Karen Doe <karen@example.com>"])
    assert auto.extra_headers["Auto-Submitted"] == "auto-generated"
    assert "/t/" in auto.body


def test_a_failed_change_plans_no_mail(karen, john, django_capture_on_commit_callbacks) -> None:
    ticket = ticket_open(karen)
    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(ActionNotAllowed):
        services.ticket_reply(ticket=ticket, actor=karen, body="not an agent")
    assert callbacks == []


def test_a_due_date_years_ahead_is_refused_and_changes_nothing(karen, john) -> None:
    ticket = ticket_open(karen)
    before = ticket.due_at
    with pytest.raises(InvalidInput) as err:
        services.ticket_set_due(ticket=ticket, actor=john, due_at=datetime(2099, 1, 1, tzinfo=UTC), reason="Parts")
    assert err.value.field == "due_at"
    ticket.refresh_from_db()
    assert ticket.due_at == before and not ticket.events.filter(kind=EventKind.DUE_OVERRIDDEN).exists()
