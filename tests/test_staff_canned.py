"""Canned responses kept by agents: personal ones, and their departments'."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.factories import ticket_open
from tickets.canned import canned_response_create, canned_responses_for_agent
from tickets.exceptions import InvalidInput
from tickets.models import CannedResponse

pytestmark = pytest.mark.django_db


def test_john_keeps_a_personal_response_that_only_he_is_offered(client, john, jane) -> None:
    client.force_login(john)
    response = client.post(
        reverse("staff:canned_new"),
        {"title": "On it", "body": "Hello %{requester.first_name}, we are on it.", "is_active": "on"},
    )
    assert response.status_code == 302
    canned = CannedResponse.objects.get()
    assert canned.owner == john and canned.department is None
    assert canned in canned_responses_for_agent(user=john)
    assert canned not in canned_responses_for_agent(user=jane)
    client.force_login(jane)
    assert client.get(reverse("staff:canned_edit", kwargs={"pk": canned.pk})).status_code == 404


def test_a_department_response_is_offered_to_its_agents_on_its_tickets(
    client, john, jane, support, karen, online_banking
) -> None:
    client.force_login(john)
    client.post(
        reverse("staff:canned_new"),
        {"title": "Reboot", "body": "Please restart the machine.", "department": support.pk, "is_active": "on"},
    )
    canned = CannedResponse.objects.get()
    assert canned.owner is None and canned.department == support
    ticket = ticket_open(karen, "Printer jammed")
    page = client.get(reverse("staff:ticket", args=[ticket.number]))
    assert str(canned.pk) in page.context["canned_bodies"]
    assert canned not in canned_responses_for_agent(user=jane)
    banking = ticket_open(karen, "Cards", department=online_banking)
    assert canned not in canned_responses_for_agent(user=john, department_id=banking.department_id)


def test_an_agent_cannot_keep_responses_for_a_department_they_do_not_edit_in(
    client, viewer, support, online_banking, john
) -> None:
    client.force_login(viewer)
    response = client.post(
        reverse("staff:canned_new"), {"title": "Reboot", "body": "Restart.", "department": support.pk}
    )
    assert response.status_code == 400
    assert response.context["form"].errors["department"] == ["You may not keep canned responses for Support."]
    client.force_login(john)
    response = client.post(
        reverse("staff:canned_new"), {"title": "Cards", "body": "x", "department": online_banking.pk}
    )
    assert response.status_code == 400 and "department" in response.context["form"].errors
    with pytest.raises(InvalidInput):
        canned_response_create(actor=john, title="Everyone", body="x", personal=False)
    assert not CannedResponse.objects.exists()


def test_a_response_needs_a_title_and_a_body(client, john) -> None:
    client.force_login(john)
    response = client.post(reverse("staff:canned_new"), {"title": "ab", "body": "  "})
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert "body" in errors
    response = client.post(reverse("staff:canned_new"), {"title": "ab", "body": "Text"})
    assert response.context["form"].errors["title"] == ["Give the response a title of at least 3 characters."]
    assert not CannedResponse.objects.exists()


def test_agents_edit_and_delete_what_they_keep_and_only_use_the_rest(client, john, viewer, support, admin) -> None:
    shared = canned_response_create(actor=admin, title="Everyone's", body="Hello.", personal=False)
    team = canned_response_create(actor=john, title="Support's", body="Hi.", department=support, personal=False)
    client.force_login(viewer)
    listing = client.get(reverse("staff:canned_list"))
    assert [(c.title, editable) for c, editable in listing.context["rows"]] == [
        ("Everyone's", False),
        ("Support's", False),
    ]
    assert client.post(reverse("staff:canned_edit", kwargs={"pk": team.pk}), {"title": "x"}).status_code == 403
    assert client.post(reverse("staff:canned_delete", kwargs={"pk": team.pk})).status_code == 403
    client.force_login(john)
    response = client.post(
        reverse("staff:canned_edit", kwargs={"pk": team.pk}),
        {"title": "Support's reboot", "body": "Restart, please.", "department": support.pk},
    )
    assert response.status_code == 302
    team.refresh_from_db()
    assert (team.title, team.is_active) == ("Support's reboot", False)
    assert client.post(reverse("staff:canned_delete", kwargs={"pk": team.pk})).status_code == 302
    assert not CannedResponse.objects.filter(pk=team.pk).exists()
    assert client.post(reverse("staff:canned_delete", kwargs={"pk": shared.pk})).status_code == 403


def test_inactive_responses_are_not_offered_in_the_reply_box(client, john, karen) -> None:
    canned_response_create(actor=john, title="Old", body="Old text.")
    CannedResponse.objects.update(is_active=False)
    client.force_login(john)
    ticket = ticket_open(karen, "Printer jammed")
    assert client.get(reverse("staff:ticket", args=[ticket.number])).context["canned_bodies"] == {}
