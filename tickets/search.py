"""Finding tickets by what an agent types in the search box.

A number finds that ticket; an address finds the requester's tickets; anything else is
matched against requester names and, as words, against subjects and every thread body
(notes included: only agents search here). On PostgreSQL the words go through full-text
search backed by the GIN indexes of migration 0003; elsewhere (SQLite) through a substring
match, which is slower and cruder but needs no set-up.

Every way of matching yields ticket ids, and the ids are combined with UNION into one
`id IN (...)` condition: the database turns that into a join on the primary key. An OR
between such conditions would instead test every ticket against each id list in turn,
which on a large desk takes minutes.
"""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.db.models import QuerySet

from tickets.models import ThreadEntry, Ticket

# Must be the configuration the indexes were built with (migration 0003).
SEARCH_CONFIG = "english"
MAX_QUERY_LENGTH = 200
IdQuery = QuerySet[Any, Any]  # a one-column query of ticket ids


def tickets_search(tickets: QuerySet[Ticket], query: str) -> QuerySet[Ticket]:
    """`tickets` narrowed to those matching `query`; unchanged when the query is blank."""
    query = " ".join(query.split())[:MAX_QUERY_LENGTH]
    if not query:
        return tickets
    if "@" in query and " " not in query:
        return tickets.filter(requester__email__icontains=query)
    text = query.lstrip("#")
    found = _word_matches(text)
    # isdecimal, not isdigit: int() refuses digits such as '²' that isdigit accepts.
    if text.isdecimal():
        # A number may also be a word in a subject ("error 404"), so both count.
        found.append(Ticket.objects.filter(number=int(text)).order_by().values("pk"))
    else:
        found.append(Ticket.objects.filter(requester__name__icontains=query).order_by().values("pk"))
    first, *rest = found
    return tickets.filter(pk__in=first.union(*rest))


def _word_matches(query: str) -> list[IdQuery]:
    """Ticket ids whose subject, and ticket ids one of whose thread entries, match the words."""
    in_subjects: IdQuery
    in_bodies: IdQuery
    if connection.vendor == "postgresql":
        from django.contrib.postgres.search import SearchQuery, SearchVector

        words = SearchQuery(query, config=SEARCH_CONFIG, search_type="websearch")
        in_subjects = (
            Ticket.objects.annotate(found=SearchVector("subject", config=SEARCH_CONFIG))
            .filter(found=words)
            .order_by()
            .values("pk")
        )
        in_bodies = (
            ThreadEntry.objects.annotate(found=SearchVector("body", config=SEARCH_CONFIG))
            .filter(found=words)
            .order_by()
            .values("ticket_id")
        )
    else:
        in_subjects = Ticket.objects.filter(subject__icontains=query).order_by().values("pk")
        in_bodies = ThreadEntry.objects.filter(body__icontains=query).order_by().values("ticket_id")
    return [in_subjects, in_bodies]
