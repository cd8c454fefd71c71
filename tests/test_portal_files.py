"""Attachment downloads: only for those who may see the ticket, always as a download, with a
safe type, nosniff, a sandboxing CSP and a name encoded for any characters."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import timezone

from tests.factories import ticket_open
from tickets import services
from tickets.attachments import Upload
from tickets.models import Attachment

pytestmark = pytest.mark.django_db

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
    b"\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82"
)


def attach(ticket, filename: str) -> Attachment:
    return Attachment.objects.get(entry=ticket.entries.first(), filename=filename)


def body(response) -> bytes:
    return b"".join(response.streaming_content)


@pytest.fixture
def karens_ticket(karen):
    return ticket_open(
        karen, uploads=[Upload("screen.png", PNG), Upload("error log.txt", b"<script>alert(1)</script>")]
    )


def test_karen_downloads_her_attachment_as_a_safe_download(client, karen, karens_ticket) -> None:
    attachment = attach(karens_ticket, "screen.png")
    client.force_login(karen)
    response = client.get(reverse("portal:attachment", args=[attachment.pk]))
    assert response.status_code == 200 and body(response) == PNG
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"] == 'attachment; filename="screen.png"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert response["Cache-Control"] == "private, no-store"


def test_text_that_looks_like_html_is_served_as_plain_text(client, karen, karens_ticket) -> None:
    attachment = attach(karens_ticket, "error log.txt")
    client.force_login(karen)
    response = client.get(reverse("portal:attachment", args=[attachment.pk]))
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="error log.txt"'


def test_a_type_outside_the_allowlist_is_served_as_octet_stream(client, karen, karens_ticket) -> None:
    attachment = attach(karens_ticket, "screen.png")
    Attachment.objects.filter(pk=attachment.pk).update(content_type="text/html")
    client.force_login(karen)
    assert client.get(reverse("portal:attachment", args=[attachment.pk]))["Content-Type"] == "application/octet-stream"


@pytest.mark.parametrize(
    ("name", "header"),
    [
        ('Grüße "Köln"; x.txt', "attachment; filename*=utf-8''Gr%C3%BC%C3%9Fe%20%22K%C3%B6ln%22%3B%20x.txt"),
        ('say "hi".txt', 'attachment; filename="say \\"hi\\".txt"'),
        ("..\\..\\boot.ini.txt", 'attachment; filename="boot.ini.txt"'),
        ("报告.txt", "attachment; filename*=utf-8''%E6%8A%A5%E5%91%8A.txt"),
    ],
)
def test_any_file_name_is_encoded_in_content_disposition(client, karen, name, header) -> None:
    ticket = ticket_open(karen, uploads=[Upload(name, b"plain words")])
    attachment = Attachment.objects.get(entry__ticket=ticket)
    client.force_login(karen)
    response = client.get(reverse("portal:attachment", args=[attachment.pk]))
    assert response["Content-Disposition"] == header
    assert "\n" not in response["Content-Disposition"]


def test_another_users_attachment_is_a_404_like_a_missing_one(client, ken, karens_ticket) -> None:
    attachment = attach(karens_ticket, "screen.png")
    client.force_login(ken)
    theirs = client.get(reverse("portal:attachment", args=[attachment.pk]))
    missing = client.get(reverse("portal:attachment", args=[attachment.pk + 1000]))
    assert theirs.status_code == missing.status_code == 404
    assert theirs.content == missing.content


def test_visitors_are_sent_to_sign_in_whether_or_not_the_file_exists(client, karens_ticket) -> None:
    attachment = attach(karens_ticket, "screen.png")
    for pk in (attachment.pk, 999999):
        response = client.get(reverse("portal:attachment", args=[pk]))
        assert response.status_code == 302 and response["Location"].startswith(reverse("portal:login"))


def test_a_notes_files_reach_agents_of_the_department_and_never_the_requester(client, karen, john, jane) -> None:
    ticket = ticket_open(karen)
    note = services.ticket_add_note(
        ticket=ticket, actor=john, body="Trace attached.", uploads=[Upload("trace.txt", b"x")]
    )
    attachment = note.attachments.get()
    url = reverse("portal:attachment", args=[attachment.pk])
    client.force_login(karen)
    assert client.get(url).status_code == 404
    client.force_login(john)
    assert client.get(url).status_code == 200
    client.force_login(jane)
    assert client.get(url).status_code == 404
    token = services.access_link_issue(ticket=ticket, recipient=karen)
    assert client.get(reverse("portal:link_attachment", args=[token, attachment.pk])).status_code == 404


def test_a_collaborator_downloads_the_tickets_files(client, karen, ken) -> None:
    ticket = ticket_open(karen, uploads=[Upload("screen.png", PNG)], collaborators=[ken])
    client.force_login(ken)
    assert client.get(reverse("portal:attachment", args=[ticket.entries.get().attachments.get().pk])).status_code == 200


def test_a_file_gone_from_storage_is_a_404_not_an_error(client, karen, karens_ticket) -> None:
    attachment = attach(karens_ticket, "screen.png")
    default_storage.delete(attachment.file.name)
    client.force_login(karen)
    assert client.get(reverse("portal:attachment", args=[attachment.pk])).status_code == 404


def test_downloads_answer_get_and_head_only(client, karen, karens_ticket) -> None:
    attachment = attach(karens_ticket, "screen.png")
    client.force_login(karen)
    url = reverse("portal:attachment", args=[attachment.pk])
    assert client.head(url).status_code == 200
    assert client.post(url).status_code == 405


def test_an_expired_link_downloads_nothing(client, karen, karens_ticket, settings) -> None:
    attachment = attach(karens_ticket, "screen.png")
    token = services.access_link_issue(ticket=karens_ticket, recipient=karen)
    url = reverse("portal:link_attachment", args=[token, attachment.pk])
    assert client.get(url).status_code == 200
    with time_machine.travel(timezone.now() + timedelta(days=settings.TICKET_LINK_DAYS, seconds=1)):
        assert client.get(url).status_code == 404
