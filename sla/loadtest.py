"""Open tickets in bulk for timing and load-testing the SLA sweep (sla_sweep_bench, and the
sweep's integration tests): N open tickets, of which M are made to fall due on demand.

Everything loaded is named so that `loaded_tickets_remove` finds it again: ticket numbers
from 9,100,000,000, departments, people and the plan prefixed "bench-sla".
"""

from __future__ import annotations

import random
from datetime import timedelta

from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone

from accounts.models import DepartmentMembership, Role, User
from notifications.models import Notification
from sla.models import ClockState, ClockTarget, SLAPlan, TicketClock
from tickets.models import Department, Priority, Status, Ticket, TicketEvent, TicketState

PREFIX = "bench-sla"
FIRST_NUMBER = 9_100_000_000
DEPARTMENTS = 20
AGENTS_PER_DEPARTMENT = 10
TARGET = timedelta(hours=4)


def open_tickets_load(*, opened: int, due: int, assigned_share: float = 0.8, seed: int = 5) -> list[int]:
    """Load `opened` open tickets on a 4-hour plan, in 20 departments of 10 agents; returns the
    resolution clocks of the first `due` of them, which `clocks_fall_due` makes due."""
    rng = random.Random(seed)  # nosec B311 (made-up load for a benchmark, not a secret)
    now = timezone.now()
    with transaction.atomic():
        role = Role.objects.create(name=f"{PREFIX} agent")
        plan = SLAPlan.objects.create(name=f"{PREFIX} 4 hours", first_response_minutes=60, resolution_minutes=240)
        status = Status.objects.filter(state=TicketState.OPEN).order_by("-is_default").first() or (
            Status.objects.create(name=f"{PREFIX} open", state=TicketState.OPEN)
        )
        priority = Priority.objects.order_by("-is_default", "urgency").first() or Priority.objects.create(
            name=f"{PREFIX} normal", urgency=32000
        )
        password = make_password(None)
        agents = User.objects.bulk_create(
            User(
                email=f"{PREFIX}-agent{i}@example.invalid",
                name=f"Bench Agent {i}",
                kind=User.Kind.AGENT,
                password=password,
            )
            for i in range(DEPARTMENTS * AGENTS_PER_DEPARTMENT)
        )
        requesters = User.objects.bulk_create(
            User(email=f"{PREFIX}-user{i}@example.invalid", name=f"Bench User {i}", password=password)
            for i in range(1000)
        )
        departments = Department.objects.bulk_create(
            Department(name=f"{PREFIX} {i}", manager=agents[i * AGENTS_PER_DEPARTMENT]) for i in range(DEPARTMENTS)
        )
        DepartmentMembership.objects.bulk_create(
            DepartmentMembership(
                agent=agent, department=departments[i // AGENTS_PER_DEPARTMENT], role=role, is_primary=True
            )
            for i, agent in enumerate(agents)
        )
        tickets = []
        for i in range(opened):
            department = i % DEPARTMENTS
            # All were opened within the last three hours; the ones to fall due are moved
            # past their due instant just before each timed sweep (clocks_fall_due).
            created = now - timedelta(seconds=rng.uniform(0, 3 * 3600 - 60))
            members = agents[department * AGENTS_PER_DEPARTMENT : (department + 1) * AGENTS_PER_DEPARTMENT]
            tickets.append(
                Ticket(
                    number=FIRST_NUMBER + i,
                    subject=f"Bench ticket {i}",
                    requester=requesters[i % len(requesters)],
                    department=departments[department],
                    priority=priority,
                    status=status,
                    state=TicketState.OPEN,
                    sla_plan=plan,
                    assignee=rng.choice(members) if rng.random() < assigned_share else None,
                    created_at=created,
                    updated_at=created,
                    due_at=created + TARGET,
                )
            )
        Ticket.objects.bulk_create(tickets, batch_size=5000)
        clocks = []
        for ticket in tickets:
            created = ticket.created_at
            clocks.append(
                TicketClock(
                    ticket=ticket,
                    target=ClockTarget.FIRST_RESPONSE,
                    state=ClockState.MET,
                    target_seconds=3600,
                    elapsed_seconds=600,
                    started_at=created,
                    met_at=created + timedelta(minutes=10),
                )
            )
            clocks.append(
                TicketClock(
                    ticket=ticket,
                    target=ClockTarget.RESOLUTION,
                    state=ClockState.RUNNING,
                    target_seconds=int(TARGET.total_seconds()),
                    running_since=created,
                    started_at=created,
                    due_at=created + TARGET,
                    warn_at=created + TARGET * 3 / 4,
                    warned_at=created + TARGET * 3 / 4 if created + TARGET * 3 / 4 <= now else None,
                )
            )
        TicketClock.objects.bulk_create(clocks, batch_size=5000)
    return [c.pk for c in clocks if c.target == ClockTarget.RESOLUTION and c.ticket.number < FIRST_NUMBER + due]


def clocks_fall_due(due_ids: list[int]) -> None:
    """Undo the last sweep's marks and move the chosen clocks just past their due instant
    (warned already, as they would have been at 75 %), as if four hours had gone by."""
    bench = Ticket.objects.filter(number__gte=FIRST_NUMBER)
    now = timezone.now()
    with transaction.atomic():
        Notification.objects.filter(ticket__in=bench).delete()
        TicketEvent.objects.filter(ticket__in=bench).delete()
        bench.filter(is_overdue=True).update(is_overdue=False)
        TicketClock.objects.filter(pk__in=due_ids).update(
            running_since=now - TARGET - timedelta(seconds=30),
            due_at=now - timedelta(seconds=30),
            warn_at=now - TARGET / 4 - timedelta(seconds=30),
            warned_at=now - TARGET / 4,
            breached_at=None,
        )


def loaded_tickets_remove() -> None:
    bench = Ticket.objects.filter(number__gte=FIRST_NUMBER, subject__startswith="Bench ticket")
    with transaction.atomic():
        Notification.objects.filter(ticket__in=bench).delete()
        TicketEvent.objects.filter(ticket__in=bench).delete()
        TicketClock.objects.filter(ticket__in=bench).delete()
        bench.delete()
        DepartmentMembership.objects.filter(department__name__startswith=PREFIX).delete()
        Department.objects.filter(name__startswith=PREFIX).delete()
        User.objects.filter(email__startswith=f"{PREFIX}-").delete()
        SLAPlan.objects.filter(name__startswith=PREFIX).delete()
        Role.objects.filter(name__startswith=PREFIX).delete()
        Status.objects.filter(name__startswith=PREFIX).delete()
        Priority.objects.filter(name__startswith=PREFIX).delete()
