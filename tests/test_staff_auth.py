"""Agents sign in, out, reset their password and keep their profile; end users stay out."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from django.core import mail
from django.core.cache import cache
from django.urls import reverse

from tests.conftest import PASSWORD
from tests.factories import ticket_open

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_counters() -> None:
    cache.clear()


def sign_in(client, email: str, password: str = PASSWORD, **extra: str):
    return client.post(reverse("staff:login"), {"username": email, "password": password, **extra})


def test_john_signs_in_and_lands_on_his_queues(client, john) -> None:
    response = sign_in(client, "John@Example.com")
    assert response.status_code == 302 and response.url == reverse("staff:home")
    assert client.get(reverse("staff:home")).status_code == 200


def test_sign_in_returns_to_the_page_asked_for_but_never_off_site(client, john, karen) -> None:
    ticket = ticket_open(karen, "Printer jammed")
    assert sign_in(client, john.email, next=ticket.get_staff_url()).url == ticket.get_staff_url()
    client.logout()
    assert sign_in(client, john.email, next="https://evil.example/").url == reverse("staff:home")


def test_karen_is_told_the_same_as_for_a_wrong_password(client, karen, john) -> None:
    refused = sign_in(client, karen.email)
    wrong = sign_in(client, john.email, "not-the-password")
    assert refused.status_code == wrong.status_code == 200
    assert refused.context["form"].non_field_errors() == wrong.context["form"].non_field_errors()
    assert "_auth_user_id" not in client.session


def test_a_signed_in_agent_skips_the_form_and_a_signed_in_end_user_sees_it(client, john, karen) -> None:
    client.force_login(john)
    assert client.get(reverse("staff:login")).url == reverse("staff:home")
    client.force_login(karen)
    response = client.get(reverse("staff:login"))
    assert response.status_code == 200 and "Staff sign in" in response.content.decode()


def test_too_many_attempts_are_throttled_with_a_clear_message(client, john) -> None:
    for _ in range(10):
        sign_in(client, john.email, "wrong")
    response = sign_in(client, john.email)  # even the right password waits
    assert response.status_code == 429
    assert "Too many sign-in attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_john_signs_out(client, john) -> None:
    client.force_login(john)
    response = client.post(reverse("staff:logout"))
    assert response.status_code == 302 and response.url == reverse("staff:login")
    assert client.get(reverse("staff:home")).status_code == 302


def test_john_resets_his_password_by_email(client, john) -> None:
    response = client.post(reverse("staff:password_reset"), {"email": "john@example.com"})
    assert response.url == reverse("staff:password_reset_done")
    [message] = mail.outbox
    assert message.to == ["john@example.com"]
    link = re.search(r"http://localhost:8000(/staff/password-reset/\S+/)", message.body).group(1)
    form_page = client.get(link, follow=True)
    assert form_page.status_code == 200
    new = "a-brand-new-password-42"
    done = client.post(form_page.redirect_chain[-1][0], {"new_password1": new, "new_password2": new})
    assert done.url == reverse("staff:password_reset_complete")
    client.logout()
    assert sign_in(client, john.email, new).status_code == 302


def test_a_reset_asked_for_an_end_user_or_a_stranger_sends_nothing_and_says_the_same(client, karen) -> None:
    for address in (karen.email, "nobody@example.com"):
        response = client.post(reverse("staff:password_reset"), {"email": address})
        assert response.url == reverse("staff:password_reset_done")
    assert mail.outbox == []


def test_john_sets_his_signature_and_time_zone_and_times_show_in_it(client, john, karen) -> None:
    import time_machine

    client.force_login(john)
    response = client.post(
        reverse("staff:profile"), {"name": "John Doe", "signature": "John\nSupport desk", "time_zone": "Asia/Tokyo"}
    )
    assert response.status_code == 302
    john.refresh_from_db()
    assert (john.signature, john.time_zone) == ("John\nSupport desk", "Asia/Tokyo")
    with time_machine.travel(datetime(2026, 3, 2, 9, 0, tzinfo=UTC), tick=False):
        ticket = ticket_open(karen, "Printer jammed")
    html = client.get(ticket.get_staff_url()).content.decode()
    assert "2026-03-02 18:00 JST" in html


def test_an_unknown_time_zone_or_empty_name_is_refused_beside_the_field(client, john) -> None:
    client.force_login(john)
    response = client.post(reverse("staff:profile"), {"name": " ", "signature": "", "time_zone": "Mars/Olympus"})
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert "time_zone" in errors and "Unknown time zone" in errors["time_zone"][0]
    assert "name" in errors
    john.refresh_from_db()
    assert john.time_zone == ""


def test_john_changes_his_password(client, john) -> None:
    client.force_login(john)
    new = "another-long-password-7"
    response = client.post(
        reverse("staff:password_change"), {"old_password": PASSWORD, "new_password1": new, "new_password2": new}
    )
    assert response.status_code == 302
    john.refresh_from_db()
    assert john.check_password(new)


def test_the_admin_link_is_shown_to_admins_only(client, john, admin) -> None:
    client.force_login(john)
    assert reverse("adminpanel:home") not in client.get(reverse("staff:home")).content.decode()
    client.force_login(admin)
    assert reverse("adminpanel:home") in client.get(reverse("staff:home")).content.decode()
