"""The seed cast as fixtures: Karen and Ken (end users), John (Support), Jane (Online Banking)
and the admin, with the seed story's configuration (seed_demo)."""

from __future__ import annotations

import io
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.cache import cache
from django.core.management import call_command

from accounts.models import DepartmentMembership, Role, User
from helpdesk.celery import app as celery_app
from sla.models import SLAPlan
from tests.support import Redis, chromium, free_port, need
from tickets.models import Department, HelpTopic, Priority, Status, TicketState

PASSWORD = "correct-horse-battery"


@pytest.fixture(autouse=True)
def _media(settings: object, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"  # type: ignore[attr-defined]


@pytest.fixture(autouse=True)
def _empty_cache() -> None:
    # The test cache is one in-process LocMemCache: without this, throttle counters would carry
    # over from one test to the next.
    cache.clear()


@pytest.fixture
def seed(db: None) -> None:
    call_command("seed_demo", "--password", PASSWORD, "--no-tickets", stdout=io.StringIO())


@pytest.fixture
def karen(seed: None) -> User:
    return User.objects.get(email="karen@example.com")


@pytest.fixture
def ken(seed: None) -> User:
    return User.objects.get(email="ken@example.com")


@pytest.fixture
def john(seed: None) -> User:
    return User.objects.get(email="john@example.com")


@pytest.fixture
def jane(seed: None) -> User:
    return User.objects.get(email="jane@example.com")


@pytest.fixture
def admin(seed: None) -> User:
    return User.objects.get(email="admin@example.com")


@pytest.fixture
def support(seed: None) -> Department:
    return Department.objects.get(name="Support")


@pytest.fixture
def online_banking(seed: None) -> Department:
    return Department.objects.get(name="Online Banking")


@pytest.fixture
def report_a_problem(seed: None) -> HelpTopic:
    return HelpTopic.objects.get(name="Report a Problem")


@pytest.fixture
def priorities(seed: None) -> dict[str, Priority]:
    return {p.name: p for p in Priority.objects.all()}


@pytest.fixture
def statuses(seed: None) -> dict[str, Status]:
    return {s.state: s for s in Status.objects.filter(is_default=True)}


@pytest.fixture
def plans(seed: None) -> dict[str, SLAPlan]:
    return {p.name: p for p in SLAPlan.objects.all()}


@pytest.fixture
def viewer(seed: None, support: Department) -> User:
    """Vic, an agent of Support whose role only lets him look."""
    vic = User.objects.create_user("vic@example.com", PASSWORD, name="Vic Viewer", kind=User.Kind.AGENT)
    DepartmentMembership.objects.create(
        agent=vic, department=support, role=Role.objects.get(name="Read only"), is_primary=True
    )
    return vic


@pytest.fixture
def open_state() -> str:
    return TicketState.OPEN


@pytest.fixture
def redis() -> Iterator[Redis]:
    """A private Redis for this test alone: workers of other tests never take its tasks."""
    need(shutil.which("redis-server") is not None, "redis-server")
    server = Redis(free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def broker(redis: Redis, settings: object) -> Iterator[None]:
    """This process publishes tasks to the private Redis instead of running them eagerly."""
    conf = celery_app.conf
    saved = (conf.task_always_eager, conf.broker_url, conf.broker_connection_retry)
    settings.CELERY_TASK_ALWAYS_EAGER = False  # type: ignore[attr-defined]
    conf.task_always_eager = False
    conf.broker_url = redis.url
    conf.broker_connection_retry = False
    celery_app._pool = None
    celery_app.amqp._producer_pool = None
    yield
    conf.task_always_eager, conf.broker_url, conf.broker_connection_retry = saved
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@pytest.fixture
def server(transactional_db: None, settings: object) -> Iterator[str]:
    """The app on a free port of 127.0.0.1, in a thread of this process (same test database)."""
    from pytest_django.live_server_helper import LiveServer

    # Plain HTTP on loopback: cookies may not insist on HTTPS here.
    settings.SESSION_COOKIE_SECURE = False  # type: ignore[attr-defined]
    settings.CSRF_COOKIE_SECURE = False  # type: ignore[attr-defined]
    live = LiveServer("127.0.0.1:0", start=False)
    live._live_server_modified_settings.enable()
    live.start()
    try:
        yield live.url
    finally:
        live.stop()
        live._live_server_modified_settings.disable()


@pytest.fixture
def browser() -> Iterator[object]:
    """Headless Chromium (tests.support.chromium)."""
    with chromium() as launched:
        yield launched


@pytest.fixture
def api_tokens(seed: None, karen: User, ken: User, settings: object) -> Iterator[dict[str, str]]:
    """The seed cast with a ticket each for Karen and Ken, and an API token for John, Karen and
    the admin, for tests that call the API through the real WSGI app (schemathesis)."""
    from django.core import signals
    from django.db import close_old_connections

    from api.services import api_token_issue
    from tests.factories import ticket_open

    # Throttles would answer 429 to a fuzzer; they are tested on their own.
    settings.API_THROTTLE_USER = settings.API_THROTTLE_ANON = settings.API_THROTTLE_LOGIN = ""  # type: ignore[attr-defined]
    cache.clear()
    ticket_open(karen, "Entire mobile/online banking system is down")
    ticket_open(ken, "Excel not working")
    tokens = {
        email.split("@")[0]: api_token_issue(user=User.objects.get(email=email))[1]
        for email in ("john@example.com", "karen@example.com", "admin@example.com")
    }
    # The WSGI app's end-of-request handler would close the test's connection (and end its
    # transaction); keep it, as Django's test client does.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield tokens
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)
