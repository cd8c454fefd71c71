"""The staff queues: who sees what in each, the counts, sorting, filters, pages and saved queues."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.cache import cache
from django.urls import reverse

from sla.services import sla_sweep
from tests.factories import EndUserFactory, ticket_open
from tickets import services
from tickets.models import SavedQueue, Ticket
from tickets.permissions import agent_department_ids
from tickets.queues import QUEUE_LIST, queue_counts, queue_tickets

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_counts() -> None:
    # The resolved and closed counts are kept in the cache for a minute.
    cache.clear()


T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def desk(karen, ken, john, jane, online_banking, plans, statuses):
    """One ticket for each queue, as John sees them; and one of Jane's he must never see."""
    with time_machine.travel(T0, tick=False):
        t = {
            "unassigned": ticket_open(karen, "Printer jammed"),
            "johns": ticket_open(ken, "Excel not working"),
            "janes": ticket_open(karen, "Card payments fail", department=online_banking),
            "waiting": ticket_open(ken, "VPN drops"),
            "resolved": ticket_open(karen, "Password expired"),
            "closed": ticket_open(ken, "New mouse"),
            "overdue": ticket_open(karen, "Server room too hot"),
        }
        services.ticket_assign(ticket=t["johns"], actor=john, assignee=john)
        services.ticket_assign(ticket=t["janes"], actor=jane, assignee=jane)
        services.ticket_wait_on_customer(ticket=t["waiting"], actor=john)
        services.ticket_resolve(ticket=t["resolved"], actor=john)
        services.ticket_close(ticket=t["closed"], actor=john)
        services.ticket_set_sla_plan(ticket=t["overdue"], actor=john, sla_plan=plans["Sev-A"])
    with time_machine.travel(T0 + timedelta(minutes=10), tick=False):
        t["soon"] = ticket_open(ken, "Backup failed")
        services.ticket_set_sla_plan(ticket=t["soon"], actor=john, sla_plan=plans["Sev-A"])
    # Sev-A: 1 hour, warned at 75%. At T0+62 min the first is past due; the second, started
    # ten minutes later, is past its warning (55 min) but not its due instant (70 min).
    with time_machine.travel(T0 + timedelta(minutes=62), tick=False):
        sla_sweep()
    return {k: Ticket.objects.get(pk=v.pk) for k, v in t.items()}


def numbers(tickets) -> set[int]:
    return {t.number for t in tickets}


def test_each_queue_holds_the_tickets_it_names_for_john(desk, john) -> None:
    d = desk
    expected = {
        "open": {"unassigned", "johns", "overdue", "soon"},
        "unassigned": {"unassigned", "overdue", "soon"},
        "mine": {"johns"},
        "departments": {"unassigned", "johns", "waiting", "overdue", "soon"},
        "overdue": {"overdue"},
        "due_soon": {"soon"},
        "answered": {"waiting"},
        "resolved": {"resolved"},
        "closed": {"closed"},
        "all": {"unassigned", "johns", "waiting", "resolved", "closed", "overdue", "soon"},
    }
    for key, names in expected.items():
        assert numbers(queue_tickets(user=john, key=key)) == {d[n].number for n in names}, key


def test_jane_sees_her_department_and_not_johns(desk, jane) -> None:
    assert numbers(queue_tickets(user=jane, key="all")) == {desk["janes"].number}
    assert numbers(queue_tickets(user=jane, key="mine")) == {desk["janes"].number}


def test_the_admin_sees_every_ticket(desk, admin) -> None:
    assert numbers(queue_tickets(user=admin, key="all")) == {t.number for t in desk.values()}


def test_the_counts_match_the_queues_in_one_query_and_a_cached_one(desk, john, django_assert_num_queries) -> None:
    agent_department_ids(john)  # the agent's roles are read once per request, before
    with django_assert_num_queries(2):  # the active queues, and the ended ones once a minute
        counts = queue_counts(user=john)
    assert counts == {q.key: queue_tickets(user=john, key=q.key).count() for q in QUEUE_LIST}
    assert counts["all"] == 7 and counts["overdue"] == 1 and counts["due_soon"] == 1
    with django_assert_num_queries(1):
        assert queue_counts(user=john) == counts


def test_the_ended_counts_catch_up_within_a_minute_and_the_active_ones_at_once(desk, john) -> None:
    with time_machine.travel(T0 + timedelta(hours=2), tick=False):
        before = queue_counts(user=john)
        services.ticket_resolve(ticket=desk["johns"], actor=john)
        now = queue_counts(user=john)
        assert now["open"] == before["open"] - 1 and now["mine"] == 0
        assert now["resolved"] == before["resolved"]  # kept for a minute
    with time_machine.travel(T0 + timedelta(hours=2, seconds=61), tick=False):
        assert queue_counts(user=john)["resolved"] == before["resolved"] + 1


def test_the_queue_page_shows_the_counts_and_the_rows(client, desk, john) -> None:
    client.force_login(john)
    response = client.get(reverse("staff:queue", kwargs={"key": "unassigned"}))
    assert response.status_code == 200
    shown = {t.number for t in response.context["page"]}
    assert shown == {desk[n].number for n in ("unassigned", "overdue", "soon")}
    counts = {q["key"]: q["count"] for q in response.context["queues"]}
    assert counts["unassigned"] == 3 and counts["mine"] == 1
    assert desk["janes"].subject not in response.content.decode()


def test_an_unknown_queue_is_not_found(client, john) -> None:
    client.force_login(john)
    assert client.get("/staff/queues/nonsense/").status_code == 404


def test_the_list_sorts_by_each_allowlisted_key_both_ways(client, desk, john) -> None:
    client.force_login(john)
    url = reverse("staff:queue", kwargs={"key": "all"})
    for key in ("number", "subject", "requester", "priority", "department", "assignee", "due", "updated"):
        for sort in (key, f"-{key}"):
            response = client.get(url, {"sort": sort})
            assert response.status_code == 200, sort
            assert len(response.context["page"]) == 7
    by_subject = [t.subject for t in client.get(url, {"sort": "subject"}).context["page"]]
    assert by_subject == sorted(by_subject)
    by_number = [t.number for t in client.get(url, {"sort": "-number"}).context["page"]]
    assert by_number == sorted(by_number, reverse=True)


def test_a_sort_key_outside_the_allowlist_is_refused_beside_the_field(client, desk, john) -> None:
    client.force_login(john)
    response = client.get(reverse("staff:queue", kwargs={"key": "all"}), {"sort": "requester__password"})
    assert response.status_code == 400
    assert "sort" in response.context["form"].errors
    assert len(response.context["page"]) == 7  # the list is still shown, in its own order


def test_the_filters_narrow_the_list(client, desk, john, priorities, statuses, support) -> None:
    services.ticket_set_priority(ticket=desk["unassigned"], actor=john, priority=priorities["High"])
    client.force_login(john)
    url = reverse("staff:queue", kwargs={"key": "all"})

    def shown(**params):
        response = client.get(url, params)
        assert response.status_code == 200, response.context["form"].errors
        return {t.number for t in response.context["page"]}

    assert shown(priority=priorities["High"].pk) == {desk["unassigned"].number}
    assert shown(status=statuses["waiting"].pk) == {desk["waiting"].number}
    assert shown(assignee="me") == {desk["johns"].number}
    assert shown(assignee=str(john.pk)) == {desk["johns"].number}
    assert desk["johns"].number not in shown(assignee="none")
    assert shown(overdue="yes") == {desk["overdue"].number}
    assert shown(department=support.pk) == shown()
    assert shown(source="email") == set()
    assert shown(source="web") == shown()
    assert len(shown(created_from="2026-03-02", created_to="2026-03-02")) == 7
    assert shown(created_to="2026-03-01") == set()
    assert shown(help_topic="") == shown()


def test_the_date_filters_are_the_agents_days(client, karen, john) -> None:
    john.time_zone = "America/New_York"
    john.save()
    with time_machine.travel(datetime(2026, 3, 3, 3, 0, tzinfo=UTC), tick=False):  # 22:00 on the 2nd in New York
        late = ticket_open(karen, "Late evening")
    client.force_login(john)
    url = reverse("staff:queue", kwargs={"key": "all"})
    on_the_second = {
        t.number for t in client.get(url, {"created_from": "2026-03-02", "created_to": "2026-03-02"}).context["page"]
    }
    assert on_the_second == {late.number}


def test_a_bad_filter_value_gets_an_error_beside_its_field(client, desk, john) -> None:
    client.force_login(john)
    url = reverse("staff:queue", kwargs={"key": "all"})
    response = client.get(
        url,
        {"created_from": "yesterday", "priority": "999999", "updated_from": "2026-03-05", "updated_to": "2026-03-01"},
    )
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert "Enter a date such as 2026-01-31." in errors["created_from"]
    assert "priority" in errors
    assert "The end of the range is before its start." in errors["updated_to"]
    html = response.content.decode()
    assert "Enter a date such as 2026-01-31." in html


def test_the_list_is_paginated_and_the_page_links_keep_the_filters(client, karen, john) -> None:
    for i in range(55):
        ticket_open(karen, f"Ticket {i:02}")
    client.force_login(john)
    url = reverse("staff:queue", kwargs={"key": "open"})
    first = client.get(url, {"q": "Ticket", "sort": "subject"})
    assert len(first.context["page"]) == 50 and first.context["page"].paginator.count == 55
    assert "?q=Ticket&amp;sort=subject&amp;page=2" in first.content.decode()
    second = client.get(url, {"q": "Ticket", "sort": "subject", "page": 2})
    assert [t.subject for t in second.context["page"]] == [f"Ticket {i}" for i in range(50, 55)]
    assert len(client.get(url, {"page": "nonsense"}).context["page"]) == 50


@pytest.mark.parametrize(("key", "queries"), [("open", 7), ("mine", 7), ("all", 8)])
def test_a_list_page_costs_the_same_queries_for_1_or_30_tickets(
    client, karen, john, key, queries, django_assert_num_queries
) -> None:
    # session, user, roles, menus, active counts, ended counts (a minute's cache is empty
    # here), saved queues, the rows; an ended queue also counts its own rows.
    def load() -> None:
        cache.clear()
        client.force_login(john)
        with django_assert_num_queries(queries):
            response = client.get(reverse("staff:queue", kwargs={"key": key}))
        assert response.status_code == 200

    first = ticket_open(karen, "One")
    services.ticket_assign(ticket=first, actor=john, assignee=john)
    load()
    for i in range(29):
        ticket = ticket_open(EndUserFactory(), f"More {i}")
        services.ticket_assign(ticket=ticket, actor=john, assignee=john)
    load()


def test_john_saves_a_personal_queue_that_only_he_sees(client, desk, john, jane, priorities) -> None:
    client.force_login(john)
    response = client.post(
        reverse("staff:saved_queue_save"),
        {"name": "Overdue in Support", "base": "all", "params": "overdue=yes&sort=-number&bogus=1"},
    )
    saved = SavedQueue.objects.get()
    assert response.status_code == 302 and response.url == saved.get_absolute_url()
    assert saved.owner == john and not saved.is_shared
    assert saved.params == {"overdue": "yes", "sort": "-number"}
    page = client.get(saved.get_absolute_url())
    assert {t.number for t in page.context["page"]} == {desk["overdue"].number}
    # Re-sorted, or narrowed further, it keeps to what the page's query string says.
    resorted = client.get(saved.get_absolute_url(), {"overdue": "yes", "sort": "number"})
    assert {t.number for t in resorted.context["page"]} == {desk["overdue"].number}
    widened = client.get(saved.get_absolute_url(), {"overdue": "no"})
    assert desk["overdue"].number not in {t.number for t in widened.context["page"]}
    client.force_login(jane)
    assert client.get(saved.get_absolute_url()).status_code == 404


def test_a_shared_queue_is_listed_for_everyone_but_never_shows_more_than_they_may_see(client, desk, john, jane) -> None:
    client.force_login(john)
    client.post(
        reverse("staff:saved_queue_save"), {"name": "Everything", "base": "all", "params": "", "is_shared": "on"}
    )
    saved = SavedQueue.objects.get()
    client.force_login(jane)
    page = client.get(saved.get_absolute_url())
    assert page.status_code == 200
    assert {t.number for t in page.context["page"]} == {desk["janes"].number}
    assert saved in page.context["saved_queues"]
    # Only its owner (or an admin) deletes it.
    assert client.post(reverse("staff:saved_queue_delete", kwargs={"pk": saved.pk})).status_code == 403
    client.force_login(john)
    assert client.post(reverse("staff:saved_queue_delete", kwargs={"pk": saved.pk})).status_code == 302
    assert not SavedQueue.objects.exists()


def test_a_queue_needs_a_name_and_a_unique_one(client, john) -> None:
    client.force_login(john)
    client.post(reverse("staff:saved_queue_save"), {"name": "Mine", "base": "mine", "params": ""})
    response = client.post(
        reverse("staff:saved_queue_save"), {"name": "Mine", "base": "mine", "params": ""}, follow=True
    )
    assert "You already have a queue named" in response.content.decode()
    response = client.post(reverse("staff:saved_queue_save"), {"name": " ", "base": "mine", "params": ""}, follow=True)
    assert "This field is required." in response.content.decode() or "Name the queue." in response.content.decode()
    assert SavedQueue.objects.count() == 1
