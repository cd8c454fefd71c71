"""The portal's home and the new-ticket form: as a guest or signed in, with attachments,
the confirmation page, and the auto-response mail whose link opens the ticket."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts.models import User
from tests.conftest import PASSWORD
from tickets.models import Attachment, HelpTopic, Ticket, TicketState

pytestmark = pytest.mark.django_db

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
    b"\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82"
)
LINK = re.compile(r"https?://[^\s\"<>]+/t/([A-Za-z0-9_-]+)/")


def new_ticket(topic: HelpTopic, **fields: object) -> dict[str, object]:
    data: dict[str, object] = {
        "help_topic": topic.pk,
        "name": "Karen Doe",
        "email": "karen@example.com",
        "phone": "",
        "subject": "Entire mobile/online banking system is down",
        "body": "Nobody can sign in to online banking since 9:00.",
    }
    data.update(fields)
    return data


def test_the_home_page_offers_the_three_ways_in_and_the_public_topics(client, report_a_problem) -> None:
    HelpTopic.objects.create(name="Hidden topic", department=report_a_problem.department, is_public=False)
    response = client.get("/")
    assert response.status_code == 200
    page = response.content.decode()
    for url in (reverse("portal:open"), reverse("portal:status"), reverse("portal:login"), reverse("portal:register")):
        assert f'href="{url}' in page
    assert "Report a Problem" in page and "General Inquiry" in page
    assert "Hidden topic" not in page
    assert f"?topic={report_a_problem.pk}" in page


def test_a_topic_link_preselects_the_topic(client, report_a_problem) -> None:
    page = client.get(reverse("portal:open") + f"?topic={report_a_problem.pk}").content.decode()
    assert re.search(rf'<option value="{report_a_problem.pk}"\s+selected>', page)
    assert client.get(reverse("portal:open") + "?topic=x' or 1=1").status_code == 200


def test_a_guest_opens_a_ticket_and_the_help_topic_routes_it(
    client, report_a_problem, support, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("portal:open"),
            new_ticket(
                report_a_problem,
                name="Greta Guest",
                email="Greta@Example.org",
                phone="+1 555 0100",
                attachments=[SimpleUploadedFile("screen.png", PNG, "image/png")],
            ),
        )
    assert response.status_code == 302 and response["Location"] == reverse("portal:open_done")
    ticket = Ticket.objects.get()
    greta = User.objects.get(email="greta@example.org")
    assert ticket.requester == greta and not greta.has_usable_password()
    assert greta.name == "Greta Guest" and greta.phone == "+1 555 0100"
    assert ticket.department == support and ticket.help_topic == report_a_problem
    assert ticket.priority.name == "Normal" and ticket.sla_plan.name == "Default SLA"
    assert ticket.state == TicketState.OPEN and ticket.assignee is None and ticket.source == "web"
    assert ticket.ip_address == "127.0.0.1"
    assert Attachment.objects.get().filename == "screen.png"

    done = client.get(response["Location"]).content.decode()
    assert f"#{ticket.number}" in done and "greta@example.org" in done


def test_the_auto_response_carries_the_number_and_a_link_that_opens_the_ticket(
    client, report_a_problem, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("portal:open"), new_ticket(report_a_problem, email="greta@example.org", name="Greta"))
    ticket = Ticket.objects.get()
    auto = next(m for m in mail.outbox if "greta@example.org" in m.to[0])
    assert f"#{ticket.number}" in auto.subject and str(ticket.number) in auto.body
    token = LINK.search(auto.body).group(1)
    html = auto.alternatives[0][0]
    assert f"/t/{token}/" in html

    stranger = client.__class__()
    page = stranger.get(f"/t/{token}/")
    assert page.status_code == 200
    assert "Entire mobile/online banking system is down" in page.content.decode()
    assert page["Referrer-Policy"] == "same-origin" and page["X-Robots-Tag"] == "noindex, nofollow"


def test_a_signed_in_user_opens_a_ticket_without_contact_fields(
    client, karen, report_a_problem, django_capture_on_commit_callbacks
) -> None:
    client.force_login(karen)
    form = client.get(reverse("portal:open")).content.decode()
    assert 'name="email"' not in form and 'name="name"' not in form
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("portal:open"),
            {"help_topic": report_a_problem.pk, "subject": "CFO's laptop not powering on", "body": "No light at all."},
        )
    ticket = Ticket.objects.get()
    assert ticket.requester == karen
    done = client.get(response["Location"]).content.decode()
    assert reverse("portal:ticket", args=[ticket.number]) in done
    assert any(m.to == ["Karen Doe <karen@example.com>"] for m in mail.outbox)


def test_a_guest_using_a_registered_address_files_under_that_account_and_changes_nothing_of_it(
    client, karen, report_a_problem
) -> None:
    client.post(reverse("portal:open"), new_ticket(report_a_problem, name="Somebody Else", phone="999"))
    karen.refresh_from_db()
    assert Ticket.objects.get().requester == karen
    assert karen.name == "Karen Doe" and karen.phone == "" and karen.check_password(PASSWORD)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("help_topic", "", "This field is required."),
        ("help_topic", "999999", "Select a valid choice."),
        ("help_topic", "abc", "Select a valid choice."),
        ("email", "not-an-address", "Enter a valid email address."),
        ("name", "   ", "This field is required."),
        ("subject", "", "This field is required."),
        ("subject", "\n\t", "This field is required."),
        ("body", "   ", "This field is required."),
    ],
)
def test_each_bad_field_gets_its_error_beside_it_and_nothing_is_created(
    client, report_a_problem, field, value, message
) -> None:
    response = client.post(reverse("portal:open"), new_ticket(report_a_problem, **{field: value}))
    assert response.status_code == 400
    form = response.context["form"]
    assert any(message in error for error in form.errors[field]), form.errors
    assert f'id="error_1_id_{field}"' in response.content.decode()
    assert not Ticket.objects.exists()
    assert not User.objects.filter(email="karen@example.com", kind="end_user").exclude(name="Karen Doe").exists()


def test_a_hidden_topic_cannot_be_chosen_by_posting_its_id(client, report_a_problem) -> None:
    hidden = HelpTopic.objects.create(name="Staff only", department=report_a_problem.department, is_public=False)
    response = client.post(reverse("portal:open"), new_ticket(hidden))
    assert response.status_code == 400 and "help_topic" in response.context["form"].errors
    assert not Ticket.objects.exists()


def test_attachments_of_a_refused_kind_are_named_in_the_error_and_nothing_is_created(
    client, report_a_problem, settings
) -> None:
    settings.ATTACHMENT_MAX_BYTES = 1000
    files = [
        SimpleUploadedFile("fine.png", PNG, "image/png"),
        SimpleUploadedFile("setup.exe", b"MZ\x90\x00" + b"\x00" * 200, "application/octet-stream"),
        SimpleUploadedFile("huge.txt", b"a" * 1001, "text/plain"),
        SimpleUploadedFile("fake.pdf", PNG, "application/pdf"),
        SimpleUploadedFile("empty.txt", b"", "text/plain"),
    ]
    response = client.post(reverse("portal:open"), new_ticket(report_a_problem, attachments=files))
    assert response.status_code == 400
    errors = response.context["form"].errors["attachments"]
    assert "setup.exe: this kind of file is not accepted." in errors
    assert "huge.txt is too large: files may be up to 1000\xa0bytes." in errors
    assert "fake.pdf: this kind of file is not accepted." in errors
    assert not any("fine.png" in e for e in errors)
    assert not Ticket.objects.exists() and not Attachment.objects.exists()
    assert not User.objects.filter(email="karen@example.com").exclude(name="Karen Doe").exists()


def test_too_many_attachments_are_refused_with_the_count(client, report_a_problem, settings) -> None:
    settings.ATTACHMENT_MAX_FILES = 2
    files = [SimpleUploadedFile(f"shot{i}.png", PNG, "image/png") for i in range(3)]
    response = client.post(reverse("portal:open"), new_ticket(report_a_problem, attachments=files))
    assert response.context["form"].errors["attachments"] == ["Attach at most 2 files (you chose 3)."]
    assert not Ticket.objects.exists()


def test_several_attachments_are_all_kept(client, report_a_problem) -> None:
    files = [
        SimpleUploadedFile("one.png", PNG, "image/png"),
        SimpleUploadedFile("notes.txt", "Grüße aus Köln\n".encode(), "text/plain"),
    ]
    client.post(reverse("portal:open"), new_ticket(report_a_problem, attachments=files))
    assert sorted(Attachment.objects.values_list("filename", "content_type")) == [
        ("notes.txt", "text/plain"),
        ("one.png", "image/png"),
    ]


def test_a_disabled_address_is_refused_beside_the_email_field(client, report_a_problem, ken) -> None:
    User.objects.filter(pk=ken.pk).update(is_active=False)
    response = client.post(reverse("portal:open"), new_ticket(report_a_problem, email="ken@example.com"))
    assert response.status_code == 400
    assert response.context["form"].errors["email"] == [
        "Tickets from this address are not accepted. Contact the help desk."
    ]
    assert not Ticket.objects.exists()


def test_the_confirmation_page_needs_a_ticket_just_opened(client) -> None:
    response = client.get(reverse("portal:open_done"))
    assert response.status_code == 302 and response["Location"] == reverse("portal:home")


def test_new_tickets_are_throttled_per_address_with_a_clear_message(client, report_a_problem, settings) -> None:
    settings.THROTTLES = {**settings.THROTTLES, "tickets_per_address": "2/h"}
    for _ in range(2):
        assert client.post(reverse("portal:open"), new_ticket(report_a_problem)).status_code == 302
    response = client.post(reverse("portal:open"), new_ticket(report_a_problem))
    assert response.status_code == 429
    assert "Too many attempts from this address or network. Wait" in response.content.decode()
    assert Ticket.objects.count() == 2
    other = client.post(reverse("portal:open"), new_ticket(report_a_problem, email="ken@example.com"))
    assert other.status_code == 302


def test_new_tickets_are_throttled_per_client_ip(client, report_a_problem, settings) -> None:
    settings.THROTTLES = {**settings.THROTTLES, "tickets_per_ip": "2/h"}
    for n in range(2):
        client.post(reverse("portal:open"), new_ticket(report_a_problem, email=f"person{n}@example.org"))
    response = client.post(reverse("portal:open"), new_ticket(report_a_problem, email="person9@example.org"))
    assert response.status_code == 429 and Ticket.objects.count() == 2
    elsewhere = client.post(
        reverse("portal:open"), new_ticket(report_a_problem, email="person9@example.org"), REMOTE_ADDR="10.0.0.7"
    )
    assert elsewhere.status_code == 302


def test_behind_a_trusted_proxy_the_forwarded_address_is_the_client(client, report_a_problem, settings) -> None:
    settings.TRUSTED_PROXIES = ["10.0.0.1"]
    settings.THROTTLES = {**settings.THROTTLES, "tickets_per_ip": "1/h"}
    proxy = {"REMOTE_ADDR": "10.0.0.1"}
    client.post(
        reverse("portal:open"), new_ticket(report_a_problem), HTTP_X_FORWARDED_FOR="spoofed, 203.0.113.5", **proxy
    )
    assert Ticket.objects.get().ip_address == "203.0.113.5"
    second = client.post(
        reverse("portal:open"), new_ticket(report_a_problem), HTTP_X_FORWARDED_FOR="198.51.100.9", **proxy
    )
    assert second.status_code == 302


def test_the_confirmation_does_not_promise_a_mail_the_department_does_not_send(client, report_a_problem) -> None:
    type(report_a_problem.department).objects.filter(pk=report_a_problem.department_id).update(auto_response=False)
    response = client.post(reverse("portal:open"), new_ticket(report_a_problem))
    done = client.get(response["Location"]).content.decode()
    assert "We have sent a confirmation" not in done and reverse("portal:status") in done
