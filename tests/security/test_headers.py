"""Security headers on every page: each URL pattern of the project is requested with GET, as
the person who would use it, and every answer (a page, a redirect to sign in, a 404, a 405)
carries the Content-Security-Policy (no inline scripts), nosniff, a referrer policy, framing
refused, HSTS on HTTPS and a cross-origin opener policy. The pages themselves hold no inline
script or event handler, which that policy would block."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.apps import apps
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from accounts.models import User
from api.services import api_key_create, webhook_create
from tests.conftest import PASSWORD
from tests.factories import ticket_open
from tickets import services
from tickets.attachments import Upload
from tickets.canned import canned_response_create
from tickets.models import Attachment, Department, HelpTopic, Priority, Status
from tickets.queues import saved_queue_create

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _routes(patterns: list[object], prefix: str = "", namespace: str = "") -> Iterator[tuple[str, str]]:
    """(route, name) for every URL pattern, routes as written (with <converters> and regexes)."""
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}:{pattern.namespace}".strip(":") if pattern.namespace else namespace
            yield from _routes(pattern.url_patterns, prefix + str(pattern.pattern), inner)
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), f"{namespace}:{pattern.name or ''}"


PARAMETER = re.compile(r"<(?:\w+:)?(\w+)>|\(\?P<(\w+)>[^)]*\)")


@pytest.fixture
def world(karen, john, jane, admin, support, report_a_problem) -> dict[str, object]:
    """One of everything a route can name."""
    ticket = ticket_open(karen, "Statement is wrong", "See the file.", help_topic=report_a_problem)
    services.ticket_reply(ticket=ticket, actor=john, body="Looking into it.")
    services.ticket_add_message(
        ticket=ticket, author=karen, body="Screenshot attached.", uploads=[Upload("screen.png", PNG)]
    )
    attachment = Attachment.objects.get()
    token = services.access_link_issue(ticket=ticket, recipient=karen)
    saved = saved_queue_create(owner=john, name="Mine", base="open", params={}, is_shared=False)
    canned = canned_response_create(actor=john, title="Thanks", body="Thank you.")
    api_key, _ = api_key_create(name="Intake", allowed_addresses="127.0.0.1")
    webhook = webhook_create(name="Hook", url="https://hooks.example.com/x", events=["ticket.created"], actor=admin)
    return {
        "ticket": ticket,
        "attachment": attachment,
        "token": token,
        "saved": saved,
        "canned": canned,
        "api_key": api_key,
        "webhook": webhook,
    }


def _value(name: str, parameter: str, world: dict[str, object]) -> str:
    ticket = world["ticket"]
    if parameter == "number":
        return str(ticket.number)  # type: ignore[attr-defined]
    if parameter == "token":
        return str(world["token"])
    if parameter == "key":
        return "open"
    if parameter == "table":
        return "backlog"
    if parameter == "kind":
        return "response"
    if parameter == "data_format":
        return "json"
    if parameter in ("uidb64", "rest", "url", "action"):
        return "x"
    if parameter == "app_label":
        return "tickets"
    if parameter == "content_type_id":
        return "1"
    if parameter == "key_id":
        return str(world["api_key"].pk)  # type: ignore[attr-defined]
    if parameter in ("webhook_id",):
        return str(world["webhook"].pk)  # type: ignore[attr-defined]
    if parameter == "user_id":
        return str(User.objects.get(email="karen@example.com").pk)
    # A primary key: of the object the route is about, when one is known.
    by_name = {
        "attachment": world["attachment"],
        "link_attachment": world["attachment"],
        "saved_queue": world["saved"],
        "canned_edit": world["canned"],
        "department": Department.objects.first(),
        "topic": HelpTopic.objects.first(),
        "priority": Priority.objects.first(),
        "status": Status.objects.first(),
        "agent": User.objects.get(email="jane@example.com"),
        "api_key": world["api_key"],
        "webhook-detail": world["webhook"],
    }
    short = name.split(":")[-1]
    if short in by_name:
        return str(by_name[short].pk)  # type: ignore[union-attr]
    if name.startswith("admin:") and parameter == "object_id":
        # admin:<app>_<model>_change: the first row of that model.
        match = re.match(r"admin:(\w+?)_(\w+)_\w+$", name)
        if match:
            try:
                model = apps.get_model(match.group(1), match.group(2))
            except LookupError:
                return "1"
            row = model._default_manager.order_by("pk").first()
            return str(row.pk) if row else "1"
    first = {"plan": "sla.SLAPlan", "schedule": "sla.Schedule"}.get(short.removesuffix("_preview"))
    if first:
        row = apps.get_model(first).objects.order_by("pk").first()
        return str(row.pk) if row else "1"
    return "1"


def _url(route: str, name: str, world: dict[str, object]) -> str:
    def fill(match: re.Match[str]) -> str:
        return _value(name, match.group(1) or match.group(2), world)

    url = PARAMETER.sub(fill, route)
    # What is left of a regex route: anchors and optional groups.
    url = re.sub(r"\(\?:[^)]*\)\?", "", url).replace("^", "").replace("$", "").replace(".*", "x")
    url = url.replace("\\.", ".")
    return "/" + url


def _role(url: str) -> str | None:
    if re.search(r"/(login|password-reset)/", url):
        return None
    if url.startswith(("/staff/admin/", "/django-admin/")):
        return "admin@example.com"
    if url.startswith(("/staff/", "/api/v1/")):
        return "john@example.com"
    if url.startswith(("/tickets/", "/account/", "/attachments/")):
        return "karen@example.com"
    return None


def assert_security_headers(response, where: str) -> None:
    csp = response.get("Content-Security-Policy", "")
    assert csp, f"{where}: no Content-Security-Policy"
    directives = {part.split()[0]: part.split()[1:] for part in csp.split(";") if part.strip()}
    scripts = directives.get("script-src", directives.get("default-src"))
    assert scripts is not None, f"{where}: the CSP does not restrict scripts: {csp}"
    assert "'unsafe-inline'" not in scripts and "'unsafe-eval'" not in scripts, f"{where}: {csp}"
    assert "*" not in scripts and "data:" not in scripts, f"{where}: {csp}"
    assert directives.get("frame-ancestors") == ["'none'"] or "sandbox" in directives, f"{where}: {csp}"
    assert response.get("X-Content-Type-Options") == "nosniff", where
    assert response.get("Referrer-Policy") in ("same-origin", "no-referrer", "strict-origin-when-cross-origin"), where
    assert response.get("X-Frame-Options") == "DENY", where
    assert response.get("Cross-Origin-Opener-Policy") == "same-origin", where
    hsts = response.get("Strict-Transport-Security", "")
    assert re.match(r"max-age=(\d+)", hsts) and int(hsts.split("=")[1].split(";")[0]) >= 31536000, where


INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.IGNORECASE)
INLINE_HANDLER = re.compile(r"<[a-z][^>]*\s(on[a-z]+)\s*=", re.IGNORECASE)
INLINE_URL = re.compile(r"""(?:href|src|action)\s*=\s*["']?\s*javascript:""", re.IGNORECASE)

# Pages that must render (200) for their person: the walk reached them with real objects.
MUST_RENDER = {
    "portal:home", "portal:open", "portal:status", "portal:login", "portal:register", "portal:password_reset",
    "portal:tickets", "portal:ticket", "portal:link", "portal:profile", "portal:password_change",
    "staff:home", "staff:login", "staff:password_reset", "staff:queue", "staff:saved_queue", "staff:ticket",
    "staff:dashboard", "staff:canned_list", "staff:canned_new", "staff:canned_edit", "staff:profile",
    "adminpanel:home", "adminpanel:plans", "adminpanel:schedules", "adminpanel:reports", "adminpanel:departments",
    "adminpanel:department", "adminpanel:topics", "adminpanel:topic", "adminpanel:agents", "adminpanel:agent",
    "adminpanel:api_keys", "mail:home", "mail:messages", "mail:outbox", "mail:settings", "mail:templates",
    "mail:template", "api_admin:index", "api_admin:webhook", "api:docs", "api:ticket-list", "api:me",
    "admin:index", "admin:tickets_ticket_changelist", "admin:tickets_ticket_change",
}  # fmt: skip


def test_every_route_answers_with_the_security_headers(world, settings) -> None:
    settings.SECURE_SSL_REDIRECT = False
    clients: dict[str | None, Client] = {None: Client()}
    for email in ("karen@example.com", "john@example.com", "admin@example.com"):
        client = Client()
        assert client.login(username=email, password=PASSWORD)
        clients[email] = client

    rendered: set[str] = set()
    html_pages = 0
    routes = sorted(set(_routes(get_resolver().url_patterns)))
    assert len(routes) > 150
    # Django's admin repeats one set of views per model: each model's list and change pages
    # stand for its add, history and delete pages (same views, same middleware).
    routes = [(r, n) for r, n in routes if not re.match(r"admin:\w+_(add|history|delete)$", n)]
    for route, name in routes:
        url = _url(route, name, world)
        response = clients[_role(url)].get(url, secure=True)
        where = f"GET {url} ({name}) -> {response.status_code}"
        assert response.status_code < 500, where
        assert_security_headers(response, where)
        if response.status_code == 200:
            rendered.add(name)
            if response.get("Content-Type", "").startswith("text/html") and not response.streaming:
                html_pages += 1
                body = response.content.decode()
                assert not INLINE_SCRIPT.search(body), f"{where}: inline script {INLINE_SCRIPT.search(body)}"
                assert not INLINE_HANDLER.search(body), f"{where}: inline handler {INLINE_HANDLER.search(body)}"
                assert not INLINE_URL.search(body), f"{where}: javascript: URL"
    assert MUST_RENDER - rendered == set()
    assert html_pages >= 80


def test_error_pages_carry_the_headers_too(karen, john, world, settings) -> None:
    settings.SECURE_SSL_REDIRECT = False
    anonymous = Client()
    assert_security_headers(anonymous.get("/no/such/page/", secure=True), "portal 404")
    staff = Client()
    staff.force_login(john)
    response = staff.get("/staff/tickets/999999999/", secure=True)
    assert response.status_code == 404
    assert_security_headers(response, "staff 404")
    # A form posted without its CSRF token: the 403 page.
    strict = Client(enforce_csrf_checks=True)
    response = strict.post("/login/", {"username": karen.email, "password": PASSWORD}, secure=True)
    assert response.status_code == 403
    assert_security_headers(response, "CSRF 403")
    response = Client().get("/staff/admin/", secure=True)
    assert response.status_code == 302
    assert_security_headers(response, "sign-in redirect")
    response = staff.get("/staff/admin/", secure=True)
    assert response.status_code in (403, 404)
    assert_security_headers(response, "admin page refused to an agent")


def test_file_downloads_keep_their_own_sandboxing_policy(world, karen, john, settings) -> None:
    settings.SECURE_SSL_REDIRECT = False
    attachment = world["attachment"]
    ticket = world["ticket"]
    portal = Client()
    portal.force_login(karen)
    staff = Client()
    staff.force_login(john)
    for client, url in (
        (portal, f"/attachments/{attachment.pk}/"),  # type: ignore[attr-defined]
        (Client(), f"/t/{world['token']}/attachments/{attachment.pk}/"),  # type: ignore[attr-defined]
        (staff, f"/staff/tickets/{ticket.number}/files/{attachment.pk}/"),  # type: ignore[attr-defined]
        (staff, f"/api/v1/tickets/{ticket.number}/attachments/{attachment.pk}/"),  # type: ignore[attr-defined]
    ):
        response = client.get(url, secure=True)
        assert response.status_code == 200, url
        csp = response["Content-Security-Policy"]
        assert "sandbox" in csp and "default-src 'none'" in csp, (url, csp)
        assert response["X-Content-Type-Options"] == "nosniff", url
        assert response["Content-Disposition"].startswith("attachment;"), url


def test_production_settings_send_hsts_and_pass_the_deploy_check() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "TESTING", "DATABASE_URL", "REDIS_URL", "PYTEST")}
    env.update(
        DEBUG="false",
        SECRET_KEY="production-like-key-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEF",
        ALLOWED_HOSTS="helpdesk.example.com",
        DJANGO_SETTINGS_MODULE="helpdesk.settings",
    )
    script = (
        "import django, sys; django.setup(); from django.conf import settings as s; "
        "from django.core.management import call_command; "
        "call_command('check', deploy=True, fail_level='WARNING', tags=['security']); "
        "print(s.SECURE_HSTS_SECONDS, s.SECURE_HSTS_INCLUDE_SUBDOMAINS, s.SECURE_SSL_REDIRECT, "
        "s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_CROSS_ORIGIN_OPENER_POLICY, s.X_FRAME_OPTIONS)"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split()[-7:] == ["31536000", "True", "True", "True", "True", "same-origin", "DENY"]


def test_no_page_template_carries_inline_script() -> None:
    """Templates are checked too (a page behind a state the walk did not reach)."""
    found = []
    for path in (ROOT / "templates").rglob("*.html"):
        if "emails" in path.parts:
            continue  # mail, not pages: shown by mail clients, never under this origin
        text = path.read_text()
        for pattern in (INLINE_SCRIPT, INLINE_HANDLER, INLINE_URL):
            for match in pattern.finditer(text):
                found.append(f"{path.relative_to(ROOT)}: {match.group(0)[:60]}")
    assert found == []
