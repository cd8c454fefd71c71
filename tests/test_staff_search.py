"""Search: by number, requester address or name, and words in subjects and thread bodies."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.db import connection
from django.urls import reverse

from tests.factories import ticket_open
from tickets import services
from tickets.models import Ticket
from tickets.search import tickets_search

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_counts() -> None:
    # The resolved and closed counts are kept in the cache for a minute.
    cache.clear()


@pytest.fixture
def desk(karen, ken, john, online_banking) -> dict[str, Ticket]:
    outage = ticket_open(karen, "Entire mobile/online banking system is down", "Nothing loads since 9am.")
    laptop = ticket_open(karen, "CFO's laptop not powering on", "No light at all.")
    excel = ticket_open(ken, "Excel not working", "The budget workbook crashes Excel.")
    services.ticket_add_note(ticket=laptop, actor=john, body="Ordered a replacement charger from the vendor.")
    hidden = ticket_open(
        ken, "Card payments fail", "Payments through the gateway are declined.", department=online_banking
    )
    return {"outage": outage, "laptop": laptop, "excel": excel, "hidden": hidden}


def found(query: str, user, **filters: object) -> set[str]:
    from tickets.selectors import tickets_visible_to

    return {t.subject.split()[0] for t in tickets_search(tickets_visible_to(user), query)}


def test_a_number_finds_its_ticket(desk, john) -> None:
    assert found(str(desk["excel"].number), john) == {"Excel"}
    assert found(f"#{desk['excel'].number}", john) == {"Excel"}


def test_an_address_finds_the_requesters_tickets(desk, john) -> None:
    assert found("ken@example.com", john) == {"Excel"}
    assert found("KAREN@example.com", john) == {"Entire", "CFO's"}


def test_a_name_finds_the_requesters_tickets(desk, john) -> None:
    assert found("Karen Doe", john) == {"Entire", "CFO's"}


def test_words_find_subjects_and_thread_bodies_notes_included(desk, john) -> None:
    assert found("laptop", john) == {"CFO's"}
    assert found("workbook", john) == {"Excel"}
    assert found("charger", john) == {"CFO's"}
    assert found("banking", john) == {"Entire"}


def test_search_never_finds_what_the_agent_may_not_see(desk, john, jane) -> None:
    assert found("payments", john) == set()
    assert found(str(desk["hidden"].number), john) == set()
    assert found("payments", jane) == {"Card"}


def test_a_blank_query_changes_nothing_and_odd_input_is_harmless(desk, john) -> None:
    assert len(found("   ", john)) == 3
    for odd in ("'; DROP TABLE tickets_ticket; --", "&|!():*", '"unterminated', "a" * 500, "%_%"):
        found(odd, john)


def test_search_combines_with_the_filters_in_the_queue_page(client, desk, john, priorities) -> None:
    services.ticket_set_priority(ticket=desk["laptop"], actor=john, priority=priorities["High"])
    client.force_login(john)
    url = reverse("staff:queue", kwargs={"key": "all"})
    shown = {t.subject for t in client.get(url, {"q": "karen@example.com"}).context["page"]}
    assert shown == {desk["outage"].subject, desk["laptop"].subject}
    shown = {
        t.subject
        for t in client.get(url, {"q": "karen@example.com", "priority": priorities["High"].pk}).context["page"]
    }
    assert shown == {desk["laptop"].subject}


def test_the_search_box_in_the_navigation_searches_all_queues(client, desk, john) -> None:
    services.ticket_resolve(ticket=desk["excel"], actor=john)
    client.force_login(john)
    response = client.get(reverse("staff:queue", kwargs={"key": "all"}), {"q": "workbook"})
    assert [t.subject for t in response.context["page"]] == ["Excel not working"]
    assert 'value="workbook"' in response.content.decode()


@pytest.mark.postgres
def test_on_postgres_words_are_matched_by_stem_through_the_gin_indexes(desk, john) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("full-text search is PostgreSQL's")
    assert found("crashing", john) == {"Excel"}  # "crashes" and "crashing" share a stem
    assert found("powered laptops", john) == {"CFO's"}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE indexname IN ('ticket_subject_fts_idx', 'entry_body_fts_idx')"
        )
        assert {row[0] for row in cursor.fetchall()} == {"ticket_subject_fts_idx", "entry_body_fts_idx"}
        # With sequential scans priced out, the planner reaches the thread through the index:
        # the query's expression is the index's.
        from tickets.selectors import tickets_visible_to

        query = tickets_search(tickets_visible_to(john), "charger").values("pk")
        sql, params = query.query.sql_with_params()
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "entry_body_fts_idx" in plan and "ticket_subject_fts_idx" in plan
