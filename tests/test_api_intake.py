"""The osTicket-compatible intake, case by case: POST /api/tickets.json, .xml, .email (and
under /api/http.php/), with osTicket 1.18's keys, bodies and status codes."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

import pytest
from django.core.cache import cache
from django.db import OperationalError
from django.test import Client

# The mail admin's views import inbound.services when the URLconf loads: load them now, before
# tests below put a stand-in (or nothing) in that module's place.
import inbound.views  # noqa: F401
from accounts.models import User
from api.models import ApiKey
from api.services import api_key_create
from notifications.models import Notification, NotificationKind
from tickets.models import EntryKind, HelpTopic, Priority, Ticket, TicketSource

pytestmark = pytest.mark.django_db

KEY = "0123456789ABCDEF0123456789ABCDEF"
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
    b"\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99=\x1d\x00\x00\x00\x00IEND\xaeB`\x82"
)
ALERT = {
    "name": "Nagios",
    "email": "nagios@example.com",
    "subject": "CRITICAL: db1 is down",
    "message": "PING CRITICAL - Packet loss = 100%",
}


@pytest.fixture(autouse=True)
def _empty_counters() -> None:
    cache.clear()


@pytest.fixture
def api_key(seed: None) -> ApiKey:
    return api_key_create(name="Monitoring", allowed_addresses="127.0.0.1, 10.1.0.0/16", key=KEY)[0]


def post(path: str, body: str | bytes, key: str | None = KEY, address: str = "127.0.0.1", **extra: Any) -> Any:
    headers = {"HTTP_X_API_KEY": key} if key is not None else {}
    content_type = extra.pop("content_type", "application/x-www-form-urlencoded")  # curl's default
    return Client(REMOTE_ADDR=address).post(path, body, content_type=content_type, **headers, **extra)


def created(response: Any) -> Ticket:
    assert response.status_code == 201, response.content
    body = response.content.decode()
    assert body.isdigit() and not body.startswith("0")
    return Ticket.objects.get(number=int(body))


# ---------------------------------------------------------------- JSON


def test_a_monitoring_alert_opens_a_ticket_and_gets_its_number_alone(api_key: ApiKey) -> None:
    response = post("/api/tickets.json", json.dumps(ALERT))
    ticket = created(response)
    assert response["Content-Type"].startswith("text/plain")
    assert ticket.subject == "CRITICAL: db1 is down"
    assert ticket.requester.email == "nagios@example.com"
    assert ticket.requester.name == "Nagios"
    assert ticket.source == TicketSource.API
    assert ticket.ip_address == "127.0.0.1"
    assert ticket.entries.get().body == "PING CRITICAL - Packet loss = 100%"


@pytest.mark.parametrize("path", ["/api/tickets.json", "/api/http.php/tickets.json"])
def test_both_osticket_paths_work(api_key: ApiKey, path: str) -> None:
    created(post(path, json.dumps(ALERT)))


@pytest.mark.parametrize("content_type", ["application/json", "application/x-www-form-urlencoded", "text/plain", ""])
def test_the_body_is_read_as_json_whatever_the_content_type_says(api_key: ApiKey, content_type: str) -> None:
    created(post("/api/tickets.json", json.dumps(ALERT), content_type=content_type))


def test_optional_fields_are_applied(
    api_key: ApiKey, priorities: dict[str, Priority], report_a_problem: HelpTopic
) -> None:
    ticket = created(
        post(
            "/api/tickets.json",
            json.dumps(
                {
                    **ALERT,
                    "email": "new.caller@example.com",
                    "phone": "3185558634x123",
                    "priority": priorities["Emergency"].pk,
                    "topicId": report_a_problem.pk,
                    "source": "Phone",
                    "ip": "192.0.2.10",
                    "notes": "Calls from the night shift",
                }
            ),
        )
    )
    assert ticket.priority.name == "Emergency"
    assert ticket.help_topic == report_a_problem
    assert ticket.source == TicketSource.PHONE
    assert ticket.ip_address == "192.0.2.10"
    assert ticket.requester.phone == "3185558634X123"
    note = ticket.entries.get(kind=EntryKind.NOTE)
    assert note.body == "Calls from the night shift"


def test_priority_id_is_also_read_as_priorityId(api_key: ApiKey, priorities: dict[str, Priority]) -> None:
    ticket = created(post("/api/tickets.json", json.dumps({**ALERT, "priorityId": str(priorities["High"].pk)})))
    assert ticket.priority.name == "High"


def test_an_unknown_or_inactive_topic_is_no_topic_as_in_osticket(api_key: ApiKey, report_a_problem: HelpTopic) -> None:
    HelpTopic.objects.filter(pk=report_a_problem.pk).update(is_active=False)
    for value in (report_a_problem.pk, 99999, "abc", "1 OR 1=1", [1]):
        ticket = created(post("/api/tickets.json", json.dumps({**ALERT, "topicId": value})))
        assert ticket.help_topic is None


def test_unknown_fields_are_ignored_and_never_applied(api_key: ApiKey, online_banking: Any, john: User) -> None:
    ticket = created(
        post(
            "/api/tickets.json",
            json.dumps(
                {**ALERT, "deptId": online_banking.pk, "staffId": john.pk, "statusId": 3, "duedate": "2030-01-01"}
            ),
        )
    )
    assert ticket.department.name == "Support"
    assert ticket.assignee is None
    assert ticket.state == "open"


def test_missing_fields_get_400_with_one_line_each(api_key: ApiKey) -> None:
    response = post("/api/tickets.json", json.dumps({"email": "not-an-address", "subject": "x"}))
    assert response.status_code == 400
    assert response.content.decode() == (
        "Unable to create new ticket: validation errors:\n"
        "name: Name is required\n"
        "email: Valid email address is required\n"
        "message: Message is required"
    )
    assert not Ticket.objects.exists()


def test_values_of_the_wrong_type_are_400_not_500(api_key: ApiKey) -> None:
    response = post("/api/tickets.json", json.dumps({**ALERT, "name": {"first": "x"}, "subject": ["a"]}))
    assert response.status_code == 400
    lines = response.content.decode().splitlines()
    assert lines[1:] == ["name: Name must be a string", "subject: Subject must be a string"]


def test_an_unknown_priority_is_a_validation_error(api_key: ApiKey) -> None:
    response = post("/api/tickets.json", json.dumps({**ALERT, "priority": 999}))
    assert response.status_code == 400
    assert "priority: Unknown priority id '999'" in response.content.decode()


def test_an_unknown_source_and_a_bad_ip_are_validation_errors(api_key: ApiKey) -> None:
    response = post("/api/tickets.json", json.dumps({**ALERT, "source": "Fax", "ip": "999.1.1.1"}))
    assert response.status_code == 400
    body = response.content.decode()
    assert "source: Unknown source 'Fax'" in body
    assert "ip: Enter a valid IP address" in body


def test_malformed_json_is_400_with_the_parsers_message(api_key: ApiKey) -> None:
    response = post("/api/tickets.json", '{"name": "x",')
    assert response.status_code == 400
    assert response.content.decode().startswith("Unable to parse JSON request: Expecting property name")


@pytest.mark.parametrize("body", ['["a list"]', '"a string"', "", "\xff\xfe"])
def test_json_that_is_not_an_object_is_400(api_key: ApiKey, body: str) -> None:
    response = post("/api/tickets.json", body.encode("latin-1"))
    assert response.status_code == 400
    assert response.content.decode().startswith("Unable to parse JSON request:")


def test_an_html_data_url_message_is_sanitised(api_key: ApiKey) -> None:
    message = "data:text/html,<p>Disk <b>full</b></p><script>alert(1)</script><img src=x onerror=alert(1)>"
    ticket = created(post("/api/tickets.json", json.dumps({**ALERT, "message": message})))
    entry = ticket.entries.get()
    assert "<b>full</b>" in entry.body_html
    assert "script" not in entry.body_html and "onerror" not in entry.body_html
    assert "Disk full" in entry.body


def test_a_base64_data_url_with_a_charset_is_decoded(api_key: ApiKey) -> None:
    encoded = base64.b64encode("Température élevée".encode("iso-8859-1")).decode()
    message = f"data:text/plain;charset=iso-8859-1;base64,{encoded}"
    ticket = created(post("/api/tickets.json", json.dumps({**ALERT, "message": message})))
    assert ticket.entries.get().body == "Température élevée"


def test_a_base64_html_message_is_decoded_and_sanitised(api_key: ApiKey) -> None:
    encoded = base64.b64encode(b"<h1>Outage</h1><iframe src='https://evil.example'></iframe>").decode()
    ticket = created(post("/api/tickets.json", json.dumps({**ALERT, "message": f"data:text/html;base64,{encoded}"})))
    entry = ticket.entries.get()
    assert "<h1>Outage</h1>" in entry.body_html and "iframe" not in entry.body_html


def test_a_data_url_message_with_bad_base64_is_a_validation_error(api_key: ApiKey) -> None:
    response = post("/api/tickets.json", json.dumps({**ALERT, "message": "data:text/plain;base64,@@@"}))
    assert response.status_code == 400
    assert "message: Message cannot be read: poorly encoded base64 data" in response.content.decode()


def test_attachments_in_both_data_url_forms_are_stored(api_key: ApiKey) -> None:
    attachments = [
        {"file.txt": "data:text/plain;charset=utf-8,content of the log"},
        {"image.png": "data:image/png;base64," + base64.b64encode(PNG).decode()},
    ]
    ticket = created(post("/api/tickets.json", json.dumps({**ALERT, "attachments": attachments})))
    files = {a.filename: a for a in ticket.entries.get().attachments.all()}
    assert set(files) == {"file.txt", "image.png"}
    assert files["file.txt"].file.read() == b"content of the log"
    assert files["image.png"].content_type == "image/png"
    assert not ticket.entries.filter(kind=EntryKind.NOTE).exists()


def test_the_name_type_data_object_form_works_in_json_too(api_key: ApiKey) -> None:
    attachments = [
        {"name": "trace.log", "type": "text/plain", "data": base64.b64encode(b"trace\n").decode(), "encoding": "base64"}
    ]
    ticket = created(post("/api/tickets.json", json.dumps({**ALERT, "attachments": attachments})))
    assert [a.filename for a in ticket.entries.get().attachments.all()] == ["trace.log"]


def test_a_bad_attachment_becomes_an_internal_note_not_a_failure(api_key: ApiKey, karen: User) -> None:
    attachments = [
        {"good.txt": "data:text/plain,fine"},
        {"bad.png": "data:image/png;base64,!!!not base64!!!"},
        {"virus.exe": "data:application/octet-stream;base64," + base64.b64encode(b"MZ\x90\x00" + bytes(300)).decode()},
        "not an object",
    ]
    ticket = created(post("/api/tickets.json", json.dumps({**ALERT, "attachments": attachments})))
    assert [a.filename for a in ticket.entries.get(kind=EntryKind.MESSAGE).attachments.all()] == ["good.txt"]
    note = ticket.entries.get(kind=EntryKind.NOTE)
    assert note.title == "File Import Error"
    assert "bad.png: poorly encoded base64 data" in note.body
    assert "virus.exe: this kind of file is not accepted." in note.body
    assert "attachment 4" in note.body


def test_alert_and_autorespond_default_to_true(api_key: ApiKey, john: User) -> None:
    ticket = created(post("/api/tickets.json", json.dumps({**ALERT, "email": "fresh@example.org"})))
    kinds = set(Notification.objects.filter(ticket=ticket).values_list("kind", flat=True))
    assert {NotificationKind.AUTO_RESPONSE, NotificationKind.NEW_TICKET_ALERT} <= kinds


@pytest.mark.parametrize("value", [False, 0, "false", "0", "no", "off", "FALSE"])
def test_false_strings_turn_alert_and_autorespond_off(api_key: ApiKey, john: User, value: Any) -> None:
    # osTicket casts JSON values with PHP's (bool), so "false" is true there; here it is false.
    ticket = created(post("/api/tickets.json", json.dumps({**ALERT, "alert": value, "autorespond": value})))
    assert not Notification.objects.filter(ticket=ticket).exists()


# ---------------------------------------------------------------- XML

XML = """<?xml version="1.0" encoding="UTF-8"?>
<ticket alert="false" autorespond="false" source="API">
  <name>Angry User</name>
  <email>api@example.com</email>
  <subject>Testing API</subject>
  <phone ext="123">318-555-8634</phone>
  <message type="text/plain"><![CDATA[Message content here]]></message>
  <attachments>
    <file name="file.txt" type="text/plain"><![CDATA[File content is here and is automatically trimmed]]></file>
    <file name="image.png" type="image/png" encoding="base64">{png}</file>
    <file name="broken.png" type="image/png" encoding="base64">!!!</file>
  </attachments>
  <ip>123.211.233.122</ip>
</ticket>
"""


def test_an_xml_ticket_with_attributes_elements_and_files(api_key: ApiKey) -> None:
    body = XML.format(png=base64.b64encode(PNG).decode())
    response = post("/api/tickets.xml", body.encode(), content_type="application/xml")
    ticket = created(response)
    assert ticket.subject == "Testing API"
    assert ticket.requester.phone == "318-555-8634X123"
    assert ticket.ip_address == "123.211.233.122"
    assert ticket.entries.get(kind=EntryKind.MESSAGE).body == "Message content here"
    files = sorted(a.filename for a in ticket.entries.get(kind=EntryKind.MESSAGE).attachments.all())
    assert files == ["file.txt", "image.png"]
    assert "broken.png: Poorly encoded base64 data" in ticket.entries.get(kind=EntryKind.NOTE).body
    assert not Notification.objects.filter(ticket=ticket, kind=NotificationKind.AUTO_RESPONSE).exists()


def test_an_xml_html_message_in_base64(api_key: ApiKey) -> None:
    html = base64.b64encode(b"<p>Hello <em>there</em></p>").decode()
    body = (
        "<ticket><name>A</name><email>a@example.com</email><subject>S</subject>"
        f'<message type="text/html" encoding="base64">{html}</message></ticket>'
    )
    ticket = created(post("/api/http.php/tickets.xml", body))
    assert ticket.entries.get().body_html == "<p>Hello <em>there</em></p>"


def test_malformed_xml_is_400_with_the_parsers_message(api_key: ApiKey) -> None:
    response = post("/api/tickets.xml", "<ticket><name>x</ticket>")
    assert response.status_code == 400
    assert response.content.decode().startswith("XML error: mismatched tag: line 1")


def test_xml_entities_are_refused(api_key: ApiKey) -> None:
    bomb = '<?xml version="1.0"?><!DOCTYPE t [<!ENTITY a "aaaa">]><ticket><name>&a;</name></ticket>'
    response = post("/api/tickets.xml", bomb)
    assert response.status_code == 400
    assert response.content.decode().startswith("XML error:")
    assert not Ticket.objects.exists()


def test_xml_validation_errors_use_the_same_form(api_key: ApiKey) -> None:
    response = post("/api/tickets.xml", "<ticket><name>x</name></ticket>")
    assert response.status_code == 400
    assert response.content.decode().splitlines() == [
        "Unable to create new ticket: validation errors:",
        "email: Email is required",
        "subject: Subject is required",
        "message: Message is required",
    ]


def test_an_xml_root_other_than_ticket_is_400(api_key: ApiKey) -> None:
    response = post("/api/tickets.xml", "<task><name>x</name></task>")
    assert response.status_code == 400
    assert "root element must be <ticket>" in response.content.decode()


# ---------------------------------------------------------------- keys and addresses


def test_no_key_is_401_valid_api_key_required(api_key: ApiKey) -> None:
    response = post("/api/tickets.json", json.dumps(ALERT), key=None)
    assert (response.status_code, response.content) == (401, b"Valid API key required")


def test_an_unknown_key_is_401_valid_api_key_required(api_key: ApiKey) -> None:
    response = post("/api/tickets.json", json.dumps(ALERT), key="FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF")
    assert (response.status_code, response.content) == (401, b"Valid API key required")


def test_a_key_from_an_address_it_is_not_bound_to_is_401_like_an_unknown_key(api_key: ApiKey) -> None:
    response = post("/api/tickets.json", json.dumps(ALERT), address="192.0.2.1")
    assert (response.status_code, response.content) == (401, b"Valid API key required")


def test_a_key_works_from_any_address_of_its_cidr_ranges(api_key: ApiKey) -> None:
    created(post("/api/tickets.json", json.dumps(ALERT), address="10.1.200.7"))


def test_an_inactive_key_is_401_not_found_active(api_key: ApiKey) -> None:
    ApiKey.objects.filter(pk=api_key.pk).update(is_active=False)
    response = post("/api/tickets.json", json.dumps(ALERT))
    assert (response.status_code, response.content) == (401, b"API key not found/active or source IP not authorized")


def test_a_key_that_may_not_create_tickets_is_401_not_authorized(api_key: ApiKey) -> None:
    ApiKey.objects.filter(pk=api_key.pk).update(can_create_tickets=False)
    response = post("/api/tickets.json", json.dumps(ALERT))
    assert (response.status_code, response.content) == (401, b"API key not authorized")


def test_forwarded_for_counts_only_from_a_trusted_proxy(api_key: ApiKey, settings: Any) -> None:
    settings.TRUSTED_PROXIES = ["192.0.2.0/24"]
    # Through the trusted proxy: the client's address (right-most untrusted hop) is used.
    created(post("/api/tickets.json", json.dumps(ALERT), address="192.0.2.5", HTTP_X_FORWARDED_FOR="6.6.6.6, 10.1.0.9"))
    # From anyone else the header is ignored: the peer itself is not allowed.
    refused = post("/api/tickets.json", json.dumps(ALERT), address="198.51.100.1", HTTP_X_FORWARDED_FOR="127.0.0.1")
    assert refused.status_code == 401
    # A client cannot prepend an allowed address to pass through the proxy.
    spoofed = post(
        "/api/tickets.json", json.dumps(ALERT), address="192.0.2.5", HTTP_X_FORWARDED_FOR="127.0.0.1, 198.51.100.1"
    )
    assert spoofed.status_code == 401


def test_the_key_records_when_it_was_last_used(api_key: ApiKey) -> None:
    created(post("/api/tickets.json", json.dumps(ALERT)))
    api_key.refresh_from_db()
    assert api_key.last_used_at is not None


def test_a_key_over_its_limit_gets_429_with_retry_after(api_key: ApiKey, settings: Any) -> None:
    settings.API_INTAKE_THROTTLE = "2/minute"
    created(post("/api/tickets.json", json.dumps(ALERT)))
    created(post("/api/tickets.json", json.dumps(ALERT)))
    response = post("/api/tickets.json", json.dumps(ALERT))
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 60
    assert Ticket.objects.count() == 2


# ---------------------------------------------------------------- routes and failures


def test_other_methods_and_urls_are_400_url_not_supported(api_key: ApiKey) -> None:
    client = Client()
    for response in (
        client.get("/api/tickets.json"),
        client.post("/api/http.php/tickets/search.json", "{}", content_type="application/json"),
        client.post("/api/tasks/cron", "", content_type="text/plain"),
    ):
        assert (response.status_code, response.content) == (400, b"URL not supported")


def test_an_unknown_format_is_415(api_key: ApiKey) -> None:
    response = post("/api/tickets.yaml", "name: x")
    assert (response.status_code, response.content) == (415, b"Unsupported data format")


def test_a_database_that_is_down_is_503_never_400_or_401(api_key: ApiKey, monkeypatch: pytest.MonkeyPatch) -> None:
    def down(*args: Any, **kwargs: Any) -> None:
        raise OperationalError("could not connect to server: Connection refused")

    monkeypatch.setattr("api.views_intake.ApiKey.objects.filter", down)
    response = post("/api/tickets.json", json.dumps(ALERT))
    assert response.status_code == 503
    assert response["Retry-After"] == "60"


def test_a_broker_that_is_down_after_commit_still_answers_the_number(
    api_key: ApiKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broker_down(*args: Any, **kwargs: Any) -> None:
        raise OSError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr("notifications.tasks.deliver_event.delay", broker_down)
    response = post("/api/tickets.json", json.dumps({**ALERT, "email": "fresh@example.org"}))
    ticket = created(response)
    assert Notification.objects.filter(ticket=ticket, state="pending").exists()  # the resender sends them


def test_a_too_large_body_is_413(api_key: ApiKey, settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = post("/api/tickets.json", json.dumps({**ALERT, "message": "x" * 5000}))
    assert response.status_code == 413


# ---------------------------------------------------------------- tickets.email


@dataclass
class FakeResult:
    outcome: str
    ticket: Ticket | None = None
    entry: object = None
    reason: str = ""


RAW_EMAIL = b"From: Karen Doe <karen@example.com>\r\nTo: help@example.com\r\nSubject: Printer\r\n\r\nIt is jammed.\r\n"


@pytest.fixture
def ingest(monkeypatch: pytest.MonkeyPatch, karen: User) -> list[dict[str, Any]]:
    """A stand-in for inbound.services.email_ingest (the mail engineer's), recording its calls."""
    import sys
    import types

    calls: list[dict[str, Any]] = []
    module = types.ModuleType("inbound.services")
    state: dict[str, Any] = {"result": None}

    def email_ingest(*, raw: bytes, mailbox: object) -> FakeResult:
        calls.append({"raw": raw, "mailbox": mailbox})
        return state["result"]

    module.email_ingest = email_ingest  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "inbound.services", module)
    calls.append(state)  # calls[0] sets the answer
    return calls


def _email(raw: bytes = RAW_EMAIL, content_type: str = "text/plain") -> Any:
    return post("/api/tickets.email", raw, content_type=content_type)


@pytest.mark.parametrize("outcome", ["created", "appended", "duplicate"])
def test_a_piped_email_that_lands_in_a_ticket_answers_its_number(
    api_key: ApiKey, ingest: list, karen: User, outcome: str
) -> None:
    from tests.factories import ticket_open

    ticket = ticket_open(karen)
    ingest[0]["result"] = FakeResult(outcome, ticket)
    response = _email()
    assert (response.status_code, response.content.decode()) == (201, str(ticket.number))
    assert ingest[1] == {"raw": RAW_EMAIL, "mailbox": None}


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "message/rfc822", "text/plain"])
def test_the_raw_message_is_passed_whatever_the_content_type(
    api_key: ApiKey, ingest: list, karen: User, content_type: str
) -> None:
    from tests.factories import ticket_open

    ingest[0]["result"] = FakeResult("created", ticket_open(karen))
    assert _email(content_type=content_type).status_code == 201
    assert ingest[1]["raw"] == RAW_EMAIL


@pytest.mark.parametrize("outcome", ["ignored", "quarantined"])
def test_an_email_dealt_with_but_not_filed_is_201_so_the_mail_server_neither_retries_nor_bounces(
    api_key: ApiKey, ingest: list, outcome: str
) -> None:
    ingest[0]["result"] = FakeResult(outcome, None, reason="auto-reply")
    response = _email()
    assert (response.status_code, response.content) == (201, b"")


def test_a_rejected_email_is_403_which_mail_servers_bounce(api_key: ApiKey, ingest: list) -> None:
    ingest[0]["result"] = FakeResult("rejected", None, reason="sender is banned")
    response = _email()
    assert (response.status_code, response.content.decode()) == (403, "Unable to create new ticket: sender is banned")


def test_an_empty_email_is_400(api_key: ApiKey, ingest: list) -> None:
    response = _email(b"  ")
    assert (response.status_code, response.content) == (400, b"Unable to read email request")


def test_the_email_intake_needs_a_key_like_the_others(ingest: list, api_key: ApiKey) -> None:
    response = post("/api/tickets.email", RAW_EMAIL, key=None)
    assert (response.status_code, response.content) == (401, b"Valid API key required")


def test_the_email_intake_answers_503_when_the_database_is_down(
    api_key: ApiKey, ingest: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    def down(**kwargs: Any) -> None:
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(sys.modules["inbound.services"], "email_ingest", down)
    assert _email().status_code == 503


@pytest.mark.parametrize(
    ("error", "status"),
    [("InvalidInput", 400), ("ActionNotAllowed", 403), ("InvalidTransition", 403), ("StaleTicket", 503)],
)
def test_refusals_of_the_ingest_map_to_what_mail_servers_understand(
    api_key: ApiKey, ingest: list, monkeypatch: pytest.MonkeyPatch, error: str, status: int
) -> None:
    import sys

    from tickets import exceptions

    def refuse(**kwargs: Any) -> None:
        if error == "InvalidInput":
            raise exceptions.InvalidInput("raw", "Not a mail message")
        raise getattr(exceptions, error)("refused")

    monkeypatch.setattr(sys.modules["inbound.services"], "email_ingest", refuse)
    assert _email().status_code == status


def test_the_email_intake_answers_503_until_the_mail_pipeline_is_installed(
    api_key: ApiKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "inbound.services", None)  # importing it fails
    assert _email().status_code == 503
