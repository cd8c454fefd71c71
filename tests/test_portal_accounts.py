"""Portal accounts: registering with a link that verifies the address (a guest's tickets come
along), signing in and out, password reset, profile; no page tells whether an address has an
account; throttled sign-ins; `next` never leaves the site."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.urls import reverse

from accounts.models import User
from tests.conftest import PASSWORD
from tests.factories import ticket_open
from tickets.models import Ticket

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "plum-orchard-lantern-42"
VERIFY = re.compile(r"https?://[^\s\"<>]+(/register/[^\s\"<>/]+/)")
RESET = re.compile(r"https?://[^\s\"<>]+(/password/reset/[^\s\"<>/]+/[^\s\"<>/]+/)")


def register(client, capture, email: str, name: str = "Greta Guest") -> object:
    with capture(execute=True):
        return client.post(reverse("portal:register"), {"name": name, "email": email})


def choose_password(client, path: str, password: str = NEW_PASSWORD) -> object:
    return client.post(path, {"new_password1": password, "new_password2": password})


def only_mail_to(address: str):
    [message] = [m for m in mail.outbox if address in m.to[0]]
    return message


# ---------------------------------------------------------------- registering


def test_a_new_person_registers_through_the_link_mailed_to_them(
    client, seed, django_capture_on_commit_callbacks
) -> None:
    response = register(client, django_capture_on_commit_callbacks, "Greta@Example.org")
    assert response.status_code == 302 and response["Location"] == reverse("portal:register_sent")
    assert not User.objects.filter(email="greta@example.org").exists()  # nothing until the address is proven
    message = only_mail_to("greta@example.org")
    assert message.subject == "Confirm your address to finish registering"
    path = VERIFY.search(message.body).group(1)
    assert path in message.alternatives[0][0]

    form = client.get(path)
    assert form.status_code == 200 and "greta@example.org" in form.content.decode()
    done = choose_password(client, path)
    assert done.status_code == 302 and done["Location"] == reverse("portal:tickets")
    greta = User.objects.get(email="greta@example.org")
    assert greta.name == "Greta Guest" and greta.check_password(NEW_PASSWORD)
    assert greta.email_verified_at is not None and greta.kind == User.Kind.END_USER
    assert int(client.session["_auth_user_id"]) == greta.pk


def test_a_guest_who_registers_finds_their_earlier_tickets(client, seed, django_capture_on_commit_callbacks) -> None:
    ticket_open(User.objects.create_user("greta@example.org", name="G."), "Printer on floor 2")
    guest = User.objects.get(email="greta@example.org")
    register(client, django_capture_on_commit_callbacks, "greta@example.org", name="Greta Guest")
    path = VERIFY.search(only_mail_to("greta@example.org").body).group(1)
    choose_password(client, path)
    greta = User.objects.get(email="greta@example.org")
    assert greta.pk == guest.pk and greta.has_usable_password() and greta.name == "Greta Guest"
    page = client.get(reverse("portal:tickets")).content.decode()
    assert "Printer on floor 2" in page
    assert "Tickets opened earlier with this address are listed here." in page


def test_a_registration_link_works_once(client, seed, django_capture_on_commit_callbacks) -> None:
    register(client, django_capture_on_commit_callbacks, "greta@example.org")
    path = VERIFY.search(only_mail_to("greta@example.org").body).group(1)
    choose_password(client, path)
    other = Client()
    assert other.get(path).status_code == 404
    response = choose_password(other, path, "another-password-77")
    assert response.status_code == 404 and "This link does not work" in response.content.decode()
    assert User.objects.get(email="greta@example.org").check_password(NEW_PASSWORD)


def test_a_registration_link_expires(client, seed, settings, django_capture_on_commit_callbacks) -> None:
    settings.REGISTRATION_TIMEOUT = 3600
    with time_machine.travel(datetime(2026, 6, 1, 9, tzinfo=UTC), tick=False):
        register(client, django_capture_on_commit_callbacks, "greta@example.org")
    path = VERIFY.search(only_mail_to("greta@example.org").body).group(1)
    with time_machine.travel(datetime(2026, 6, 1, 10, 1, tzinfo=UTC), tick=False):
        assert client.get(path).status_code == 404
    assert not User.objects.filter(email="greta@example.org").exists()


def test_a_forged_registration_link_is_refused(client, seed) -> None:
    assert client.get("/register/eyJlIjoia2FyZW5AZXhhbXBsZS5jb20ifQ:1abc:forged/").status_code == 404
    assert client.get("/register/" + "a" * 2000 + "/").status_code == 404


def test_a_weak_password_is_refused_beside_the_field(client, seed, django_capture_on_commit_callbacks) -> None:
    register(client, django_capture_on_commit_callbacks, "greta@example.org", name="Greta Guest")
    path = VERIFY.search(only_mail_to("greta@example.org").body).group(1)
    for weak, message in [
        ("short", "This password is too short."),
        ("password123", "This password is too common."),
        ("greta@example.org", "The password is too similar to the email."),
    ]:
        response = choose_password(client, path, weak)
        assert response.status_code == 400
        assert any(message in e for e in response.context["form"].errors["new_password2"]), weak
    mismatch = client.post(path, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD + "x"})
    assert mismatch.context["form"].errors["new_password2"][0].startswith("The two password fields didn")
    assert not User.objects.filter(email="greta@example.org").exists()


def test_registering_an_address_that_has_an_account_says_the_same_and_mails_a_reset_link(
    client, karen, django_capture_on_commit_callbacks
) -> None:
    new = register(Client(), django_capture_on_commit_callbacks, "nobody-yet@example.org")
    existing = register(client, django_capture_on_commit_callbacks, "karen@example.com", name="Evil Mallory")
    assert (existing.status_code, existing["Location"]) == (new.status_code, new["Location"])
    message = only_mail_to("karen@example.com")
    assert message.subject == "You already have an account at the help desk"
    assert RESET.search(message.body) and not VERIFY.search(message.body)
    karen.refresh_from_db()
    assert karen.name == "Karen Doe" and karen.check_password(PASSWORD)


def test_an_agents_address_cannot_be_registered_as_an_end_user(
    client, john, django_capture_on_commit_callbacks
) -> None:
    register(client, django_capture_on_commit_callbacks, "john@example.com")
    assert only_mail_to("john@example.com").subject == "You already have an account at the help desk"


def test_bad_registration_input_is_named_beside_its_field(client, seed) -> None:
    response = client.post(reverse("portal:register"), {"name": " ", "email": "nope"})
    assert response.status_code == 400
    assert set(response.context["form"].errors) == {"name", "email"}
    assert mail.outbox == []


def test_registration_mails_are_throttled_per_address(
    client, seed, settings, django_capture_on_commit_callbacks
) -> None:
    settings.THROTTLES = {**settings.THROTTLES, "links_per_address": "2/h"}
    for _ in range(2):
        register(client, django_capture_on_commit_callbacks, "greta@example.org")
    response = register(client, django_capture_on_commit_callbacks, "greta@example.org")
    assert response.status_code == 429 and "Too many attempts" in response.content.decode()
    assert len(mail.outbox) == 2


# ---------------------------------------------------------------- signing in and out


def test_karen_signs_in_and_lands_on_her_tickets(client, karen) -> None:
    response = client.post(reverse("portal:login"), {"username": "Karen@Example.com", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == reverse("portal:tickets")


def test_a_wrong_password_and_an_unknown_address_get_the_same_answer(client, karen) -> None:
    wrong = client.post(reverse("portal:login"), {"username": "karen@example.com", "password": "nope"})
    unknown = client.post(reverse("portal:login"), {"username": "who@example.com", "password": "nope"})
    assert wrong.status_code == unknown.status_code == 200
    assert wrong.context["form"].non_field_errors() == unknown.context["form"].non_field_errors()


def test_a_guest_row_cannot_sign_in(client, seed) -> None:
    User.objects.create_user("guest@example.org", name="Guest")
    response = client.post(reverse("portal:login"), {"username": "guest@example.org", "password": ""})
    assert "_auth_user_id" not in client.session and response.status_code == 200


@pytest.mark.parametrize(
    ("next_url", "lands"),
    [
        ("/tickets/?status=closed", "/tickets/?status=closed"),
        ("https://evil.example/phish", "/tickets/"),
        ("//evil.example/phish", "/tickets/"),
        ("/\\evil.example", "/tickets/"),
        ("javascript:alert(1)", "/tickets/"),
    ],
)
def test_next_is_followed_only_within_the_site(client, karen, next_url, lands) -> None:
    response = client.post(
        reverse("portal:login") + "?next=x", {"username": "karen@example.com", "password": PASSWORD, "next": next_url}
    )
    assert response["Location"] == lands


def test_sign_ins_are_throttled_per_address_with_a_clear_message(client, karen, settings) -> None:
    settings.THROTTLES = {**settings.THROTTLES, "logins_per_address": "3/15m"}
    for _ in range(3):
        client.post(reverse("portal:login"), {"username": "karen@example.com", "password": "guess"})
    response = client.post(reverse("portal:login"), {"username": "karen@example.com", "password": PASSWORD})
    assert response.status_code == 429
    assert "Too many attempts from this address or network. Wait" in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert (
        client.post(reverse("portal:login"), {"username": "ken@example.com", "password": PASSWORD}).status_code == 302
    )


def test_sign_ins_are_throttled_per_client_ip(client, karen, settings) -> None:
    settings.THROTTLES = {**settings.THROTTLES, "logins_per_ip": "3/15m"}
    for n in range(3):
        client.post(reverse("portal:login"), {"username": f"probe{n}@example.com", "password": "guess"})
    assert (
        client.post(reverse("portal:login"), {"username": "karen@example.com", "password": PASSWORD}).status_code == 429
    )
    other_network = client.post(
        reverse("portal:login"), {"username": "karen@example.com", "password": PASSWORD}, REMOTE_ADDR="192.0.2.44"
    )
    assert other_network.status_code == 302


def test_a_cache_outage_lets_sign_ins_through(client, karen, monkeypatch) -> None:
    from tickets.views.portal import throttle

    def down(*args, **kwargs):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(throttle, "get_usage", down)
    response = client.post(reverse("portal:login"), {"username": "karen@example.com", "password": PASSWORD})
    assert response.status_code == 302


def test_signing_in_changes_the_session_key_and_signing_out_ends_it(client, karen) -> None:
    client.get(reverse("portal:status"))
    client.post(reverse("portal:status"), {"email": "x@example.com", "number": "12345678"})
    before = client.session.session_key
    client.post(reverse("portal:login"), {"username": "karen@example.com", "password": PASSWORD})
    assert client.session.session_key != before
    assert client.get(reverse("portal:logout")).status_code == 405
    assert client.post(reverse("portal:logout"))["Location"] == reverse("portal:home")
    assert "_auth_user_id" not in client.session


def test_the_staff_sign_in_page_still_works_with_the_shared_template(client, john) -> None:
    page = client.get(reverse("staff:login")).content.decode()
    assert "Staff sign in" in page and reverse("portal:register") not in page


# ---------------------------------------------------------------- password reset


def test_karen_resets_her_password_through_the_mailed_link(client, karen, django_capture_on_commit_callbacks) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("portal:password_reset"), {"email": "karen@example.com"})
    assert response["Location"] == reverse("portal:password_reset_done")
    path = RESET.search(only_mail_to("karen@example.com").body).group(1)
    form_page = client.get(path, follow=True)
    assert form_page.context["validlink"]
    done = choose_password(client, form_page.redirect_chain[-1][0])
    assert done["Location"] == reverse("portal:tickets")
    karen.refresh_from_db()
    assert karen.check_password(NEW_PASSWORD)
    assert int(client.session["_auth_user_id"]) == karen.pk
    assert not Client().get(path, follow=True).context["validlink"]  # used once


def test_a_reset_for_a_guest_mails_the_registration_link_and_unknown_addresses_get_nothing(
    client, seed, django_capture_on_commit_callbacks
) -> None:
    User.objects.create_user("guest@example.org", name="Guest")
    answers = set()
    for email in ("guest@example.org", "unknown@example.org"):
        with django_capture_on_commit_callbacks(execute=True):
            answers.add(client.post(reverse("portal:password_reset"), {"email": email})["Location"])
    assert answers == {reverse("portal:password_reset_done")}
    [message] = mail.outbox
    assert "guest@example.org" in message.to[0] and VERIFY.search(message.body)


def test_a_reset_never_mails_a_disabled_account(client, karen, django_capture_on_commit_callbacks) -> None:
    User.objects.filter(pk=karen.pk).update(is_active=False)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("portal:password_reset"), {"email": "karen@example.com"})
    assert mail.outbox == []


def test_account_mail_goes_out_only_after_the_request_commits(
    client, karen, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        client.post(reverse("portal:password_reset"), {"email": "karen@example.com"})
    assert mail.outbox == [] and len(callbacks) == 1
    callbacks[0]()
    assert len(mail.outbox) == 1


# ---------------------------------------------------------------- profile


def test_karen_updates_her_profile(client, karen) -> None:
    client.force_login(karen)
    response = client.post(
        reverse("portal:profile"),
        {"name": " Karen  Doe-Smith ", "phone": "+44 20 7946 0000", "time_zone": "Europe/London"},
    )
    assert response["Location"] == reverse("portal:profile")
    karen.refresh_from_db()
    assert (karen.name, karen.phone, karen.time_zone) == ("Karen Doe-Smith", "+44 20 7946 0000", "Europe/London")


def test_bad_profile_input_is_named_beside_its_field_and_changes_nothing(client, karen) -> None:
    client.force_login(karen)
    response = client.post(reverse("portal:profile"), {"name": "  ", "phone": "", "time_zone": "Mars/Olympus"})
    assert response.status_code == 400 and set(response.context["form"].errors) == {"name", "time_zone"}
    karen.refresh_from_db()
    assert karen.name == "Karen Doe" and karen.time_zone == ""


def test_changing_the_password_asks_for_the_current_one(client, karen) -> None:
    client.force_login(karen)
    url = reverse("portal:password_change")
    wrong = client.post(url, {"old_password": "nope", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert "old_password" in wrong.context["form"].errors
    right = client.post(url, {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert right["Location"] == reverse("portal:profile")
    karen.refresh_from_db()
    assert karen.check_password(NEW_PASSWORD)
    assert client.get(reverse("portal:profile")).status_code == 200  # still signed in


def test_profile_pages_need_a_sign_in(client, seed) -> None:
    for url in (reverse("portal:profile"), reverse("portal:password_change")):
        assert client.get(url)["Location"].startswith(reverse("portal:login"))


def test_registered_tickets_stay_the_users_after_a_profile_change(client, karen) -> None:
    ticket = ticket_open(karen)
    client.force_login(karen)
    client.post(reverse("portal:profile"), {"name": "K. Doe", "phone": "", "time_zone": ""})
    assert Ticket.objects.get(pk=ticket.pk).requester_id == karen.pk
