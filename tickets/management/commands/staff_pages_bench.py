"""Time the staff panel's pages on a large desk: queues, the ticket page, search, dashboard.

    python manage.py staff_pages_bench --tickets 100000     # fill (once), then measure
    python manage.py staff_pages_bench --runs 20            # measure what is there

Filling writes synthetic history straight into the tables (bulk inserts, not the services:
only the shape matters here) on top of `seed_demo`'s configuration; tickets it made are
recognised by their number range and never made twice. Each figure is the server time of a
request through Django's test client (middleware, view, template; no network), as median,
min and max of the runs after one warm-up, with the number of SQL queries.
"""

from __future__ import annotations

import io
import random
import statistics
import time
from datetime import timedelta
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser
from django.db import connection, transaction
from django.db.models import Max
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from sla.models import ClockState, ClockTarget, SLAPlan, TicketClock
from tickets.models import (
    Department,
    EntryKind,
    EventKind,
    Priority,
    Status,
    ThreadEntry,
    Ticket,
    TicketEvent,
    TicketSource,
    TicketState,
)

FIRST_NUMBER = 900_000_000  # synthetic tickets take numbers from here up
WORDS = [
    "printer",
    "network",
    "vpn",
    "laptop",
    "password",
    "outlook",
    "excel",
    "server",
    "backup",
    "invoice",
    "payroll",
    "login",
    "screen",
    "keyboard",
    "charger",
    "banking",
    "card",
    "payment",
    "gateway",
    "timeout",
    "error",
    "crash",
    "update",
    "install",
]
# Filler words for thread bodies, so that a search for two of WORDS is as selective as on a
# real desk (about one entry in three hundred), not a match for everything.
SYLLABLES = ["ka", "lo", "mi", "ne", "ru", "ta", "vo", "zi", "pe", "su", "da", "fo"]
FILLER = [a + b + c for a in SYLLABLES for b in SYLLABLES for c in SYLLABLES]
BATCH = 5000


class Command(BaseCommand):
    help = "Fill a large synthetic desk (optional) and time the staff panel's pages on it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tickets", type=int, default=0, help="Make the desk hold at least this many tickets.")
        parser.add_argument("--runs", type=int, default=15)

    def handle(self, *args: Any, **options: Any) -> None:
        call_command("seed_demo", "--no-tickets", stdout=io.StringIO())
        wanted = options["tickets"]
        have = Ticket.objects.filter(number__gte=FIRST_NUMBER).count()
        if wanted > have:
            started = time.perf_counter()
            self.fill(wanted - have, start=have)
            self.stdout.write(f"filled {wanted - have} tickets in {time.perf_counter() - started:.0f} s")
        self.measure(options["runs"])

    # ------------------------------------------------------------ data

    def fill(self, count: int, start: int) -> None:
        rng = random.Random(start)  # nosec B311 (made-up data for a benchmark, not a secret)
        now = timezone.now()
        departments = list(Department.objects.all())
        priorities = list(Priority.objects.all())
        statuses = {s.state: s for s in Status.objects.filter(is_default=True)}
        plan = SLAPlan.objects.get(is_default=True)
        agents = list(User.objects.filter(kind__in=[User.Kind.AGENT, User.Kind.ADMIN]))
        people = list(User.objects.filter(email__endswith="@bench.example"))
        if len(people) < 2000:
            User.objects.bulk_create(
                User(email=f"person{i}@bench.example", name=f"Person {i}", kind=User.Kind.END_USER)
                for i in range(len(people), 2000)
            )
            people = list(User.objects.filter(email__endswith="@bench.example"))
        for offset in range(0, count, BATCH):
            size = min(BATCH, count - offset)
            with transaction.atomic():
                self.batch(rng, start + offset, size, now, departments, priorities, statuses, plan, agents, people)
            self.stdout.write(f"  {offset + size}/{count}", ending="\r")
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")

    def batch(self, rng, first, size, now, departments, priorities, statuses, plan, agents, people) -> None:  # type: ignore[no-untyped-def]
        tickets = []
        for i in range(first, first + size):
            created = now - timedelta(minutes=rng.randrange(3 * 365 * 24 * 60))
            state = TicketState.OPEN if rng.random() < 0.05 else rng.choice([TicketState.RESOLVED, TicketState.CLOSED])
            active = state == TicketState.OPEN
            tickets.append(
                Ticket(
                    number=FIRST_NUMBER + i,
                    subject=" ".join(rng.sample(WORDS, 4)).capitalize(),
                    requester=rng.choice(people),
                    department=rng.choice(departments),
                    priority=rng.choice(priorities),
                    status=statuses[state],
                    state=state,
                    assignee=rng.choice(agents) if rng.random() < 0.8 else None,
                    sla_plan=plan,
                    source=rng.choice(TicketSource.values),
                    due_at=created + timedelta(hours=18) if active else None,
                    is_overdue=active and created + timedelta(hours=18) < now,
                    created_at=created,
                    updated_at=created + timedelta(hours=2),
                    first_response_at=created + timedelta(hours=1),
                    last_message_at=created,
                    last_response_at=created + timedelta(hours=1),
                    resolved_at=None if active else created + timedelta(hours=3),
                    closed_at=created + timedelta(days=1) if state == TicketState.CLOSED else None,
                )
            )
        Ticket.objects.bulk_create(tickets)
        saved = Ticket.objects.filter(
            number__gte=FIRST_NUMBER + first, number__lt=FIRST_NUMBER + first + size
        ).select_related("department")
        entries, events, clocks = [], [], []
        for t in saved:
            for k, kind in enumerate(
                [EntryKind.MESSAGE, EntryKind.RESPONSE, EntryKind.NOTE, EntryKind.MESSAGE, EntryKind.RESPONSE]
            ):
                entries.append(
                    ThreadEntry(
                        ticket=t,
                        kind=kind,
                        author_id=t.requester_id if kind == EntryKind.MESSAGE else t.assignee_id,
                        author_name="Bench",
                        body=" ".join([*rng.choices(FILLER, k=28), *rng.sample(WORDS, 2)]),
                        created_at=t.created_at + timedelta(minutes=10 * k),
                    )
                )
            events.append(
                TicketEvent(ticket=t, kind=EventKind.CREATED, to_value=t.department.name, created_at=t.created_at)
            )
            events.append(
                TicketEvent(
                    ticket=t, kind=EventKind.ASSIGNED, to_value="agent", actor_id=t.assignee_id, created_at=t.created_at
                )
            )
            clocks.append(
                TicketClock(
                    ticket=t,
                    target=ClockTarget.RESOLUTION,
                    state=ClockState.RUNNING if t.state == TicketState.OPEN else ClockState.MET,
                    target_seconds=18 * 3600,
                    started_at=t.created_at,
                    running_since=t.created_at if t.state == TicketState.OPEN else None,
                    due_at=t.due_at or t.created_at + timedelta(hours=18),
                    met_at=t.resolved_at,
                )
            )
        ThreadEntry.objects.bulk_create(entries)
        TicketEvent.objects.bulk_create(events)
        TicketClock.objects.bulk_create(clocks)

    # ------------------------------------------------------------ timing

    def measure(self, runs: int) -> None:
        total = Ticket.objects.count()
        john = User.objects.get(email="john@example.com")
        admin = User.objects.get(email="admin@example.com")
        busy = (
            Ticket.objects.filter(number__gte=FIRST_NUMBER, state=TicketState.OPEN, department__name="Support")
            .order_by("number")
            .first()
            or Ticket.objects.order_by("-id").first()
        )
        if busy is None:
            self.stdout.write("no tickets: run with --tickets N first")
            return
        # A 50-entry thread on the ticket page.
        extra = 50 - busy.entries.count()
        if extra > 0:
            last = busy.entries.aggregate(Max("created_at"))["created_at__max"] or busy.created_at
            ThreadEntry.objects.bulk_create(
                ThreadEntry(
                    ticket=busy,
                    kind=EntryKind.RESPONSE,
                    author=john,
                    author_name="John",
                    body=f"Update {i}",
                    created_at=last + timedelta(minutes=i + 1),
                )
                for i in range(extra)
            )
        pages = [
            (
                "queue: Open, John (50 rows, by due date, all counts)",
                john,
                reverse("staff:queue", kwargs={"key": "open"}),
            ),
            ("queue: All, admin (50 rows, last update)", admin, reverse("staff:queue", kwargs={"key": "all"})),
            ("ticket page, 50-entry thread", john, busy.get_staff_url()),
            (
                "search 'charger timeout', admin, all tickets",
                admin,
                reverse("staff:queue", kwargs={"key": "all"}) + "?q=charger+timeout",
            ),
            (
                "search by requester email, admin",
                admin,
                reverse("staff:queue", kwargs={"key": "all"}) + "?q=person7%40bench.example",
            ),
            ("dashboard, admin", admin, reverse("staff:dashboard")),
        ]
        self.stdout.write(f"{total} tickets, {connection.vendor}, {runs} runs after a warm-up")
        self.stdout.write(f"{'page':55} {'median':>8} {'min':>8} {'max':>8} {'queries':>8}")
        for label, user, url in pages:
            client = Client()
            client.force_login(user)
            client.get(url)
            times = []
            for _ in range(runs):
                with CaptureQueriesContext(connection) as queries:
                    started = time.perf_counter()
                    response = client.get(url)
                    times.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, (url, response.status_code)  # nosec B101 (a benchmark's own sanity check, run by developers)
            self.stdout.write(
                f"{label:55} {statistics.median(times):7.1f}ms {min(times):7.1f}ms {max(times):7.1f}ms {len(queries):8}"
            )
