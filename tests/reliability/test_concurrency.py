"""Concurrency with real processes: two agents claiming or changing one ticket at the same
moment through the staff panel (the web application under gunicorn), a stale edit through the
API, and eight processes opening 4,000 tickets at once."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from accounts.models import DepartmentMembership, User
from api.services import api_token_issue
from tests.conftest import PASSWORD
from tests.factories import ticket_open
from tests.processes import AppServer, child_env, kill_group, manage, start
from tests.support import Redis
from tickets.models import Department, EventKind, Priority, Ticket

pytestmark = [pytest.mark.integration, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

WRITERS = 8
TICKETS_EACH = 500
STALE = "was changed by someone else"


@pytest.fixture
def app(redis: Redis, tmp_path: Path) -> Iterator[AppServer]:
    server = AppServer(child_env(tmp_path / "media", REDIS_URL=redis.url))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def sam(john: User, support: Department) -> User:
    """A second agent of Support, with John's role."""
    sam = User.objects.create_user("sam@example.com", PASSWORD, name="Sam Support", kind=User.Kind.AGENT)
    role = DepartmentMembership.objects.get(agent=john, department=support).role
    DepartmentMembership.objects.create(agent=sam, department=support, role=role, is_primary=True)
    return sam


def signed_in(app: AppServer, email: str) -> requests.Session:
    session = requests.Session()
    page = session.get(f"{app.url}/staff/login/", timeout=30)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    assert token, page.text[:500]
    response = session.post(
        f"{app.url}/staff/login/",
        data={"username": email, "password": PASSWORD, "csrfmiddlewaretoken": token.group(1)},
        timeout=30,
        allow_redirects=False,
    )
    assert response.status_code == 302, response.text[:500]
    return session


def post_at_once(
    app: AppServer, sessions: list[requests.Session], path: str, forms: list[dict[str, object]]
) -> list[requests.Response]:
    """Each agent posts their form at the same instant (the pages were loaded before)."""
    barrier = threading.Barrier(len(sessions))

    def post(session: requests.Session, form: dict[str, object]) -> requests.Response:
        data = {**form, "csrfmiddlewaretoken": session.cookies["csrftoken"]}
        barrier.wait(timeout=30)
        return session.post(f"{app.url}{path}", data=data, timeout=60)

    with ThreadPoolExecutor(max_workers=len(sessions)) as pool:
        return list(pool.map(post, sessions, forms))


def test_two_agents_claiming_one_ticket_at_once_one_wins_and_the_other_is_told(
    app: AppServer, karen: User, john: User, sam: User
) -> None:
    ticket = ticket_open(karen, subject="Core banking is down")
    agents = [signed_in(app, john.email), signed_in(app, sam.email)]
    for session in agents:  # both have the ticket open
        assert session.get(f"{app.url}/staff/tickets/{ticket.number}/", timeout=30).status_code == 200
    loaded = Ticket.objects.get(pk=ticket.pk).version

    pages = post_at_once(app, agents, f"/staff/tickets/{ticket.number}/claim/", [{"version": loaded}] * 2)

    ticket.refresh_from_db()
    winner = 0 if ticket.assignee_id == john.pk else 1
    assert ticket.assignee_id == (john, sam)[winner].pk
    assert "You claimed this ticket." in pages[winner].text
    assert STALE in pages[1 - winner].text and "You claimed" not in pages[1 - winner].text
    assert ticket.events.filter(kind=EventKind.ASSIGNED).count() == 1


def test_two_agents_changing_one_ticket_at_once_one_wins_and_the_other_gets_409(
    app: AppServer, karen: User, john: User, sam: User, priorities: dict[str, Priority]
) -> None:
    ticket = ticket_open(karen, subject="Core banking is down")
    agents = [signed_in(app, john.email), signed_in(app, sam.email)]
    loaded = Ticket.objects.get(pk=ticket.pk).version
    chosen = [priorities["Emergency"], priorities["Low"]]

    pages = post_at_once(
        app,
        agents,
        f"/staff/tickets/{ticket.number}/priority/",
        [{"priority-priority": p.pk, "priority-version": loaded} for p in chosen],
    )

    assert sorted(page.status_code for page in pages) == [200, 409]  # the winner follows its redirect
    winner = 0 if pages[0].status_code == 200 else 1
    assert STALE in pages[1 - winner].text
    ticket.refresh_from_db()
    assert ticket.priority_id == chosen[winner].pk
    assert ticket.events.filter(kind=EventKind.PRIORITY_CHANGED).count() == 1


def test_a_stale_edit_through_the_api_is_refused_with_409_and_a_fresh_one_goes_through(
    app: AppServer, karen: User, john: User, sam: User, priorities: dict[str, Priority]
) -> None:
    ticket = ticket_open(karen, subject="Core banking is down")
    johns, sams = (
        {"Authorization": f"Token {api_token_issue(user=agent)[1]}", "Accept": "application/json"}
        for agent in (john, sam)
    )
    url = f"{app.url}/api/v1/tickets/{ticket.number}/"
    read = requests.get(url, headers=johns, timeout=30).json()["version"]
    assert requests.patch(url, json={"priority": priorities["Low"].pk, "version": read}, headers=sams, timeout=30).ok

    stale = requests.patch(
        url, json={"priority": priorities["Emergency"].pk, "version": read}, headers=johns, timeout=30
    )

    assert stale.status_code == 409
    assert STALE in stale.json()["detail"]
    ticket.refresh_from_db()
    assert ticket.priority_id == priorities["Low"].pk
    fresh = requests.get(url, headers=johns, timeout=30).json()["version"]
    again = requests.patch(
        url, json={"priority": priorities["Emergency"].pk, "version": fresh}, headers=johns, timeout=30
    )
    assert again.status_code == 200
    ticket.refresh_from_db()
    assert ticket.priority_id == priorities["Emergency"].pk


WRITER = """
import os, sys
from accounts.models import User
from tickets.services import ticket_create
karen = User.objects.get(email="karen@example.com")
writer = os.environ["WRITER"]
for i in range(int(os.environ["TICKETS_EACH"])):
    ticket_create(requester=karen, subject=f"Outage {writer}-{i}", body="It is down.", alert=False, autorespond=False)
"""


def test_eight_processes_opening_four_thousand_tickets_at_once_get_distinct_numbers(
    karen: User, redis: Redis, tmp_path: Path
) -> None:
    started = time.monotonic()
    # Four digits: 9,000 numbers for 4,000 tickets, so that draws collide and are drawn again.
    env = child_env(tmp_path / "media", REDIS_URL=redis.url, TICKET_NUMBER_DIGITS="4", TICKETS_EACH=str(TICKETS_EACH))
    writers = [start(manage("shell", "-c", WRITER), {**env, "WRITER": str(w)}, stderr=-1) for w in range(WRITERS)]
    try:
        errors = []
        for writer in writers:
            _, stderr = writer.communicate(timeout=max(240 - (time.monotonic() - started), 1))
            if writer.returncode != 0:
                errors.append(stderr.decode()[-1500:])
    finally:
        for writer in writers:
            kill_group(writer)

    assert errors == []
    numbers = list(Ticket.objects.values_list("number", flat=True))
    assert len(numbers) == WRITERS * TICKETS_EACH
    assert len(set(numbers)) == WRITERS * TICKETS_EACH
    assert all(1000 <= n <= 9999 for n in numbers)
    subjects = set(Ticket.objects.values_list("subject", flat=True))
    assert subjects == {f"Outage {w}-{i}" for w in range(WRITERS) for i in range(TICKETS_EACH)}
    print(f"\n{WRITERS} processes opened {len(numbers)} tickets, 0 errors, {time.monotonic() - started:.0f} s")
