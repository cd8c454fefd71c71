"""Finding tickets by what an agent types in the search box.

A number finds that ticket; an address finds the requester's tickets; anything else is
matched against requester names and, as words, against subjects and every thread body
(notes included: only agents search here). On PostgreSQL the words go through full-text
search backed by the GIN indexes of migration 0003; elsewhere (SQLite) through a substring
match, which is slower and cruder but needs no set-up.
"""

from __future__ import annotations

from django.db import connection
from django.db.models import Q, QuerySet

from tickets.models import ThreadEntry, Ticket

# Must be the configuration the indexes were built with (migration 0003).
SEARCH_CONFIG = "english"
MAX_QUERY_LENGTH = 200


def tickets_search(tickets: QuerySet[Ticket], query: str) -> QuerySet[Ticket]:
    """`tickets` narrowed to those matching `query`; unchanged when the query is blank."""
    query = " ".join(query.split())[:MAX_QUERY_LENGTH]
    if not query:
        return tickets
    text = query.lstrip("#")
    if text.isdigit():
        # A number may also be a word in a subject ("error 404"), so both count.
        return tickets.filter(Q(number=int(text)) | _text_match(text))
    if "@" in query and " " not in query:
        return tickets.filter(requester__email__icontains=query)
    return tickets.filter(Q(requester__name__icontains=query) | _text_match(query))


def _text_match(query: str) -> Q:
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
        # One id list from both indexes, so the planner can probe each GIN index and then
        # fetch the tickets by primary key, instead of testing every ticket row.
        return Q(pk__in=in_subjects.union(in_bodies))
    in_bodies_like = ThreadEntry.objects.filter(body__icontains=query).order_by().values("ticket_id")
    return Q(subject__icontains=query) | Q(pk__in=in_bodies_like)
