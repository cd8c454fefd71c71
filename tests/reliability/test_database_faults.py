"""Database faults: while people open tickets with attachments (the web application under
gunicorn, through the API and the portal), their database connections are killed with
`pg_terminate_backend`. No ticket is half made, no file is left without its ticket, the person
is told to try again (503), and trying again works."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest
import requests
from django.db import connection

from accounts.models import User
from api.services import api_token_issue
from sla.models import TicketClock
from tests.mailkit import PNG
from tests.processes import AppServer, child_env
from tests.support import Redis
from tickets.models import Attachment, EntryKind, EventKind, HelpTopic, Ticket

pytestmark = [pytest.mark.integration, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

API_TICKETS = 60
PORTAL_TICKETS = 20
ATTEMPTS = 10
# Seconds between two strikes of the killer, drawn at random (seeded): a create takes about
# as long, so that some are hit and some are not.
STRIKE_EVERY = (0.2, 1.0)


@pytest.fixture
def media(tmp_path: Path) -> Path:
    return tmp_path / "media"


@pytest.fixture
def app(redis: Redis, media: Path) -> Iterator[AppServer]:
    server = AppServer(
        child_env(media, REDIS_URL=redis.url, THROTTLE_TICKETS_PER_ADDRESS="1000/h", THROTTLE_TICKETS_PER_IP="1000/h")
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


class BackendKiller(threading.Thread):
    """Terminates the busy connections of this test's database, and no other database's:
    those of the web workers, never the test's own."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        db = connection.settings_dict
        self.database = db["NAME"]
        self.params = {
            "host": db["HOST"] or "127.0.0.1",
            "port": db["PORT"] or 5432,
            "user": db["USER"],
            "password": db["PASSWORD"] or "",
            "dbname": "postgres",
        }
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            self.spared = cursor.fetchone()[0]
        self.stop = threading.Event()
        self.killed = 0
        self.random = random.Random(9)

    def run(self) -> None:
        killer = psycopg2.connect(**self.params)
        killer.autocommit = True
        try:
            with killer.cursor() as cursor:
                while not self.stop.wait(self.random.uniform(*STRIKE_EVERY)):
                    cursor.execute(
                        "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE datname = %s AND pid <> pg_backend_pid() AND pid <> %s "
                        "AND state IN ('active', 'idle in transaction')",
                        [self.database, self.spared],
                    )
                    self.killed += cursor.fetchone()[0]
        finally:
            killer.close()


def _until_it_works(send, outcomes: list[int]) -> requests.Response:  # type: ignore[no-untyped-def]
    for _ in range(ATTEMPTS):
        response = send()
        outcomes.append(response.status_code)
        if response.status_code < 500:
            return response
        # The person is told to try again, in words, with a hint when.
        assert response.status_code == 503, response.text[:300]
        assert response.headers.get("Retry-After")
        assert "try again" in response.text.lower()
        time.sleep(0.2)
    raise AssertionError(f"no success in {ATTEMPTS} tries: {outcomes[-ATTEMPTS:]}")


def test_connections_killed_during_creates_leave_no_half_made_ticket_and_no_orphan_file(
    app: AppServer, karen: User, report_a_problem: HelpTopic, media: Path
) -> None:
    started = time.monotonic()
    api = requests.Session()
    api.headers.update({"Authorization": f"Token {api_token_issue(user=karen)[1]}", "Accept": "application/json"})
    portal = requests.Session()
    outcomes: list[int] = []
    killer = BackendKiller()
    killer.start()
    try:
        for i in range(API_TICKETS):
            response = _until_it_works(
                lambda i=i: api.post(
                    f"{app.url}/api/v1/tickets/",
                    data={"subject": f"API outage {i}", "message": "Nothing loads since 9:00."},
                    files=[("attachments", (f"screen-{i}.png", PNG, "image/png"))],
                    timeout=60,
                ),
                outcomes,
            )
            assert response.status_code == 201, response.text[:300]
        guest = {"help_topic": report_a_problem.pk, "name": "Greta Guest", "email": "greta@example.org", "phone": ""}
        for i in range(PORTAL_TICKETS):
            response = _until_it_works(
                lambda i=i: portal.post(
                    f"{app.url}/open/",
                    data={**guest, "subject": f"Portal outage {i}", "body": "The card reader is dead."},
                    files=[("attachments", (f"photo-{i}.png", PNG, "image/png"))],
                    headers={"X-CSRFToken": _csrf(portal, app)},
                    timeout=60,
                    allow_redirects=False,
                ),
                outcomes,
            )
            assert response.status_code == 302, response.text[:300]
    finally:
        killer.stop.set()
        killer.join(timeout=10)

    faults = sum(1 for code in outcomes if code == 503)
    assert killer.killed > 0 and faults > 0, "the faults should have hit some creates"
    # Every ticket asked for exists; one whose answer was lost after its commit may exist twice.
    subjects = list(Ticket.objects.values_list("subject", flat=True))
    wanted = {f"API outage {i}" for i in range(API_TICKETS)} | {f"Portal outage {i}" for i in range(PORTAL_TICKETS)}
    assert set(subjects) == wanted
    duplicates = len(subjects) - len(wanted)
    api_duplicates = sum(1 for subject in subjects if subject.startswith("API")) - API_TICKETS
    # None is half made: each has its message, its attachment, its creation event and its clocks.
    for ticket in Ticket.objects.prefetch_related("entries__attachments", "events"):
        entries = [e for e in ticket.entries.all() if e.kind == EntryKind.MESSAGE]
        assert len(entries) == 1, ticket.subject
        assert len(entries[0].attachments.all()) == 1, ticket.subject
        assert [e.kind for e in ticket.events.all()].count(EventKind.CREATED) == 1, ticket.subject
        if ticket.sla_plan_id:
            assert TicketClock.objects.filter(ticket=ticket).exists(), ticket.subject
    # No file without its row, no row without its file.
    on_disk = {str(path.relative_to(media)) for path in media.rglob("*") if path.is_file()}
    in_rows = set(Attachment.objects.values_list("file", flat=True))
    assert on_disk == in_rows
    print(
        f"\ndatabase faults: {len(wanted)} tickets with attachments, {len(outcomes)} requests, "
        f"{killer.killed} backends terminated, {faults} answered 503 and retried, "
        f"{duplicates} duplicates ({api_duplicates} through the API), "
        f"0 half-made, 0 orphan files, {time.monotonic() - started:.0f} s"
    )


def _csrf(session: requests.Session, app: AppServer) -> str:
    if "csrftoken" not in session.cookies:
        for _ in range(ATTEMPTS):
            if session.get(f"{app.url}/open/", timeout=60).status_code == 200:
                break
    return session.cookies.get("csrftoken", "")
