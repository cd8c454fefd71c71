"""An admin's email-template preview shows the subject and text parts as text: markup in them
(typed by this admin, or saved earlier by another) is escaped, never run in the admin pages."""

from __future__ import annotations

import pytest

from notifications.render import email_render_source, email_sample_context

pytestmark = pytest.mark.django_db

HOSTILE = "</pre><script>alert(1)</script><img src=x onerror=alert(2)>"


def test_the_preview_escapes_the_text_and_subject_parts(client, admin) -> None:
    client.force_login(admin)
    response = client.post(
        "/staff/admin/mail/templates/response/",
        {"subject": "Re: {{ ticket.subject }} " + HOSTILE, "text": HOSTILE, "html": "<p>" + HOSTILE, "preview": "1"},
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "Preview (made-up ticket)" in page
    assert "<script>alert(1)" not in page
    assert "onerror=alert(2)>" not in page.replace("&lt;img src=x onerror=alert(2)&gt;", "")
    assert "&lt;/pre&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_rendered_subject_and_text_are_plain_strings() -> None:
    sources = {"subject": "<b>{{ ticket.subject }}</b>", "text": "<i>{{ entry.body }}</i>", "html": "<p>x</p>"}
    rendered = email_render_source(sources, email_sample_context("response"))
    # Not marked safe: wherever a page shows them, Django escapes them.
    assert type(rendered.subject) is str and type(rendered.text) is str
    assert rendered.text.startswith("<i>We found the cause")
