"""Hostile uploads, through the portal (Karen's reply) and the API (John's reply): a file's kind
is read from its content against the allowlist, its name is only a cleaned label, it is stored
under a generated name inside the media folder, and it comes back only as a sandboxed download
with its name encoded (RFC 6266 / 5987). A file over the size limit is refused as it arrives,
never kept whole."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.files.uploadhandler import FileUploadHandler
from django.test import Client
from django.urls import reverse

from tests.factories import ticket_open
from tickets import services
from tickets.attachments import Upload
from tickets.models import Attachment, ThreadEntry

pytestmark = pytest.mark.django_db

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
    b"\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82"
)
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 64 + b"\xff\xd9"
HTML = b"<!DOCTYPE html><html><body><script>parent.__xss=1</script></body></html>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script></svg>'
PHP = b"<?php system($_GET['c']); ?>"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 64
POLYGLOT = PNG + b"<html><script>alert(document.domain)</script></html>"

# (name as sent, content, label kept and type served) or None when the file must be refused.
CASES: list[tuple[str, bytes, tuple[str, str] | None]] = [
    ("page.html", HTML, None),
    ("page.htm", HTML, None),
    ("drawing.svg", SVG, None),
    ("drawing.svg.png", SVG, None),  # says PNG, is not
    (".htaccess", b"AddType application/x-httpd-php .jpg\n", None),
    ("shell.php", PHP, None),
    ("shell.php.jpg", PHP, None),
    ("shell.php.jpg", JPEG, ("shell.php.jpg", "image/jpeg")),  # a real JPEG: the label is only a label
    ("invoice\u202egnp.exe", EXE, None),  # shows as "invoiceexe.png"
    ("report\u202etxt.html", HTML, None),
    ("photo\u200b.png", PNG, ("photo.png", "image/png")),
    ("\ufeffnotes\u2066.txt", b"plain words", ("notes.txt", "text/plain; charset=utf-8")),
    ("a\u200d\u200c\u2060b.txt", b"plain words", ("ab.txt", "text/plain; charset=utf-8")),
    ("cat.png", POLYGLOT, ("cat.png", "image/png")),  # a PNG that is also HTML: served so it never renders
    ("cat.html", POLYGLOT, None),
    ("../../../../etc/passwd.txt", b"root:x:0:0\n", ("passwd.txt", "text/plain; charset=utf-8")),
    ("..\\..\\windows\\win.ini", b"[fonts]\n", ("win.ini", "text/plain; charset=utf-8")),
    ("/var/www/html/evil.txt", b"x", ("evil.txt", "text/plain; charset=utf-8")),
    ("looks-like.txt", HTML, ("looks-like.txt", "text/plain; charset=utf-8")),  # text, shown as text only
    ("binary.txt", b"\x00\x01\x02MZ", None),
    ("fake.pdf", HTML, None),
    ("empty.png", b"", None),
    ("noextension", b"plain words", None),
]


def _post_portal(client, ticket, name: str, content: bytes):
    upload = SimpleUploadedFile(name, content, content_type="image/png")
    return client.post(
        reverse("portal:ticket_reply", args=[ticket.number]), {"body": "See file.", "attachments": upload}
    )


def _post_api(client, ticket, name: str, content: bytes):
    upload = SimpleUploadedFile(name, content, content_type="text/html")
    return client.post(f"/api/v1/tickets/{ticket.number}/replies/", {"body": "See file.", "attachments": upload})


@pytest.fixture
def ticket(karen):
    return ticket_open(karen, "Files", "Here they come.")


@pytest.mark.parametrize("channel", ["portal", "api"])
def test_hostile_uploads_are_refused_or_stored_safely(channel, client, karen, john, ticket, settings) -> None:
    media = Path(settings.MEDIA_ROOT).resolve()
    client.force_login(karen if channel == "portal" else john)
    post = _post_portal if channel == "portal" else _post_api
    for sent_name, content, expected in CASES:
        before = set(Attachment.objects.values_list("pk", flat=True))
        entries = ThreadEntry.objects.filter(ticket=ticket).count()
        response = post(client, ticket, sent_name, content)
        new = Attachment.objects.exclude(pk__in=before)
        if expected is None:
            assert response.status_code == 400, (sent_name, response.status_code)
            assert b"not accepted" in response.content or b"empty" in response.content, sent_name
            # Refused: nothing of the post was kept, and the user is told.
            assert not new.exists(), sent_name
            assert ThreadEntry.objects.filter(ticket=ticket).count() == entries, sent_name
            continue
        assert response.status_code in (201, 302), (sent_name, response.status_code, response.content[:300])
        attachment = new.get()
        label, served_type = expected
        assert attachment.filename == label
        # Stored under a generated name, inside the media folder, whatever the name sent.
        stored = Path(attachment.file.path).resolve()
        assert stored.is_relative_to(media), stored
        assert re.fullmatch(r"attachments/\d{4}/\d{2}/[0-9a-f]{32}", attachment.file.name), attachment.file.name
        assert stored.read_bytes() == content
        _assert_safe_download(client, channel, ticket, attachment, label, served_type, content)


def _assert_safe_download(client, channel, ticket, attachment, label, served_type, content) -> None:
    if channel == "portal":
        url = reverse("portal:attachment", args=[attachment.pk])
    else:
        url = f"/api/v1/tickets/{ticket.number}/attachments/{attachment.pk}/"
    response = client.get(url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == content
    assert response["Content-Type"] == served_type
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert response["Content-Disposition"] == f'attachment; filename="{label}"'


DOWNLOAD_NAMES = [
    ("Résumé «final».pdf", "attachment; filename*=utf-8''" + quote("Résumé «final».pdf")),
    ("日本語の請求書.pdf", "attachment; filename*=utf-8''" + quote("日本語の請求書.pdf")),
    ('say "hi"; x=1.pdf', 'attachment; filename="say \\"hi\\"; x=1.pdf"'),
    ("back\\slash.pdf", 'attachment; filename="slash.pdf"'),
    ("line\r\nSet-Cookie: a=b.pdf", 'attachment; filename="lineSet-Cookie: a=b.pdf"'),
    ("%22quoted%22.pdf", 'attachment; filename="%22quoted%22.pdf"'),
    ("tab\there.pdf", 'attachment; filename="tabhere.pdf"'),
]


def test_the_download_name_is_encoded_for_any_characters(client, karen, john, ticket) -> None:
    pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    client.force_login(karen)
    staff = Client()
    staff.force_login(john)
    for name, header in DOWNLOAD_NAMES:
        # Through the service: a name from mail or the API can hold what a browser never sends.
        entry = services.ticket_add_message(ticket=ticket, author=karen, body="File.", uploads=[Upload(name, pdf)])
        attachment = entry.attachments.get()
        for c, url in [
            (client, reverse("portal:attachment", args=[attachment.pk])),
            (staff, reverse("staff:attachment", args=[ticket.number, attachment.pk])),
            (staff, f"/api/v1/tickets/{ticket.number}/attachments/{attachment.pk}/"),
        ]:
            response = c.get(url)
            assert response.status_code == 200, url
            assert response["Content-Disposition"] == header, name
            assert "\r" not in response["Content-Disposition"] and "\n" not in response["Content-Disposition"]


TRAVERSALS = [
    "/attachments/..%2f..%2fsettings.py/",
    "/attachments/%2e%2e/%2e%2e/etc/passwd",
    "/attachments/1%2f..%2f..%2f/",
    "/t/..%2f..%2f/attachments/1/",
    "/staff/tickets/1/files/..%2f1/",
    "/api/v1/tickets/1/attachments/..%2f1/",
    "/media-not-served/attachments/",
    "/static/../helpdesk/settings.py",
    "/static/%2e%2e/helpdesk/settings.py",
]


def test_download_urls_take_no_path(client, karen, john) -> None:
    for user in (karen, john):
        client.force_login(user)
        for path in TRAVERSALS:
            response = client.get(path)
            assert response.status_code == 404, (user.email, path, response.status_code)


def test_a_stored_name_that_leaves_the_media_folder_is_never_served(client, karen, ticket, tmp_path) -> None:
    """Should a row ever point outside the media folder (a restored backup, a bad migration),
    the download refuses it instead of reading the file."""
    client.force_login(karen)
    _post_portal(client, ticket, "notes.txt", b"plain words")
    attachment = Attachment.objects.get()
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"SECRET")
    Attachment.objects.filter(pk=attachment.pk).update(file="../../" + str(secret.relative_to(tmp_path.parent)))
    response = client.get(reverse("portal:attachment", args=[attachment.pk]))
    assert response.status_code in (400, 404)
    assert b"SECRET" not in b"".join(getattr(response, "streaming_content", [response.content]))


class KeptBytes(FileUploadHandler):
    """Between the size limit and the storing handlers: records how much of a file they got."""

    largest = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        KeptBytes.largest = max(KeptBytes.largest, start + len(raw_data))
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None


@pytest.mark.parametrize("channel", ["portal-open", "portal-reply", "staff-reply", "api"])
def test_a_file_over_the_limit_is_refused_before_it_is_kept_whole(
    channel, client, karen, john, ticket, report_a_problem, settings
) -> None:
    settings.ATTACHMENT_MAX_BYTES = 256 * 1024
    first, *rest = settings.FILE_UPLOAD_HANDLERS
    settings.FILE_UPLOAD_HANDLERS = [first, "tests.security.test_files.KeptBytes", *rest]
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 0  # what is kept goes to a temporary file
    KeptBytes.largest = 0
    huge = SimpleUploadedFile("huge.txt", b"a" * (4 * 1024 * 1024), content_type="text/plain")
    entries = ThreadEntry.objects.count()
    if channel == "portal-open":
        client.force_login(karen)
        data = {"help_topic": report_a_problem.pk, "subject": "Big", "body": "Big file.", "attachments": huge}
        response = client.post(reverse("portal:open"), data)
    elif channel == "portal-reply":
        client.force_login(karen)
        response = client.post(reverse("portal:ticket_reply", args=[ticket.number]), {"body": "x", "attachments": huge})
    elif channel == "staff-reply":
        client.force_login(john)
        page = client.get(reverse("staff:ticket", args=[ticket.number]))
        version = page.context["ticket"].version
        data = {"reply-body": "x", "reply-attachments": huge, "reply-version": version, "reply-confirmed": "1"}
        response = client.post(reverse("staff:reply", args=[ticket.number]), data)
    else:
        client.force_login(john)
        response = client.post(f"/api/v1/tickets/{ticket.number}/replies/", {"body": "x", "attachments": huge})
    assert response.status_code == 400, response.status_code
    assert b"too large" in response.content
    assert ThreadEntry.objects.count() == entries
    assert not Attachment.objects.exists()
    # At most the limit and one chunk reached memory or disk, not the 4 MB sent.
    assert 0 < KeptBytes.largest <= settings.ATTACHMENT_MAX_BYTES + 64 * 1024
