"""Injection and redirects: what a query string or a `next` parameter can make the help desk do.

Sort and filter parameters of the staff queues, the search, the portal's My tickets and the API
lists go through allowlists: fuzzed, they get an answer (the list, or a 400 naming the field),
never a 500 or a database error. A `next` parameter never sends anyone off the site.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import User
from tests.conftest import PASSWORD
from tests.security.world import MARK_T2, World
from tickets.forms.staff import TicketFilterForm

pytestmark = pytest.mark.django_db

FUZZ = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Values that have broken parsers before: digits that int() refuses, NUL (PostgreSQL refuses it
# in text), SQL, LIKE wildcards, huge numbers, column names, and dates that are not.
NASTY = [
    "²",
    "¹²³",
    "٣",
    "\x00",
    "a\x00b",
    "' OR 1=1 --",
    '"; DROP TABLE tickets_ticket; --',
    "%",
    "_",
    "\\",
    "9" * 30,
    "-1",
    "0",
    "1e9",
    "nan",
    "number",
    "-number",
    "--number",
    "subject; DELETE",
    "requester__password",
    "password",
    "2026-02-30",
    "9999-12-31",
    "0001-01-01",
    "#",
    "#²",
    "@",
    "a@b",
    " ",
    "",
    "me",
    "none",
    "true",
]
values = st.one_of(
    st.sampled_from(NASTY),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.dates().map(str),
)


def query(keys: list[str]) -> st.SearchStrategy[dict[str, str]]:
    return st.dictionaries(st.sampled_from([*keys, "page", "junk"]), values, max_size=4)


def _get(client: Client, path: str, params: dict[str, str]) -> Any:
    response = client.get(f"{path}?{urlencode(params)}")
    assert response.status_code < 500, (path, params)
    return response


@pytest.fixture
def john_client(client: Client, world: World) -> Client:
    client.force_login(world.users["john"])
    return client


@FUZZ
@given(params=query(list(TicketFilterForm.FILTERS)))
def test_staff_queues_and_their_export_take_only_allowlisted_filters(john_client, world, params) -> None:
    for path in (reverse("staff:queue", args=["all"]), reverse("staff:queue_export", args=["all"])):
        response = _get(john_client, path, params)
        assert response.status_code in (200, 400)
        body = b"".join(response.streaming_content) if response.streaming else response.content
        # Whatever was asked, never a ticket John may not see.
        assert MARK_T2.encode() not in body


@FUZZ
@given(text=values)
def test_the_staff_search_answers_any_text(john_client, world, text) -> None:
    response = _get(john_client, reverse("staff:queue", args=["all"]), {"q": text})
    assert response.status_code in (200, 400)


@FUZZ
@given(params=query(["status", "q"]))
def test_my_tickets_in_the_portal_take_any_status_search_and_page(client, world, params) -> None:
    client.force_login(world.users["karen"])
    response = _get(client, reverse("portal:tickets"), params)
    assert response.status_code == 200
    assert MARK_T2.encode() not in response.content


@FUZZ
@given(topic=values)
def test_the_portal_form_takes_any_topic_in_its_address(client, world, topic) -> None:
    response = _get(client, reverse("portal:open"), {"topic": topic})
    assert response.status_code == 200


API_TICKET_FILTERS = [
    "status",
    "state",
    "priority",
    "department",
    "help_topic",
    "assignee",
    "requester",
    "overdue",
    "source",
    "created_after",
    "created_before",
    "updated_after",
    "updated_before",
    "q",
    "ordering",
    "page_size",
]


@FUZZ
@given(params=query(API_TICKET_FILTERS))
def test_the_api_ticket_list_takes_only_allowlisted_filters_and_orderings(client, world, params) -> None:
    client.force_login(world.users["ken"])
    response = _get(client, "/api/v1/tickets/", params)
    assert response.status_code in (200, 400)
    payload = response.json()
    if response.status_code == 200:
        assert {t["number"] for t in payload["results"]} <= {world.t2.number}
    else:
        assert set(payload) <= {*API_TICKET_FILTERS, "page", "detail", "non_field_errors"}


@FUZZ
@given(params=query(["q"]))
def test_the_api_user_list_takes_any_search(john_client, world, params) -> None:
    response = _get(john_client, "/api/v1/users/", params)
    assert response.status_code in (200, 400)


@FUZZ
@given(params=query(["outcome", "state"]))
def test_the_mail_admin_lists_take_any_filter(client, world, params) -> None:
    client.force_login(world.users["admin"])
    for name in ("mail:messages", "mail:outbox"):
        assert _get(client, reverse(name), params).status_code in (200, 400)


@FUZZ
@given(topic=values, priority=values)
def test_the_intake_takes_any_topic_and_priority(client, world, settings, topic, priority) -> None:
    from api import services as api_services

    _, key = api_services.api_key_create(name="Fuzz", allowed_addresses="127.0.0.1")
    payload = {"name": "Mon", "email": "mon@example.com", "subject": "Disk", "message": "Full"}
    payload |= {"topicId": topic, "priority": priority}
    response = client.post(
        "/api/tickets.json", json.dumps(payload), content_type="application/json", HTTP_X_API_KEY=key
    )
    assert response.status_code in (201, 400), response.content


# ---------------------------------------------------------------- redirects

EVIL = [
    "//evil.com",
    "///evil.com",
    "////evil.com/",
    "/\\evil.com",
    "\\\\evil.com",
    "\\/evil.com",
    "https:evil.com",
    "http:/evil.com",
    "https://evil.com",
    "HTTPS://EVIL.COM",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    " javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "\t//evil.com",
    " //evil.com",
    "/%09/evil.com",
    "%2F%2Fevil.com",
    "/%2F/evil.com",
    "//evil.com@testserver",
    "//testserver@evil.com",
    "http://testserver@evil.com",
    "http://testserver.evil.com/",
    "http://evil.com#@testserver",
    "/\t/evil.com",
    "/\r\n/evil.com",
    "\x00//evil.com",
    "//evil%E3%80%82com",
    "//evil。com",
]
pieces = st.sampled_from(["/", "\\", "//", "evil.com", "http:", "https:", "javascript:", "%2f", "%5c", "\t", " ", "@",
                          "testserver", ":", ".", "%09", "\r", "\n"])  # fmt: skip
evil_next = st.one_of(st.sampled_from(EVIL), st.lists(pieces, min_size=1, max_size=6).map("".join))


SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def assert_stays_here(response: Any, target: str) -> None:
    assert response.status_code in (200, 302, 303), (target, response.status_code)
    if response.status_code == 200:
        return
    location = response["Location"]
    resolved = urlsplit(urljoin("http://testserver/some/page/", location))
    assert resolved.scheme in ("http", "https"), (target, location)
    assert resolved.netloc == "testserver", (target, location)
    # What a browser would do with the raw header: it strips tabs and newlines, and reads a
    # backslash as a slash.
    browser = location.replace("\t", "").replace("\r", "").replace("\n", "").replace("\\", "/").lstrip()
    if browser.startswith("//"):  # a browser skips any number of slashes to the host
        assert browser.lstrip("/").split("/")[0] in ("", "testserver"), (target, location)
    assert not SCHEME.match(browser) or browser.lower().startswith(("http://testserver/", "https://testserver/")), (
        target,
        location,
    )


def _sign_in(client: Client, path: str, user: User, target: str) -> Any:
    return client.post(f"{path}?{urlencode({'next': target})}", {"username": user.email, "password": PASSWORD})


@pytest.mark.parametrize("target", EVIL)
def test_signing_in_never_sends_anyone_off_the_site(client, karen, john, target) -> None:
    assert_stays_here(_sign_in(client, reverse("portal:login"), karen, target), target)
    client.logout()
    assert_stays_here(_sign_in(client, reverse("staff:login"), john, target), target)
    # Already signed in: the sign-in pages send on at once.
    assert_stays_here(client.get(f"{reverse('staff:login')}?{urlencode({'next': target})}"), target)
    client.force_login(karen)
    assert_stays_here(client.get(f"{reverse('portal:login')}?{urlencode({'next': target})}"), target)


@pytest.mark.parametrize("target", EVIL)
def test_signing_out_never_sends_anyone_off_the_site(client, karen, john, target) -> None:
    client.force_login(karen)
    assert_stays_here(client.post(reverse("portal:logout"), {"next": target}), target)
    client.force_login(john)
    assert_stays_here(client.post(reverse("staff:logout"), {"next": target}), target)


@pytest.mark.parametrize("target", EVIL)
def test_staff_actions_go_back_only_to_pages_of_the_site(client, john, target) -> None:
    client.force_login(john)
    form = {"name": "Mine", "base": "all", "params": "", "next": target}
    assert_stays_here(client.post(f"{reverse('staff:saved_queue_save')}", {**form, "name": ""}), target)
    assert_stays_here(client.post(reverse("staff:bulk"), {"next": target}), target)
    assert_stays_here(client.post(f"{reverse('staff:bulk')}?{urlencode({'next': target})}"), target)


@FUZZ
@given(target=evil_next)
def test_no_next_built_from_pieces_leaves_the_site(client, karen, john, target) -> None:
    cache.clear()  # the sign-in throttle counts every example
    client.logout()
    assert_stays_here(_sign_in(client, reverse("portal:login"), karen, target), target)
    client.logout()
    client.force_login(john)
    assert_stays_here(client.post(reverse("staff:bulk"), {"next": target}), target)


def test_the_django_admin_sign_in_stays_on_the_site(client, admin) -> None:
    for target in EVIL:
        client.logout()
        response = client.post(
            f"/django-admin/login/?{urlencode({'next': target})}", {"username": admin.email, "password": PASSWORD}
        )
        assert_stays_here(response, target)


# ---------------------------------------------------------------- what the fuzzing found


@pytest.mark.parametrize("digits", ["²", "#²", "¹²³"])
def test_digits_that_are_not_decimal_are_searched_as_text(client, world, digits) -> None:
    """'²' passes str.isdigit() but int() refuses it: these answered 500."""
    client.force_login(world.users["karen"])
    assert client.get(reverse("portal:tickets"), {"q": digits}).status_code == 200
    assert client.get("/api/v1/tickets/", {"q": digits}).status_code == 200
    assert client.get(reverse("portal:open"), {"topic": digits}).status_code == 200
    client.force_login(world.users["john"])
    assert client.get(reverse("staff:queue", args=["all"]), {"q": digits}).status_code == 200
    version = world.t1.version
    response = client.post(reverse("staff:claim", args=[world.t1.number]), {"version": digits})
    assert response.status_code == 302
    world.t1.refresh_from_db()
    assert (world.t1.assignee_id, world.t1.version) == (None, version)


def test_an_intake_id_in_digits_int_refuses_is_a_validation_error(client, world) -> None:
    from api import services as api_services

    _, key = api_services.api_key_create(name="Monitoring", allowed_addresses="127.0.0.1")
    payload = {"name": "Mon", "email": "mon@example.com", "subject": "Disk", "message": "Full", "topicId": "²"}
    response = client.post(
        "/api/tickets.json", json.dumps(payload), content_type="application/json", HTTP_X_API_KEY=key
    )
    assert response.status_code in (201, 400)


def test_a_nul_in_the_portal_search_is_dropped(client, world) -> None:
    """PostgreSQL refuses a NUL in a query: the portal's search answered 500 there."""
    client.force_login(world.users["karen"])
    response = client.get(reverse("portal:tickets"), {"q": "MARK\x00", "status": "all"})
    assert response.status_code == 200
    assert world.t1.subject.encode() in response.content


@pytest.mark.parametrize("zone", ["", "Pacific/Kiritimati", "Pacific/Pago_Pago"])
@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31"])
def test_date_filters_at_the_ends_of_the_calendar_are_refused_with_a_message(client, world, zone, day) -> None:
    """Midnight of 9999-12-31's next day, or of 0001-01-01 east of UTC, is no datetime: the
    queues, their export and the SLA report answered 500."""
    john, admin = world.users["john"], world.users["admin"]
    User.objects.filter(pk__in=[john.pk, admin.pk]).update(time_zone=zone)
    client.force_login(john)
    for name in ("created_from", "created_to", "updated_from", "updated_to"):
        page = client.get(reverse("staff:queue", args=["all"]), {name: day})
        assert page.status_code == 400
        assert "Enter a date between" in page.context["form"].errors[name][0]
        export = client.get(reverse("staff:queue_export", args=["all"]), {name: day})
        assert export.status_code == 200  # the export leaves out a filter that is not valid
    client.force_login(admin)
    report = client.get(reverse("adminpanel:reports"), {"start": day, "end": day, "group_by": "plan"})
    assert report.status_code == 400
    assert "Enter a date between" in str(report.context["form"].errors)


@pytest.mark.parametrize("field", ["message", "notes"])
def test_a_nul_in_an_intake_text_is_dropped_and_the_rest_kept(client, world, field) -> None:
    """PostgreSQL cannot store a NUL: the intake answered 500, which mail servers retry forever."""
    from api import services as api_services
    from tickets.models import Ticket

    _, key = api_services.api_key_create(name="Monitoring", allowed_addresses="127.0.0.1")
    payload = {"name": "Mon", "email": "mon@example.com", "subject": "Disk", "message": "Full", field: "disk\x00full"}
    response = client.post(
        "/api/tickets.json", json.dumps(payload), content_type="application/json", HTTP_X_API_KEY=key
    )
    assert response.status_code == 201, response.content
    ticket = Ticket.objects.get(number=int(response.content))
    assert ticket.entries.filter(body="diskfull").exists()
    assert all("\x00" not in entry.body for entry in ticket.entries.all())
    base64_nul = "data:text/plain;base64,ZGlzawBmdWxs"  # "disk\0full"
    xml = (
        '<?xml version="1.0"?><ticket><name>Mon</name><email>mon@example.com</email><subject>Disk</subject>'
        '<message type="text/plain" encoding="base64">ZGlzawBmdWxs</message></ticket>'
    )
    for body, kind in ((json.dumps({**payload, "message": base64_nul}), "application/json"), (xml, "application/xml")):
        response = client.post(f"/api/tickets.{kind.split('/')[1]}", body, content_type=kind, HTTP_X_API_KEY=key)
        assert response.status_code == 201, response.content
