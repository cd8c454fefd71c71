"""Webhooks against a real HTTP server on loopback: what is sent, how it is signed, retries
with backoff, the delivery log, redelivery by hand, and who may manage them."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import time_machine
from django.db import transaction
from django.test import Client

from accounts.models import User
from api.models import DeliveryState, Webhook, WebhookDelivery
from api.services import webhook_create
from api.tasks import webhooks_resend_due
from api.webhooks import webhook_delivery_send
from sla.services import sla_sweep
from tests.factories import ticket_open
from tests.support import free_port
from tests.test_api_helpers import client_as
from tickets import services
from tickets.models import Status, Ticket, TicketState

pytestmark = pytest.mark.django_db


class Receiver:
    """An HTTP endpoint on 127.0.0.1 that records what it gets and answers from a script."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.answers: list[int] = []
        self.port = free_port()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                code = receiver.answers.pop(0) if receiver.answers else 200
                self.send_response(code)
                if 300 <= code < 400:
                    self.send_header("Location", f"http://127.0.0.1:{receiver.port}/elsewhere")
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(f"answered {code}".encode())

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/helpdesk"

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(r["body"]) for r in self.requests]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    endpoint = Receiver()
    endpoint.thread.start()
    yield endpoint
    endpoint.server.shutdown()
    endpoint.server.server_close()


@pytest.fixture
def webhook(admin: User, receiver: Receiver) -> Webhook:
    return webhook_create(
        name="Chat", url=receiver.url, events=["ticket.created", "ticket.replied", "ticket.status_changed",
                                               "ticket.updated", "sla.warning", "sla.breach"], actor=admin,
    )  # fmt: skip


def verify(secret: str, request: dict[str, Any], max_age: int = 300) -> bool:
    """What a receiver does: recompute the HMAC over "<timestamp>." + body, in constant time."""
    timestamp = request["headers"]["X-Helpdesk-Timestamp"]
    expected = (
        "sha256=" + hmac.new(secret.encode(), f"{timestamp}.".encode() + request["body"], hashlib.sha256).hexdigest()
    )
    fresh = abs(time.time() - int(timestamp)) <= max_age
    return fresh and hmac.compare_digest(expected, request["headers"]["X-Helpdesk-Signature"])


def test_a_new_ticket_is_posted_signed_to_the_endpoint(
    webhook: Webhook, receiver: Receiver, karen: User, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        ticket = ticket_open(karen, "Entire mobile/online banking system is down")
    assert len(receiver.requests) == 1
    request = receiver.requests[0]
    assert request["path"] == "/hooks/helpdesk"
    assert request["headers"]["Content-Type"] == "application/json"
    assert request["headers"]["X-Helpdesk-Event"] == "ticket.created"
    assert verify(webhook.secret, request)
    assert not verify("another-secret", request)
    body = json.loads(request["body"])
    assert body["event"] == "ticket.created"
    assert body["ticket"]["number"] == ticket.number
    assert body["ticket"]["requester"] == {"name": "Karen Doe", "email": "karen@example.com"}
    assert body["ticket"]["department"]["name"] == "Support"
    assert body["entry"]["kind"] == "message"
    delivery = WebhookDelivery.objects.get()
    assert request["headers"]["X-Helpdesk-Delivery"] == str(delivery.uuid)
    assert (delivery.state, delivery.attempts, delivery.last_status_code) == (DeliveryState.DELIVERED, 1, 200)
    assert delivery.attempt_log.get().response_excerpt == "answered 200"


def test_a_tampered_body_fails_verification(
    webhook: Webhook, receiver: Receiver, karen: User, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        ticket_open(karen)
    request = dict(receiver.requests[0])
    request["body"] = request["body"].replace(b"Karen", b"Mallory")
    assert not verify(webhook.secret, request)


def test_a_failed_delivery_is_retried_with_backoff_until_it_is_taken(
    webhook: Webhook, receiver: Receiver, karen: User, django_capture_on_commit_callbacks: Any
) -> None:
    receiver.answers = [500, 503]
    start = datetime.now(UTC)
    with time_machine.travel(start, tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            ticket_open(karen)
        delivery = WebhookDelivery.objects.get()
        assert (delivery.state, delivery.attempts, delivery.last_status_code) == ("pending", 1, 500)
        assert delivery.next_attempt_at == start + timedelta(seconds=30)
        assert webhooks_resend_due() == 0  # not due yet
    with time_machine.travel(start + timedelta(seconds=31), tick=False):
        webhooks_resend_due()
        delivery.refresh_from_db()
        assert (delivery.state, delivery.attempts, delivery.last_status_code) == ("pending", 2, 503)
        assert delivery.next_attempt_at == start + timedelta(seconds=31 + 60)
    with time_machine.travel(start + timedelta(seconds=92), tick=False):
        webhooks_resend_due()
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.last_status_code) == ("delivered", 3, 200)
    assert [a.status_code for a in delivery.attempt_log.order_by("attempted_at")] == [500, 503, 200]
    # Every try carried the same delivery id and the same body, each signed afresh.
    assert len({r["headers"]["X-Helpdesk-Delivery"] for r in receiver.requests}) == 1
    assert len({r["body"] for r in receiver.requests}) == 1
    assert all(verify(webhook.secret, r, max_age=10**6) for r in receiver.requests)


def test_a_delivery_gives_up_after_the_last_attempt(
    webhook: Webhook, receiver: Receiver, karen: User, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.WEBHOOK_MAX_ATTEMPTS = 2
    receiver.answers = [500, 500, 500]
    with django_capture_on_commit_callbacks(execute=True):
        ticket_open(karen)
    delivery = WebhookDelivery.objects.get()
    webhook_delivery_send(delivery_id=delivery.pk, now=datetime.now(UTC) + timedelta(minutes=5))
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts) == (DeliveryState.FAILED, 2)
    assert webhook_delivery_send(delivery_id=delivery.pk, now=datetime.now(UTC) + timedelta(hours=5)) is None
    assert len(receiver.requests) == 2


def test_an_endpoint_that_refuses_connections_is_logged_and_retried(
    admin: User, karen: User, django_capture_on_commit_callbacks: Any
) -> None:
    webhook_create(name="Down", url=f"http://127.0.0.1:{free_port()}/", events=["ticket.created"], actor=admin)
    with django_capture_on_commit_callbacks(execute=True):
        ticket_open(karen)
    delivery = WebhookDelivery.objects.get()
    assert delivery.state == DeliveryState.PENDING
    assert delivery.last_status_code is None
    assert "Connection refused" in delivery.last_error or "URLError" in delivery.last_error


def test_redirects_are_not_followed(
    webhook: Webhook, receiver: Receiver, karen: User, django_capture_on_commit_callbacks: Any
) -> None:
    receiver.answers = [302]
    with django_capture_on_commit_callbacks(execute=True):
        ticket_open(karen)
    delivery = WebhookDelivery.objects.get()
    assert (delivery.state, delivery.last_status_code) == (DeliveryState.PENDING, 302)
    assert [r["path"] for r in receiver.requests] == ["/hooks/helpdesk"]


def test_replies_status_changes_and_updates_each_have_their_event(
    webhook: Webhook, receiver: Receiver, john: User, karen: User, django_capture_on_commit_callbacks: Any
) -> None:
    ticket = ticket_open(karen)
    with django_capture_on_commit_callbacks(execute=True):
        services.ticket_assign(ticket=ticket, actor=john, assignee=john)
        services.ticket_reply(ticket=ticket, actor=john, body="On it", status=Status.objects.get(state="resolved"))
        services.ticket_add_note(ticket=ticket, actor=john, body="Internal: vendor bug #42")
    events = [b["event"] for b in receiver.bodies()]
    assert events == ["ticket.updated", "ticket.replied", "ticket.status_changed", "ticket.updated"]
    reply = receiver.bodies()[1]
    assert reply["entry"]["body"] == "On it"
    assert reply["change"]["actor"] == {"id": john.pk, "name": "John Doe"}
    note = receiver.bodies()[3]
    assert note["entry"] is None  # announced, never quoted
    assert "vendor bug" not in receiver.requests[3]["body"].decode()


def test_sla_warnings_and_breaches_are_sent(
    webhook: Webhook, receiver: Receiver, karen: User, django_capture_on_commit_callbacks: Any
) -> None:
    ticket = ticket_open(karen)
    # The Default SLA (18 h) warns at 75%, after 13.5 h; it is breached after 18 h.
    with django_capture_on_commit_callbacks(execute=True):
        sla_sweep(now=datetime.now(UTC) + timedelta(hours=14))
    with django_capture_on_commit_callbacks(execute=True):
        sla_sweep(now=datetime.now(UTC) + timedelta(days=30))
    events = [b["event"] for b in receiver.bodies()]
    assert events.count("sla.warning") == 1 and events.count("sla.breach") == 1
    breach = next(b for b in receiver.bodies() if b["event"] == "sla.breach")
    assert breach["ticket"]["number"] == ticket.number
    assert breach["ticket"]["is_overdue"] is True


def test_an_endpoint_hears_only_the_events_it_chose_and_only_while_active(
    admin: User, receiver: Receiver, karen: User, john: User, django_capture_on_commit_callbacks: Any
) -> None:
    hook = webhook_create(name="Only new", url=receiver.url, events=["ticket.created"], actor=admin)
    with django_capture_on_commit_callbacks(execute=True):
        ticket = ticket_open(karen)
        services.ticket_reply(ticket=ticket, actor=john, body="Hi")
    assert [b["event"] for b in receiver.bodies()] == ["ticket.created"]
    Webhook.objects.filter(pk=hook.pk).update(is_active=False)
    with django_capture_on_commit_callbacks(execute=True):
        ticket_open(karen)
    assert len(receiver.requests) == 1


def test_a_change_that_rolls_back_sends_nothing(
    webhook: Webhook, receiver: Receiver, karen: User, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
        ticket_open(karen)
        raise RuntimeError("something failed after the ticket was written")
    assert not WebhookDelivery.objects.exists()
    assert receiver.requests == []


def test_an_admin_redelivers_by_hand_through_the_api(
    webhook: Webhook, receiver: Receiver, admin: User, karen: User, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        ticket_open(karen)
    delivery = WebhookDelivery.objects.get()
    client = client_as(admin)
    log = client.get(f"/api/v1/webhooks/{webhook.pk}/deliveries/").json()
    assert log["count"] == 1 and log["results"][0]["last_status_code"] == 200
    detail = client.get(f"/api/v1/webhooks/{webhook.pk}/deliveries/{delivery.pk}/").json()
    assert detail["attempt_log"][0]["status_code"] == 200
    assert detail["payload"]["event"] == "ticket.created"
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/api/v1/webhooks/{webhook.pk}/deliveries/{delivery.pk}/redeliver/")
    assert response.status_code == 201
    assert response.json()["redelivery_of"] == delivery.pk
    assert len(receiver.requests) == 2
    assert receiver.requests[0]["body"] == receiver.requests[1]["body"]
    assert (
        receiver.requests[0]["headers"]["X-Helpdesk-Delivery"] != receiver.requests[1]["headers"]["X-Helpdesk-Delivery"]
    )


def test_an_admin_manages_webhooks_through_the_api(admin: User, receiver: Receiver) -> None:
    client = client_as(admin)
    created = client.post(
        "/api/v1/webhooks/", {"name": "Chat", "url": receiver.url, "events": ["ticket.created"]}, format="json"
    )
    assert created.status_code == 201
    secret = created.json()["secret"]
    hook_id = created.json()["id"]
    assert "secret" not in client.get(f"/api/v1/webhooks/{hook_id}/").json()
    rotated = client.patch(f"/api/v1/webhooks/{hook_id}/", {"rotate_secret": True}, format="json")
    assert rotated.json()["secret"] != secret
    bad = client.post(
        "/api/v1/webhooks/", {"name": "x", "url": "ftp://example.com/", "events": ["nope"]}, format="json"
    )
    assert bad.status_code == 400
    assert set(bad.json()) == {"url", "events"}
    assert client.delete(f"/api/v1/webhooks/{hook_id}/").status_code == 204


def test_only_admins_reach_webhooks(john: User, karen: User, webhook: Webhook) -> None:
    assert client_as(john).get("/api/v1/webhooks/").status_code == 403
    assert client_as(karen).get("/api/v1/webhooks/").status_code == 403
    assert client_as(None).get("/api/v1/webhooks/").status_code == 401


def test_a_sending_row_left_by_a_killed_worker_is_sent_again(webhook: Webhook, receiver: Receiver, karen: User) -> None:
    ticket_open(karen)  # callbacks not run: the row stays pending
    delivery = WebhookDelivery.objects.get()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        state=DeliveryState.SENDING, claimed_at=datetime.now(UTC) - timedelta(minutes=30)
    )
    webhooks_resend_due()
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.DELIVERED


# ---------------------------------------------------------------- the admin pages


def test_the_admin_pages_register_a_webhook_and_show_its_log(
    admin: User, receiver: Receiver, karen: User, django_capture_on_commit_callbacks: Any,
    django_assert_num_queries: Any,
) -> None:  # fmt: skip
    client = Client()
    client.force_login(admin)
    response = client.post(
        "/staff/admin/api/webhooks/new/",
        {"name": "Ops chat", "url": receiver.url, "events": ["ticket.created"], "is_active": "on"},
    )
    assert response.status_code == 200
    hook = Webhook.objects.get(name="Ops chat")
    assert hook.secret in response.content.decode()
    receiver.answers = [500]
    for _ in range(3):
        with django_capture_on_commit_callbacks(execute=True):
            ticket_open(karen)
    page = f"/staff/admin/api/webhooks/{hook.pk}/"
    # session, user, webhook, deliveries, their attempts
    with django_assert_num_queries(4):
        response = client.get(page)
    html = response.content.decode()
    assert "HTTP 500" in html and "HTTP 200" in html
    failed = WebhookDelivery.objects.filter(last_status_code=500).get()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"{page}deliveries/{failed.pk}/redeliver/")
    assert response.status_code == 302
    assert WebhookDelivery.objects.filter(redelivery_of=failed, state=DeliveryState.DELIVERED).exists()


def test_the_admin_pages_are_for_admins_only(john: User, karen: User) -> None:
    for user in (john, karen):
        client = Client()
        client.force_login(user)
        assert client.get("/staff/admin/api/").status_code == 404
    assert Client().get("/staff/admin/api/").status_code == 302


def test_names_and_urls_are_escaped_on_the_admin_pages(admin: User) -> None:
    webhook_create(
        name="<script>alert(1)</script>", url="https://example.com/?a=<b>", events=["ticket.created"], actor=admin
    )
    client = Client()
    client.force_login(admin)
    html = client.get("/staff/admin/api/").content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;" in html


def test_the_resender_is_on_the_beat_schedule() -> None:
    from helpdesk.celery import app

    entry = app.conf.beat_schedule["webhooks-resend-due"]
    assert entry["task"] == "api.tasks.webhooks_resend_due"
    assert entry["options"]["expires"] < entry["schedule"]


def test_tickets_keep_working_when_no_webhook_exists(karen: User) -> None:
    ticket = ticket_open(karen)
    assert isinstance(ticket, Ticket)
    assert not WebhookDelivery.objects.exists()
    assert ticket.state == TicketState.OPEN


def test_the_django_admin_makes_an_api_key_and_shows_it_once(admin: User) -> None:
    from api.models import ApiKey

    client = Client()
    client.force_login(admin)
    response = client.post(
        "/django-admin/api/apikey/add/",
        {"name": "Backdoor key", "allowed_addresses": "127.0.0.1", "can_create_tickets": "on", "is_active": "on"},
        follow=True,
    )
    assert response.status_code == 200
    key = ApiKey.objects.get(name="Backdoor key")
    shown = response.content.decode().split("The new key is ")[1][:32]
    assert ApiKey.hash_key(shown) == key.key_hash
