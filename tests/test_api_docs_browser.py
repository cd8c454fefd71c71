"""The API docs and the webhook admin page in a real browser (Chromium driven by Playwright),
under the site's strict CSP: no script or style may be refused, nothing comes from a CDN."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from accounts.models import User
from api.models import WebhookDelivery
from api.services import webhook_create
from tests.conftest import PASSWORD
from tests.factories import ticket_open
from tests.support import chromium

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"


@pytest.fixture
def page(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    with chromium() as browser:
        context = browser.new_context()
        tab = context.new_page()
        tab.set_default_timeout(20000)
        yield tab
        context.close()


def watch(page: Any) -> tuple[list[str], list[str]]:
    """Console errors (a refused script or style shows here) and requests that left the site."""
    errors: list[str] = []
    outside: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("request", lambda req: outside.append(req.url) if not req.url.startswith(("http://localhost", "http://127.0.0.1", "data:")) else None)  # fmt: skip
    return errors, outside


def test_the_swagger_docs_render_every_operation_under_the_csp(live_server: Any, page: Any, seed: None) -> None:
    errors, outside = watch(page)
    page.goto(f"{live_server.url}/api/v1/docs/")
    page.wait_for_selector(".opblock-summary-path", timeout=30000)
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert any("/api/v1/tickets/{number}/replies/" in p.replace("\u200b", "") for p in paths)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "api-docs-swagger.png"), full_page=False)
    assert not [e for e in errors if "Content Security Policy" in e], errors
    assert outside == []


def test_an_admin_sees_the_delivery_log_and_redelivers_in_the_browser(
    live_server: Any, page: Any, admin: User, karen: User
) -> None:
    hook = webhook_create(name="Down endpoint", url="http://127.0.0.1:9/", events=["ticket.created"], actor=admin)
    ticket_open(karen, "Entire mobile/online banking system is down")
    errors, outside = watch(page)
    page.goto(f"{live_server.url}/staff/login/")
    page.fill("input[name=username]", "admin@example.com")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.goto(f"{live_server.url}/staff/admin/api/webhooks/{hook.pk}/")
    page.wait_for_selector("text=ticket.created")
    assert page.locator("text=Connection refused").count() + page.locator("text=URLError").count() >= 1
    page.click("button:has-text('Redeliver')")
    page.wait_for_selector("text=Queued ticket.created again.")
    assert WebhookDelivery.objects.filter(webhook=hook, redelivery_of__isnull=False).count() == 1
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "api-webhook-delivery-log.png"), full_page=True)
    assert not [e for e in errors if "Content Security Policy" in e], errors
    assert outside == []
