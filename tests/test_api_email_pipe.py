"""`POST /api/tickets.email` through the real inbound pipeline: osTicket's remote piping
scripts post raw messages here, and a reply must land in the ticket it answers."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from api.services import api_key_create
from tickets.models import EntryKind, Ticket

pytestmark = pytest.mark.django_db
KEY = "PIPEKEY0PIPEKEY0PIPEKEY0PIPEKEY0"


@pytest.fixture
def pipe_key(seed: None) -> None:
    api_key_create(name="Mail server", allowed_addresses="127.0.0.1", key=KEY)


def raw(sender: str, subject: str, body: str, message_id: str, **headers: str) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "helpdesk@example.com"
    message["Subject"] = subject
    message["Message-ID"] = message_id
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    return message.as_bytes()


def pipe(client, data: bytes):  # type: ignore[no-untyped-def]
    return client.post("/api/tickets.email", data, content_type="text/plain", HTTP_X_API_KEY=KEY)


def test_a_piped_message_opens_a_ticket_and_its_reply_joins_it(client, pipe_key, karen) -> None:
    first = pipe(
        client, raw("Karen Doe <karen@example.com>", "VPN drops every hour", "Since Monday.", "<k1@mail.example.com>")
    )
    assert first.status_code == 201
    ticket = Ticket.objects.get(number=int(first.content))
    assert ticket.requester == karen and ticket.subject == "VPN drops every hour"

    reply = pipe(
        client,
        raw("karen@example.com", f"Re: [#{ticket.number}] VPN drops every hour", "Still dropping.", "<k2@mail.example.com>",
            In_Reply_To="<k1@mail.example.com>"),
    )  # fmt: skip
    assert reply.status_code == 201 and int(reply.content) == ticket.number
    assert list(ticket.entries.values_list("kind", flat=True)) == [EntryKind.MESSAGE, EntryKind.MESSAGE]


def test_the_same_message_piped_twice_is_acknowledged_once(client, pipe_key, karen) -> None:
    message = raw("karen@example.com", "Printer", "Jammed.", "<same@mail.example.com>")
    one, two = pipe(client, message), pipe(client, message)
    assert one.status_code == two.status_code == 201
    assert one.content == two.content
    assert Ticket.objects.count() == 1


def test_an_auto_reply_opens_nothing_and_is_not_retried(client, pipe_key) -> None:
    response = pipe(
        client, raw("robot@example.org", "Out of office", "Away.", "<ooo@example.org>", Auto_Submitted="auto-replied")
    )
    assert response.status_code == 201
    assert not Ticket.objects.exists()


def test_a_piped_message_without_a_key_is_refused(client, pipe_key) -> None:
    response = client.post("/api/tickets.email", raw("karen@example.com", "x", "y", "<n@x>"), content_type="text/plain")
    assert response.status_code == 401
    assert not Ticket.objects.exists()
