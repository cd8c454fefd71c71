"""What users write is shown as text (or sanitised HTML) on every portal page; every form needs
its CSRF token; the pages keep to the strict CSP (no inline script or style)."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from accounts.models import User
from tests.factories import ticket_open
from tickets import services
from tickets.attachments import Upload
from tickets.models import Attachment, Ticket

pytestmark = pytest.mark.django_db

SCRIPT = "<script>alert('xss')</script>"
IMG = '<img src=x onerror="alert(1)">'
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
    b"\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82"
)


def assert_shown_as_text(page: str, payload: str) -> None:
    assert payload not in page
    assert "onerror=" not in page.replace("onerror=&quot;", "")
    assert "<script>alert" not in page


def test_a_guests_payloads_are_text_on_the_confirmation_the_ticket_and_my_tickets(client, report_a_problem) -> None:
    client.post(
        reverse("portal:open"),
        {
            "help_topic": report_a_problem.pk,
            "name": f"Mallory {IMG}",
            "email": "mallory@example.org",
            "subject": f"Help {SCRIPT}",
            "body": f"Body {IMG} {SCRIPT}",
            "attachments": [SimpleUploadedFile(f"{IMG}.png", PNG, "image/png")],
        },
    )
    ticket = Ticket.objects.get()
    mallory = User.objects.get(email="mallory@example.org")
    attachment = Attachment.objects.get()
    assert attachment.filename == f"{IMG}.png"

    done = client.get(reverse("portal:open_done")).content.decode()
    assert_shown_as_text(done, SCRIPT)

    token = services.access_link_issue(ticket=ticket, recipient=mallory)
    page = client.get(f"/t/{token}/").content.decode()
    assert_shown_as_text(page, SCRIPT)
    assert_shown_as_text(page, IMG)
    assert "Help &lt;script&gt;alert(&#x27;xss&#x27;)&lt;/script&gt;" in page
    assert "Mallory &lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in page
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;.png" in page

    mallory.set_password("a-long-passphrase-9")
    mallory.save()
    client.force_login(mallory)
    listing = client.get(reverse("portal:tickets")).content.decode()
    assert_shown_as_text(listing, SCRIPT)
    assert "Help &lt;script&gt;" in listing
    profile = client.get(reverse("portal:profile")).content.decode()
    assert_shown_as_text(profile, IMG)


def test_html_bodies_are_sanitised_and_inline_images_point_at_their_attachment(client, karen) -> None:
    ticket = ticket_open(
        karen,
        body="",
        body_html=(
            '<p>See <b>this</b><img src="cid:shot1@mail" alt="shot"></p>'
            '<script>alert(1)</script><a href="javascript:alert(2)">x</a><p onclick="alert(3)">y</p>'
        ),
        uploads=[Upload("shot.png", PNG, content_id="<shot1@mail>")],
    )
    attachment = Attachment.objects.get(entry__ticket=ticket)
    client.force_login(karen)
    page = client.get(reverse("portal:ticket", args=[ticket.number])).content.decode()
    assert "<b>this</b>" in page
    assert f'src="{reverse("portal:attachment", args=[attachment.pk])}"' in page
    for bad in ("<script>alert(1)", "javascript:", "onclick"):
        assert bad not in page


def test_an_agents_name_and_reply_are_escaped_too(client, karen, john) -> None:
    User.objects.filter(pk=john.pk).update(name=f"John {SCRIPT}")
    john.refresh_from_db()
    ticket = ticket_open(karen)
    services.ticket_assign(ticket=ticket, actor=john, assignee=john)
    services.ticket_reply(ticket=ticket, actor=john, body=f"Try {IMG}")
    client.force_login(karen)
    page = client.get(reverse("portal:ticket", args=[ticket.number])).content.decode()
    assert_shown_as_text(page, SCRIPT)
    assert_shown_as_text(page, IMG)


def test_form_errors_echo_input_as_text(client, report_a_problem, settings) -> None:
    settings.ATTACHMENT_MAX_FILES = 5
    response = client.post(
        reverse("portal:open"),
        {
            "help_topic": report_a_problem.pk,
            "name": "x",
            "email": "x@example.org",
            "subject": "s",
            "body": "b",
            "attachments": [SimpleUploadedFile(f"{SCRIPT}.exe", b"MZ\x90\x00" * 10, "application/octet-stream")],
        },
    )
    assert response.status_code == 400
    assert_shown_as_text(response.content.decode(), SCRIPT)


@pytest.fixture
def csrf_client() -> Client:
    return Client(enforce_csrf_checks=True)


def test_every_portal_form_needs_its_csrf_token(csrf_client, karen, report_a_problem) -> None:
    ticket = ticket_open(karen)
    token = services.access_link_issue(ticket=ticket, recipient=karen)
    anonymous_posts = {
        reverse("portal:open"): {
            "help_topic": report_a_problem.pk,
            "name": "a",
            "email": "a@example.org",
            "subject": "s",
            "body": "b",
        },
        reverse("portal:status"): {"email": "karen@example.com", "number": str(ticket.number)},
        reverse("portal:login"): {"username": "karen@example.com", "password": "x"},
        reverse("portal:register"): {"name": "a", "email": "a@example.org"},
        reverse("portal:password_reset"): {"email": "karen@example.com"},
        f"/t/{token}/reply/": {"body": "forged"},
        f"/t/{token}/close/": {},
        f"/t/{token}/rate/": {"rating": "1"},
    }
    for url, data in anonymous_posts.items():
        assert csrf_client.post(url, data).status_code == 403, url
    csrf_client.force_login(karen)
    signed_in_posts = {
        reverse("portal:ticket_reply", args=[ticket.number]): {"body": "forged"},
        reverse("portal:ticket_close", args=[ticket.number]): {},
        reverse("portal:ticket_rate", args=[ticket.number]): {"rating": "1"},
        reverse("portal:profile"): {"name": "Forged"},
        reverse("portal:password_change"): {"old_password": "x", "new_password1": "y", "new_password2": "y"},
        reverse("portal:logout"): {},
    }
    for url, data in signed_in_posts.items():
        assert csrf_client.post(url, data).status_code == 403, url
    ticket.refresh_from_db()
    assert ticket.entries.count() == 1 and ticket.is_active and Ticket.objects.count() == 1


def test_the_pages_carry_their_csrf_token_and_no_inline_script_or_style(client, karen, john) -> None:
    ticket = ticket_open(karen)
    services.ticket_resolve(ticket=ticket, actor=john)
    token = services.access_link_issue(ticket=ticket, recipient=karen)
    anonymous = [
        reverse("portal:home"),
        reverse("portal:open"),
        reverse("portal:status"),
        reverse("portal:login"),
        reverse("portal:register"),
        reverse("portal:password_reset"),
        f"/t/{token}/",
    ]
    pages = {url: client.get(url) for url in anonymous}
    client.force_login(karen)
    for url in (
        reverse("portal:tickets"),
        reverse("portal:ticket", args=[ticket.number]),
        reverse("portal:profile"),
        reverse("portal:password_change"),
    ):
        pages[url] = client.get(url)
    for url, response in pages.items():
        html = response.content.decode()
        assert response.status_code == 200, url
        assert "script-src 'self'" in response["Content-Security-Policy"], url
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), url
        assert not re.search(r"\sstyle=", html), url
        assert not re.search(r"\son[a-z]+=", html), url
        if "<form" in html and 'method="post"' in html:
            assert "csrfmiddlewaretoken" in html, url
        assert '<main id="main"' in html and "<header>" in html, url
