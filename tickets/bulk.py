"""Bulk actions on a queue selection: each ticket through the same service as one by one.

A ticket the agent may not see, or may not change, fails alone; the others go through, and
the result names each failure and why.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from accounts.models import User
from tickets import services
from tickets.exceptions import TicketActionError
from tickets.models import Department, Priority, Status
from tickets.selectors import tickets_visible_to

MAX_TICKETS = 500


@dataclass
class BulkResult:
    done: list[int] = field(default_factory=list)
    failed: list[tuple[int, str]] = field(default_factory=list)


def tickets_bulk_update(
    *,
    actor: User,
    numbers: list[int],
    action: str,
    assignee: User | None = None,
    department: Department | None = None,
    priority: Priority | None = None,
    status: Status | None = None,
) -> BulkResult:
    """Apply one action to each ticket (numbers, in the order given). `action` is one of
    assign (to `assignee`, or to nobody when it is None), transfer, priority, status."""
    result = BulkResult()
    numbers = list(dict.fromkeys(numbers))[:MAX_TICKETS]
    tickets = {t.number: t for t in tickets_visible_to(actor).filter(number__in=numbers)}
    for number in numbers:
        ticket = tickets.get(number)
        if ticket is None:
            result.failed.append((number, "No such ticket."))
            continue
        try:
            if action == "assign":
                services.ticket_assign(ticket=ticket, actor=actor, assignee=assignee)
            elif action == "transfer" and department is not None:
                services.ticket_transfer(ticket=ticket, actor=actor, department=department)
            elif action == "priority" and priority is not None:
                services.ticket_set_priority(ticket=ticket, actor=actor, priority=priority)
            elif action == "status" and status is not None:
                services.ticket_change_status(ticket=ticket, actor=actor, status=status)
            else:
                raise ValueError(f"Unknown bulk action {action!r}.")
        except TicketActionError as error:
            result.failed.append((number, str(error)))
        else:
            result.done.append(number)
    return result
