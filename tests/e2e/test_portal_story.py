"""The seed story's intake and follow-up in a real browser: Karen opens a ticket with an
attachment, follows the link from her auto-response mail on her phone, replies, and sees
John's answer. Headless Chromium drives the app served by the live server; Celery runs
eagerly inside it, so the outbox's mail really goes out (to Django's test mailbox)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.core import mail
from django.db import connections

from tests.conftest import PASSWORD
from tickets import services
from tickets.models import EntryKind, Ticket

pytestmark = pytest.mark.e2e

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
    b"\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82"
)


@pytest.fixture
def site(live_server, settings):
    # Links in mail point at the live server; cookies travel over its plain HTTP.
    settings.SITE_URL = live_server.url
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = False
    return live_server.url


def watch_console(page, problems: list[str]) -> None:
    """CSP violations and script errors show up here; the story expects none. (The site has
    no favicon yet: the browser's own request for one is answered empty.)"""
    page.route("**/favicon.ico", lambda route: route.fulfill(status=204))
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))


def test_karen_opens_a_ticket_follows_the_mailed_link_replies_and_sees_johns_response(
    site, browser, karen, john, report_a_problem, tmp_path
) -> None:
    try:
        story(site, browser, karen, john, tmp_path)
    finally:
        # The ORM calls made while Playwright's loop runs get a connection of their own
        # (Django keeps connections per context); close it, or the test database cannot be dropped.
        connections.close_all()


def story(site, browser, karen, john, tmp_path) -> None:
    from playwright.sync_api import expect

    screenshot = tmp_path / "banking-error.png"
    screenshot.write_bytes(PNG)
    problems: list[str] = []

    # At her desk: Karen signs in and opens the ticket with a screenshot attached.
    desk = browser.new_context(viewport={"width": 1280, "height": 900})
    page = desk.new_page()
    watch_console(page, problems)
    page.goto(f"{site}/")
    page.get_by_role("link", name="Sign in").first.click()
    page.get_by_label("Email").fill("karen@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="My tickets")).to_be_visible()

    page.get_by_role("navigation", name="Portal").get_by_role("link", name="Open a ticket").click()
    page.get_by_label("Help topic").select_option(label="Report a Problem")
    page.get_by_label("Summary").fill("Entire mobile/online banking system is down")
    page.get_by_label("Description").fill("Since 9:00 no customer can sign in to mobile or online banking.")
    page.get_by_label("Attachments").set_input_files(str(screenshot))
    page.screenshot(path=ARTIFACTS / "portal-1-karen-opens-a-ticket.png", full_page=True)
    page.get_by_role("button", name="Open the ticket").click()
    expect(page.get_by_role("heading", name="Your ticket is open")).to_be_visible()

    ticket = Ticket.objects.get()
    assert ticket.requester == karen and ticket.department.name == "Support"
    assert ticket.sla_plan.name == "Default SLA" and ticket.priority.name == "Normal"
    expect(page.locator(".ticket-number")).to_have_text(f"#{ticket.number}")
    page.screenshot(path=ARTIFACTS / "portal-2-confirmation-with-number.png", full_page=True)

    # The auto-response went out through the outbox, with the number and a secret link.
    [auto] = [m for m in mail.outbox if m.to == ["Karen Doe <karen@example.com>"]]
    assert f"#{ticket.number}" in auto.subject
    link = re.search(rf"{re.escape(site)}/t/[A-Za-z0-9_-]+/", auto.body).group(0)

    # On her phone, not signed in: the link opens the ticket.
    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    mobile = phone.new_page()
    watch_console(mobile, problems)
    mobile.goto(link)
    expect(mobile.get_by_role("heading", name="Entire mobile/online banking system is down")).to_be_visible()
    expect(mobile.get_by_text("Not assigned yet")).to_be_visible()
    with mobile.expect_download() as download:
        mobile.get_by_role("link", name="banking-error.png").click()
    assert Path(download.value.path()).read_bytes() == PNG
    mobile.screenshot(path=ARTIFACTS / "portal-3-secret-link-on-a-phone.png", full_page=True)

    mobile.get_by_label("Your reply").fill("Still down for the whole branch, and the ATMs too.")
    mobile.get_by_role("button", name="Send reply").click()
    expect(mobile.get_by_text("Your reply was added to the ticket.")).to_be_visible()
    expect(mobile.get_by_text("Still down for the whole branch, and the ATMs too.")).to_be_visible()
    message = ticket.entries.order_by("created_at", "id").last()
    assert message.kind == EntryKind.MESSAGE and message.author == karen

    # John answers from the staff side.
    services.ticket_assign(ticket=ticket, actor=john, assignee=john)
    services.ticket_reply(ticket=ticket, actor=john, body="The load balancer failed over; banking is back up.")
    mobile.reload()
    expect(mobile.get_by_text("The load balancer failed over; banking is back up.")).to_be_visible()
    expect(mobile.get_by_text("John Doe").first).to_be_visible()
    mobile.screenshot(path=ARTIFACTS / "portal-4-agent-response-seen-through-the-link.png", full_page=True)

    # Back at her desk, My tickets shows the update.
    page.goto(f"{site}/tickets/")
    expect(page.get_by_role("link", name=f"#{ticket.number}")).to_be_visible()
    page.screenshot(path=ARTIFACTS / "portal-5-my-tickets.png", full_page=True)

    assert any("The load balancer failed over" in m.body for m in mail.outbox if "karen@example.com" in m.to[0])
    assert problems == []


def test_a_guest_is_told_at_once_of_a_file_too_large_and_taken_to_the_field_to_fix(
    site, browser, report_a_problem, settings, tmp_path
) -> None:
    try:
        guest_form(site, browser, settings, tmp_path)
    finally:
        connections.close_all()


def guest_form(site, browser, settings, tmp_path) -> None:
    from playwright.sync_api import expect

    settings.ATTACHMENT_MAX_BYTES = 1024
    big = tmp_path / "dump.txt"
    big.write_bytes(b"x" * 4096)
    problems: list[str] = []
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    watch_console(page, problems)
    page.goto(f"{site}/open/")
    page.get_by_label("Help topic").select_option(label="General Inquiry")
    page.get_by_label("Your name").fill("Greta Guest")
    page.get_by_label("Email address").fill("greta@example.org")
    page.get_by_label("Description").fill("The shared drive says it is full.")
    page.get_by_label("Attachments").set_input_files(str(big))
    expect(page.get_by_text("dump.txt is too large: files may be up to 1 KB.")).to_be_visible()
    page.get_by_role("button", name="Open the ticket").click()
    expect(page.get_by_label("Attachments")).to_be_focused()
    assert not Ticket.objects.exists()

    # Without the file, the server finds the summary missing and the focus goes to it.
    page.get_by_label("Attachments").set_input_files([])
    page.get_by_role("button", name="Open the ticket").click()
    expect(page.get_by_text("This field is required.")).to_be_visible()
    expect(page.get_by_label("Summary")).to_be_focused()
    expect(page.get_by_label("Your name")).to_have_value("Greta Guest")
    page.screenshot(path=ARTIFACTS / "portal-6-guest-form-error-beside-the-field.png", full_page=True)
    assert not Ticket.objects.exists()
    # The page with the errors is answered 400, which the console notes; nothing else may show.
    assert [p for p in problems if "status of 400" not in p] == []
