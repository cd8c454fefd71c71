"""The project's shell: settings from the environment, the health check, the seed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

from accounts.models import User
from api.models import ApiKey
from helpdesk import health
from sla.models import SLAPlan
from tickets.models import Department, HelpTopic, Priority, Status, Ticket

ROOT = Path(__file__).resolve().parent.parent


def run_python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DEBUG", "TESTING", "PYTEST_CURRENT_TEST")}
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env={**clean, **env}, capture_output=True, text=True, timeout=60
    )


def test_it_refuses_to_start_without_a_secret_key_in_production() -> None:
    result = run_python(
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='helpdesk.settings'; django.setup()", DEBUG="false"
    )
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_the_deploy_checks_pass_with_production_settings() -> None:
    result = run_python(
        "import sys; from django.core.management import execute_from_command_line;"
        "execute_from_command_line(['manage.py', 'check', '--deploy', '--fail-level', 'WARNING'])",
        DJANGO_SETTINGS_MODULE="helpdesk.settings",
        DEBUG="false",
        SECRET_KEY="a-long-random-production-key-4b1f0e9c7d2a8f6e5b3c1d0a9e8f7c6b5a4",
        ALLOWED_HOSTS="helpdesk.example.com",
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_email_url_selects_smtp_with_implicit_tls() -> None:
    result = run_python(
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='helpdesk.settings'; django.setup();"
        "from django.conf import settings as s;"
        "print(s.EMAIL_BACKEND, s.EMAIL_HOST, s.EMAIL_PORT, s.EMAIL_HOST_USER, s.EMAIL_HOST_PASSWORD, s.EMAIL_USE_SSL, s.EMAIL_USE_TLS)",
        DEBUG="true",
        EMAIL_URL="smtps://desk%40example.com:p%40ss@mail.example.com",
    )
    assert result.stdout.split() == [
        "django.core.mail.backends.smtp.EmailBackend", "mail.example.com", "465", "desk@example.com", "p@ss", "True", "False"
    ]  # fmt: skip


def test_an_unknown_email_scheme_is_refused_clearly() -> None:
    result = run_python(
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='helpdesk.settings'; django.setup()",
        DEBUG="true",
        EMAIL_URL="pop3://mail.example.com",
    )
    assert result.returncode != 0 and "EMAIL_URL: unknown scheme" in result.stderr


def test_the_sla_sweep_runs_as_often_as_configured_and_expires_before_the_next_run() -> None:
    code = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='helpdesk.settings'; django.setup();"
        "from helpdesk.celery import app; e = app.conf.beat_schedule['sla-sweep'];"
        "print(e['schedule'], e['options']['expires'])"
    )
    assert run_python(code, DEBUG="true").stdout.split() == ["60.0", "55"]
    assert run_python(code, DEBUG="true", SLA_SWEEP_SECONDS="2").stdout.split() == ["2.0", "1.8"]
    refused = run_python(code, DEBUG="true", SLA_SWEEP_SECONDS="0")
    assert refused.returncode != 0 and "SLA_SWEEP_SECONDS=0" in refused.stderr


@pytest.mark.django_db
def test_healthz_reports_the_database_and_the_broker(client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "ok"}


@pytest.mark.django_db
def test_healthz_answers_503_when_the_broker_is_down(client, monkeypatch) -> None:
    from celery import Celery

    # A broker on a port where nothing listens.
    monkeypatch.setattr(health, "celery_app", Celery(broker="redis://127.0.0.1:1/0", set_as_current=False))
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["broker"] == "down"


@pytest.mark.django_db
def test_healthz_answers_503_when_the_database_is_down(client, monkeypatch) -> None:
    monkeypatch.setattr(health, "database_state", lambda: "down")
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"] == "down"


@pytest.mark.django_db
def test_seed_demo_creates_the_cast_once(capsys) -> None:
    call_command("seed_demo", "--password", "pw-for-the-demo-1", "--api-key", "0123456789ABCDEF0123456789ABCDEF")
    counts = [m.objects.count() for m in (User, Department, HelpTopic, Priority, Status, SLAPlan, ApiKey, Ticket)]
    call_command("seed_demo", "--api-key", "0123456789ABCDEF0123456789ABCDEF")
    assert [
        m.objects.count() for m in (User, Department, HelpTopic, Priority, Status, SLAPlan, ApiKey, Ticket)
    ] == counts
    assert counts[:7] == [5, 2, 3, 4, 4, 3, 1]
    assert {p.name: p.resolution_minutes for p in SLAPlan.objects.all()} == {
        "Default SLA": 1080,
        "Sev-A": 60,
        "Sev-B": 240,
    }
    assert list(Priority.objects.values_list("name", flat=True)) == ["Emergency", "High", "Normal", "Low"]
    assert User.objects.get(email="john@example.com").check_password("pw-for-the-demo-1")
    assert ApiKey.objects.get().allows_address("127.0.0.1")
    assert Ticket.objects.filter(state="resolved").count() == 3


@pytest.mark.django_db
def test_seed_demo_without_a_password_prints_the_one_it_made(capsys) -> None:
    call_command("seed_demo", "--no-tickets")
    out = capsys.readouterr().out
    password = out.split("password for all: ")[1].split()[0]
    assert User.objects.get(email="karen@example.com").check_password(password)


@pytest.mark.django_db
def test_the_portal_and_the_staff_sign_in_pages_are_served(client) -> None:
    assert client.get("/").status_code == 200
    assert client.get("/login/").status_code == 200
    assert client.get("/staff/login/").status_code == 200
    assert client.get("/staff/").status_code == 302


@pytest.mark.django_db
def test_an_end_user_cannot_sign_in_to_the_staff_panel(client, karen) -> None:
    from tests.conftest import PASSWORD

    response = client.post("/staff/login/", {"username": "karen@example.com", "password": PASSWORD})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
    response = client.post("/staff/login/", {"username": "john@example.com", "password": PASSWORD})
    assert response.status_code == 302


@pytest.mark.django_db
def test_the_favicon_is_served_from_static_files(client) -> None:
    response = client.get("/favicon.ico")
    assert response.status_code == 301 and response["Location"].endswith("favicon.svg")


@pytest.mark.django_db
def test_a_page_whose_database_connection_is_lost_answers_503_asking_to_try_again(client, monkeypatch) -> None:
    from django.db import OperationalError

    from tickets.views.portal import tickets as portal_views

    def lost(*args: object, **kwargs: object) -> None:
        raise OperationalError("terminating connection due to administrator command")

    monkeypatch.setattr(portal_views, "render_for", lost)
    response = client.get("/")
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert "Try again in a moment" in response.content.decode()
    # Anything else is still a server error, not a "try again".
    monkeypatch.setattr(portal_views, "render_for", lambda *a, **k: 1 / 0)
    client.raise_request_exception = False
    assert client.get("/").status_code == 500


@pytest.mark.django_db
def test_a_session_saved_over_a_lost_connection_is_saved_again_not_answered_400(monkeypatch) -> None:
    from django.contrib.sessions.models import Session
    from django.db import OperationalError

    from helpdesk import sessions

    store = sessions.SessionStore()
    store["opened"] = {"number": 1}
    store.save(must_create=True)
    real_save = Session.save
    lost = {"times": 1}

    def save_over_a_lost_connection(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        if lost["times"]:
            lost["times"] -= 1
            raise OperationalError("terminating connection due to administrator command")
        return real_save(self, *args, **kwargs)

    closed = []
    monkeypatch.setattr(Session, "save", save_over_a_lost_connection)
    monkeypatch.setattr(sessions, "connections", {"default": type("C", (), {"close": lambda self: closed.append(1)})()})
    store["opened"] = {"number": 2}
    store.save()
    assert closed == [1]
    assert Session.objects.get(session_key=store.session_key).get_decoded()["opened"] == {"number": 2}


@pytest.mark.postgres
@pytest.mark.django_db
def test_postgresql_connections_run_without_jit_and_with_room_for_searches() -> None:
    """JIT compilation costs the queue counts and the dashboard more than it saves; a search
    for a common word needs more than the default 4 MB to stay exact."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("a PostgreSQL setting")
    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        assert cursor.fetchone()[0] == "off"
        cursor.execute("SHOW work_mem")
        assert cursor.fetchone()[0] == "32MB"
