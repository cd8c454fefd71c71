"""The portal's mail through the real components: the request commits, the task goes to Redis,
a Celery worker sends the mail to an SMTP server on loopback, and the link in the mail received
there works. PostgreSQL only: the worker is another process and shares the test database."""

from __future__ import annotations

import email
import email.policy
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from django.db import connection
from django.urls import reverse

from accounts.models import User
from helpdesk.celery import app as celery_app
from tests.factories import ticket_open
from tests.support import free_port, need, port_open

pytestmark = [pytest.mark.integration, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parent.parent
SITE = "http://testserver"
LINK = re.compile(re.escape(SITE) + r"(/t/[A-Za-z0-9_-]+/)")
VERIFY = re.compile(re.escape(SITE) + r"(/register/[^\s\"<>/]+/)")
NEW_PASSWORD = "plum-orchard-lantern-42"


class Inbox:
    """An SMTP server on loopback and the messages it received."""

    def __init__(self) -> None:
        self.port = free_port()
        self.messages: list[EmailMessage] = []
        self.lock = threading.Lock()
        self.worker: subprocess.Popen[bytes] | None = None
        self.worker_log: Path | None = None

    async def handle_DATA(
        self, server: object, session: object, envelope: object
    ) -> str:  # aiosmtpd calls it by this name
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)  # type: ignore[attr-defined]
        with self.lock:
            self.messages.append(message)  # type: ignore[arg-type]
        return "250 OK"

    def wait_for(self, wanted: Callable[[EmailMessage], bool], timeout: float = 90) -> EmailMessage:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                found = [m for m in self.messages if wanted(m)]
            if found:
                return found[-1]
            if self.worker is not None and self.worker.poll() is not None:
                break
            time.sleep(0.2)
        with self.lock:
            subjects = [m["Subject"] for m in self.messages]
        log = self.worker_log.read_text()[-3000:] if self.worker_log and self.worker_log.exists() else ""
        raise AssertionError(f"no such mail within {timeout} s; received {subjects}\nworker log:\n{log}")


def text_of(message: EmailMessage) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    server = Inbox()
    controller = Controller(server, hostname="127.0.0.1", port=server.port)
    controller.start()
    try:
        yield server
    finally:
        controller.stop()


@pytest.fixture
def worker(inbox: Inbox, settings, tmp_path: Path) -> Iterator[None]:
    """A Celery worker on the test database and Redis, sending to the inbox; this process
    enqueues for real too (no eager tasks)."""
    if connection.vendor != "postgresql":
        pytest.skip("the worker shares the test database, which needs PostgreSQL")
    need(bool(settings.REDIS_URL) and port_open("127.0.0.1", 6379), "Redis")
    db = connection.settings_dict
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PYTEST")},
        "DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "EMAIL_URL": f"smtp://127.0.0.1:{inbox.port}",
        "SITE_URL": SITE,
        "SECRET_KEY": settings.SECRET_KEY,  # links the worker signs are checked in this process
        "DEBUG": "false",
        "CELERY_TASK_ALWAYS_EAGER": "false",
    }
    command = [sys.executable, "-m", "celery", "-A", "helpdesk", "worker", "--pool=solo", "--loglevel=WARNING"]
    command += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
    inbox.worker_log = tmp_path / "worker.log"
    with inbox.worker_log.open("wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    inbox.worker = process
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = False
    settings.SITE_URL = SITE
    try:
        yield
    finally:
        celery_app.conf.task_always_eager = eager
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def test_the_status_check_link_travels_through_redis_a_worker_and_smtp(client, karen, worker, inbox) -> None:
    ticket = ticket_open(karen, "VPN drops every hour")
    auto = inbox.wait_for(lambda m: "karen@example.com" in m["To"] and f"[#{ticket.number}]" in m["Subject"])
    from_auto_response = LINK.search(text_of(auto)).group(1)

    response = client.post(reverse("portal:status"), {"email": "karen@example.com", "number": str(ticket.number)})
    assert response["Location"] == reverse("portal:status_sent")
    mailed = inbox.wait_for(lambda m: m["Subject"].startswith("Your ticket [#"))
    assert mailed["To"] == "Karen Doe <karen@example.com>"
    link = LINK.search(text_of(mailed)).group(1)
    page = client.get(link)
    assert page.status_code == 200 and "VPN drops every hour" in page.content.decode()
    assert client.get(from_auto_response).status_code == 404  # replaced by the newer link


def test_registration_mail_travels_through_redis_a_worker_and_smtp(client, seed, worker, inbox) -> None:
    response = client.post(reverse("portal:register"), {"name": "Greta Guest", "email": "greta@example.org"})
    assert response["Location"] == reverse("portal:register_sent")
    message = inbox.wait_for(lambda m: "greta@example.org" in m["To"])
    assert message["Subject"] == "Confirm your address to finish registering"
    assert message["Auto-Submitted"] == "auto-generated"
    path = VERIFY.search(text_of(message)).group(1)
    done = client.post(path, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert done["Location"] == reverse("portal:tickets")
    assert User.objects.get(email="greta@example.org").check_password(NEW_PASSWORD)
