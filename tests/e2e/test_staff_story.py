"""The seed story's steps 2 to 4 in a real browser (headless Chromium driven by Playwright):
John triages Karen's outage and hands it to Jane; Jane notes, replies and resolves it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.core import mail

from notifications.models import Notification, NotificationKind
from tests.conftest import PASSWORD
from tests.factories import ticket_open
from tickets.models import EntryKind, EventKind, Ticket, TicketState

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
SUBJECT = "Entire mobile/online banking system is down"


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def sign_in(page, base: str, email: str) -> None:
    page.goto(f"{base}/staff/login/")
    page.fill("input[name=username]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/staff/")


def test_john_triages_karens_outage_and_jane_resolves_it(server, browser, karen, john, jane, report_a_problem) -> None:
    ticket = ticket_open(
        karen,
        SUBJECT,
        "Customers cannot log in to mobile or online banking since 9:00.",
        help_topic=report_a_problem,
    )
    assert ticket.due_at is not None
    base = server
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(15_000)
    problems: list[str] = []
    # Script errors, CSP refusals (logged as console errors) and failed loads, browsers' own
    # favicon request aside.
    page.on(
        "console",
        lambda m: problems.append(m.text) if m.type == "error" and not m.text.startswith("Failed to load") else None,
    )
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on(
        "response",
        lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 and "favicon" not in r.url else None,
    )

    # Step 2. John sees the ticket in the Unassigned queue and opens it.
    sign_in(page, base, john.email)
    page.click("a[data-queue=unassigned]")
    row = page.locator("table.ticket-list tbody tr", has_text=SUBJECT)
    row.wait_for()
    assert row.locator("time[data-countdown]").inner_text().startswith("in ")  # the countdown script ran
    shot(page, "staff-01-john-unassigned-queue.png")
    row.locator("a.ticket-link").click()
    page.wait_for_url(f"{base}/staff/tickets/{ticket.number}/")
    props = page.locator(".ticket-props").inner_text()
    for value in ("Open", "Normal", "Support", "Unassigned", "Report a Problem", "Default SLA", "Web"):
        assert value in props
    due_before = page.locator("#ticket-due time").get_attribute("datetime")
    shot(page, "staff-02-john-reads-the-ticket.png")

    # He sets Emergency and Sev-A: the due date moves.
    page.click("details:has(#priority-form) > summary")
    page.select_option("#id_priority-priority", label="Emergency")
    page.click("#priority-form button[type=submit]")
    page.locator(".alert", has_text="Priority: Emergency.").wait_for()
    page.click("details:has(#sla-form) > summary")
    page.select_option("#id_sla-sla_plan", label="Sev-A")
    page.click("#sla-form button[type=submit]")
    page.locator(".alert", has_text="SLA plan: Sev-A.").wait_for()
    assert page.locator("#ticket-priority").inner_text() == "Emergency"
    assert page.locator("#ticket-sla").inner_text() == "Sev-A"
    due_after = page.locator("#ticket-due time").get_attribute("datetime")
    assert due_after < due_before
    shot(page, "staff-03-john-sets-emergency-and-sev-a.png")

    # He transfers it to Online Banking with a note for them, and assigns it to Jane.
    page.click("details:has(#transfer-form) > summary")
    page.select_option("#id_transfer-department", label="Online Banking")
    options = page.locator("#id_transfer-assignee option:not([hidden])").all_inner_texts()
    assert "Jane Doe" in options and "John Doe" not in options  # the script narrowed the list
    page.select_option("#id_transfer-assignee", label="Jane Doe")
    page.fill("#id_transfer-note", "Core banking outage: the load balancer pool is empty. Yours, Jane.")
    shot(page, "staff-04-john-transfers-to-online-banking.png")
    page.click("#transfer-form button[type=submit]")
    page.wait_for_url(f"{base}/staff/")
    page.locator(".alert", has_text="is no longer in your departments").wait_for()
    shot(page, "staff-05-john-after-the-handover.png")
    ticket.refresh_from_db()
    assert (ticket.department.name, ticket.assignee, ticket.priority.name, ticket.sla_plan.name) == (
        "Online Banking",
        jane,
        "Emergency",
        "Sev-A",
    )
    assert Notification.objects.filter(kind=NotificationKind.ASSIGNED_ALERT, recipient=jane).exists()
    assert Notification.objects.filter(kind=NotificationKind.TRANSFER_ALERT, recipient=jane).exists()
    page.click("form[action='/staff/logout/'] button")
    page.wait_for_url(f"{base}/staff/login/")

    # Step 3. Jane finds it under My Tickets, reads John's note, leaves her own.
    sign_in(page, base, jane.email)
    page.click("a[data-queue=mine]")
    page.locator("table.ticket-list tbody tr", has_text=SUBJECT).wait_for()
    shot(page, "staff-06-jane-my-tickets.png")
    page.locator("table.ticket-list a.ticket-link", has_text=str(ticket.number)).click()
    page.wait_for_url(f"{base}/staff/tickets/{ticket.number}/")
    assert "the load balancer pool is empty" in page.locator("article.entry-note").first.inner_text()
    page.keyboard.press("n")  # the shortcut opens the internal note
    page.locator("#id_note-body").fill("Rolled the release back; watching the error rate. John: thanks.")
    page.click("#note-form button[type=submit]")
    page.locator(".alert", has_text="Internal note added.").wait_for()
    assert page.locator("article.entry-note").count() == 2

    # She replies to Karen; typing takes the reply lock.
    page.keyboard.press("r")
    body = page.locator("#id_reply-body")
    body.fill("We found the cause and rolled the update back; service is coming back now.")
    page.wait_for_function("() => true")
    page.click("#reply-submit")
    page.locator(".alert", has_text="Reply sent to Karen Doe.").wait_for()

    # Step 4. A final reply that marks it Resolved.
    page.locator("#id_reply-body").fill("Mobile and online banking are fully restored. Sorry for the trouble.")
    page.select_option("#id_reply-status", label="Resolved")
    page.click("#reply-submit")
    page.locator(".alert", has_text="Status: Resolved.").wait_for()
    assert page.locator("#ticket-status").inner_text() == "Resolved"
    shot(page, "staff-07-jane-resolves-with-a-final-reply.png")

    ticket = Ticket.objects.get(pk=ticket.pk)
    assert ticket.state == TicketState.RESOLVED
    responses = list(ticket.entries.filter(kind=EntryKind.RESPONSE).values_list("author__name", flat=True))
    assert responses == ["Jane Doe", "Jane Doe"]
    assert ticket.entries.filter(kind=EntryKind.NOTE).count() == 2
    kinds = set(ticket.events.values_list("kind", flat=True))
    assert {EventKind.PRIORITY_CHANGED, EventKind.SLA_CHANGED, EventKind.TRANSFERRED, EventKind.ASSIGNED} <= kinds
    # Karen got both replies by email, and never a note.
    to_karen = [m for m in mail.outbox if karen.email in m.to[0]]
    assert any("rolled the update back" in m.body for m in to_karen)
    assert any("fully restored" in m.body for m in to_karen)
    assert not any(re.search("load balancer pool|error rate", m.body) for m in to_karen)
    assert problems == []
    context.close()
