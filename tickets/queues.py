"""The staff queues: which tickets each holds, how many, in which order.

Every queue is a condition on the tickets the agent may see (tickets.selectors), never a
way around it. The counts come from one query with a conditional count per queue (not a
query per queue), so the sidebar costs the same whatever the number of queues.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone

from accounts.models import User
from sla.models import ClockState, TicketClock
from tickets.exceptions import ActionNotAllowed, InvalidInput
from tickets.models import SavedQueue, Status, Ticket, TicketState
from tickets.permissions import agent_department_ids
from tickets.sanitize import single_line
from tickets.selectors import tickets_visible_to

ACTIVE = list(Status.ACTIVE_STATES)
ENDED_STATES = [TicketState.RESOLVED, TicketState.CLOSED]
logger = logging.getLogger(__name__)


def _due_soon() -> Q:
    # Warned by its SLA clock and not yet breached: the sweep sets warned_at at the plan's
    # warning share of the target.
    warned = TicketClock.objects.filter(
        ticket_id=OuterRef("pk"),
        state__in=[ClockState.RUNNING, ClockState.PAUSED],
        warned_at__isnull=False,
        breached_at__isnull=True,
    )
    # The cheap column tests first: in the counts' FILTER clause they spare the subquery for
    # every resolved and closed ticket.
    return Q(state__in=ACTIVE, is_overdue=False) & Q(Exists(warned))


@dataclass(frozen=True)
class Queue:
    key: str
    title: str
    condition: Callable[[User], Q]
    sort: str  # a key of SORTS, "-" for descending


QUEUE_LIST = [
    Queue("open", "Open", lambda u: Q(state=TicketState.OPEN), "due"),
    Queue("unassigned", "Unassigned", lambda u: Q(state=TicketState.OPEN, assignee__isnull=True), "due"),
    Queue("mine", "My Tickets", lambda u: Q(assignee_id=u.pk, state__in=ACTIVE), "due"),
    Queue(
        "departments",
        "My Departments",
        lambda u: Q(department_id__in=agent_department_ids(u), state__in=ACTIVE),
        "due",
    ),
    Queue("overdue", "Overdue", lambda u: Q(is_overdue=True, state__in=ACTIVE), "due"),
    Queue("due_soon", "Due soon", lambda u: _due_soon(), "due"),
    Queue("answered", "Answered", lambda u: Q(state=TicketState.WAITING), "-updated"),
    Queue("resolved", "Resolved", lambda u: Q(state=TicketState.RESOLVED), "-updated"),
    Queue("closed", "Closed", lambda u: Q(state=TicketState.CLOSED), "-updated"),
    Queue("all", "All", lambda u: Q(), "-updated"),
]
QUEUES = {q.key: q for q in QUEUE_LIST}
DEFAULT_QUEUE = "open"

# The sort keys a list accepts (an allowlist: the query string never names a column).
SORTS: dict[str, tuple[str, str]] = {
    "number": ("Number", "number"),
    "subject": ("Subject", "subject"),
    "requester": ("Requester", "requester__name"),
    "priority": ("Priority", "priority__urgency"),
    "department": ("Department", "department__name"),
    "assignee": ("Assignee", "assignee__name"),
    "due": ("Due", "due_at"),
    "updated": ("Last update", "updated_at"),
    "created": ("Created", "created_at"),
}


def queue_tickets(*, user: User, key: str) -> QuerySet[Ticket]:
    """The tickets of a queue that `user` may see."""
    return tickets_visible_to(user).filter(QUEUES[key].condition(user))


# Queues of tickets still being worked are counted exactly on every page, from the few
# active rows (through the state index). Resolved and closed tickets pile up for years:
# counting them reads every row the agent may see, so that count is kept for a minute.
ENDED_QUEUES = ("resolved", "closed", "all")
ENDED_COUNTS_SECONDS = 60


def queue_counts(*, user: User) -> dict[str, int]:
    """How many tickets each queue holds for `user`: one query, and a second once a minute."""
    visible = tickets_visible_to(user)
    counts: dict[str, int] = visible.filter(state__in=ACTIVE).aggregate(
        **{q.key: Count("pk", filter=q.condition(user)) for q in QUEUE_LIST if q.key not in ENDED_QUEUES},
        active=Count("pk"),
    )
    ended = _ended_counts(user, visible)
    counts["resolved"] = ended.get(TicketState.RESOLVED, 0)
    counts["closed"] = ended.get(TicketState.CLOSED, 0)
    counts["all"] = counts.pop("active") + counts["resolved"] + counts["closed"]
    return counts


def _ended_counts(user: User, visible: QuerySet[Ticket]) -> dict[str, int]:
    scope = "all" if user.is_admin else f"{user.pk}:{','.join(map(str, agent_department_ids(user)))}"
    key = f"staff:ended-counts:{scope}"
    try:
        cached: dict[str, int] | None = cache.get(key)
    except Exception:  # the cache being down costs a slower page, never the page
        logger.warning("cache unavailable for the queue counts", exc_info=True)
        cached = None
    if cached is None:
        rows = visible.filter(state__in=ENDED_STATES).values("state").annotate(n=Count("pk")).order_by()
        cached = {row["state"]: row["n"] for row in rows}
        try:
            cache.set(key, cached, ENDED_COUNTS_SECONDS)
        except Exception:
            logger.warning("cache unavailable for the queue counts", exc_info=True)
    return cached


# Columns that may be empty: their empty values go last whichever the direction (the other
# columns sort plainly, so that PostgreSQL can walk their indexes).
NULLABLE_SORTS = {"due", "assignee"}


def tickets_sorted(tickets: QuerySet[Ticket], sort: str) -> QuerySet[Ticket]:
    """Order by an allowlisted key, then the newest first."""
    descending = sort.startswith("-")
    key = sort.lstrip("-")
    _, column = SORTS[key]
    nulls_last = True if key in NULLABLE_SORTS else None
    expression = F(column).desc(nulls_last=nulls_last) if descending else F(column).asc(nulls_last=nulls_last)
    return tickets.order_by(expression, "-pk")


def tickets_for_list(tickets: QuerySet[Ticket]) -> QuerySet[Ticket]:
    """What a ticket list shows of each row, joined in the same query."""
    return tickets.select_related("requester", "priority", "department", "assignee", "status", "help_topic")


# ---------------------------------------------------------------- saved queues


def saved_queues_for_agent(*, user: User) -> QuerySet[SavedQueue]:
    """The agent's own saved queues and those others shared."""
    return SavedQueue.objects.filter(Q(owner_id=user.pk) | Q(is_shared=True)).select_related("owner")


def saved_queue_create(*, owner: User, name: str, base: str, params: dict[str, str], is_shared: bool) -> SavedQueue:
    name = single_line(name, 64)
    if not owner.is_agent:
        raise ActionNotAllowed("Only agents save queues.")
    if not name:
        raise InvalidInput("name", "Name the queue.")
    if base not in QUEUES:
        raise InvalidInput("base", f"Unknown queue {base!r}.")
    try:
        with transaction.atomic():
            return SavedQueue.objects.create(
                owner=owner, name=name, base=base, params=params, is_shared=is_shared, created_at=timezone.now()
            )
    except IntegrityError:
        raise InvalidInput("name", f"You already have a queue named {name!r}.") from None


def saved_queue_delete(*, queue: SavedQueue, actor: User) -> None:
    """Its owner or an admin removes a saved queue."""
    if queue.owner_id != actor.pk and not actor.is_admin:
        raise ActionNotAllowed("Only its owner or an admin may delete this queue.")
    queue.delete()
