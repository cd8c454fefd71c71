"""An admin configures business hours and an SLA plan in a real browser (Chromium driven by
Playwright) and previews when its targets fall due."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sla.models import Schedule, SLAPlan
from tests.conftest import PASSWORD
from tests.support import chromium

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"


@pytest.fixture
def page(monkeypatch: pytest.MonkeyPatch, settings: Any) -> Iterator[Any]:
    # The live server speaks plain HTTP.
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = False
    ARTIFACTS.mkdir(exist_ok=True)
    with chromium() as browser:
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.set_default_timeout(20_000)
        page.route("**/favicon.ico", lambda route: route.fulfill(status=204))
        errors: list[str] = []
        # Error answers (a form sent back with its errors is a 400) are logged too; not those.
        page.on(
            "console",
            lambda message: (
                errors.append(message.text)
                if message.type == "error" and not message.text.startswith("Failed to load resource")
                else None
            ),
        )
        yield page
        # A CSP violation (an inline script or style) shows as a console error.
        assert errors == []


def test_an_admin_sets_up_business_hours_and_a_plan_and_previews_it(page, live_server, admin, statuses) -> None:
    page.goto(f"{live_server.url}/staff/admin/")
    page.fill("input[name=username]", admin.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.get_by_role("link", name="Business hours").first.click()
    page.get_by_role("link", name="New schedule").click()

    page.fill("#id_name", "Berlin office")
    page.fill("#id_timezone", "Europe/Berlin")
    # Monday to Friday 09:00-17:00 are there already; add Saturday morning with the button.
    page.click("[data-formset-add=intervals]")
    page.select_option("#id_intervals-5-weekday", "5")
    page.fill("#id_intervals-5-start", "09:00")
    page.fill("#id_intervals-5-end", "12:00")
    page.fill("#id_holidays-0-date", "2026-12-25")
    page.fill("#id_holidays-0-name", "Christmas Day")
    # A night shift crossing midnight is refused beside the field, and nothing is saved.
    page.click("[data-formset-add=intervals]")
    page.select_option("#id_intervals-6-weekday", "6")
    page.fill("#id_intervals-6-start", "22:00")
    page.fill("#id_intervals-6-end", "02:00")
    page.click("button:has-text('Save')")
    assert page.locator(".invalid-feedback", has_text="split a night shift at midnight").is_visible()
    page.screenshot(path=str(ARTIFACTS / "admin-schedule-midnight-refused.png"), full_page=True)
    assert not Schedule.objects.filter(name="Berlin office").exists()

    page.check("#id_intervals-6-DELETE")
    page.click("button:has-text('Save')")
    assert page.locator(".alert-success", has_text="Schedule Berlin office created.").is_visible()
    schedule = Schedule.objects.get(name="Berlin office")
    assert schedule.intervals.count() == 6 and schedule.holidays.count() == 1

    page.get_by_role("link", name="SLA plans").first.click()
    page.get_by_role("link", name="New plan").click()
    page.fill("#id_name", "Office hours gold")
    page.select_option("#id_schedule", label="Berlin office")
    page.fill("#id_first_response_minutes", "60")
    page.fill("#id_resolution_minutes", "480")
    page.check(f"input[name=pause_statuses][value='{statuses['waiting'].pk}']")
    page.click("button:has-text('Save')")
    assert page.locator(".alert-success", has_text="SLA plan Office hours gold created.").is_visible()
    plan = SLAPlan.objects.get(name="Office hours gold")
    assert plan.schedule == schedule

    # Friday 16:00 in Berlin, waiting on the customer Monday 09:00-10:00.
    page.fill("#id_opened_at", "2026-03-06T16:00")
    page.fill("#id_pauses-0-start", "2026-03-09T09:00")
    page.fill("#id_pauses-0-end", "2026-03-09T10:00")
    page.click("button:has-text('Preview')")
    results = page.locator("#preview-results")
    assert results.is_visible()
    text = results.inner_text()
    assert "Fri 06 Mar 2026, 17:00 CET" in text  # first response, one business hour
    # Resolution, 8 h: 1 h on Friday, 3 h on Saturday morning, the Monday pause, 4 h more.
    assert "Mon 09 Mar 2026, 14:00 CET" in text
    page.locator("summary").first.click()
    page.screenshot(path=str(ARTIFACTS / "admin-plan-preview.png"), full_page=True)
