"""Time the SLA sweep: N open tickets, of which M have just fallen due.

    python manage.py sla_sweep_bench --open 50000 --due 10000 [--repeat 3] [--json]

It loads its own tickets (numbers from 9,100,000,000, departments named "bench-sla …") into
the configured database, times a sweep with nothing due, then the sweep that marks the M
breaches and plans their alerts (delivery is not enqueued), resets them and sweeps again
`--repeat` times, times the bare claiming UPDATE as the floor, and deletes all it loaded.
Run it on a scratch PostgreSQL database: it refuses a database holding other tickets unless
given --allow-existing (the sweep would act on those too).
"""

from __future__ import annotations

import json
import platform
import random
import statistics
import time
from datetime import timedelta
from typing import Any

import django
from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import DepartmentMembership, Role, User
from notifications.models import Notification
from sla.models import ClockState, ClockTarget, SLAPlan, TicketClock
from sla.services import sla_sweep
from tickets.models import Department, Priority, Status, Ticket, TicketEvent, TicketState

PREFIX = "bench-sla"
FIRST_NUMBER = 9_100_000_000
DEPARTMENTS = 20
AGENTS_PER_DEPARTMENT = 10
TARGET = timedelta(hours=4)


class Command(BaseCommand):
    help = "Time the SLA sweep on N open tickets of which M have just fallen due (on a scratch database)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--open", type=int, default=50_000, help="Open tickets to load.")
        parser.add_argument("--due", type=int, default=10_000, help="Of those, how many have just fallen due.")
        parser.add_argument("--repeat", type=int, default=3, help="Timed sweeps of the due tickets.")
        parser.add_argument("--assigned", type=float, default=0.8, help="Share of tickets with an assignee.")
        parser.add_argument("--json", action="store_true", help="Print the figures as JSON.")
        parser.add_argument("--keep", action="store_true", help="Leave the loaded tickets in place.")
        parser.add_argument("--allow-existing", action="store_true", help="Run on a database with other tickets.")

    def handle(self, *args: Any, **options: Any) -> None:
        opened, due = options["open"], options["due"]
        if not 0 < due <= opened:
            raise CommandError("--due must be between 1 and --open.")
        self._cleanup()
        if not options["allow_existing"] and Ticket.objects.exists():
            raise CommandError("This database holds tickets; run on a scratch database or pass --allow-existing.")
        rng = random.Random(5)
        try:
            started = time.perf_counter()
            due_ids = self._load(opened, due, options["assigned"], rng)
            load_seconds = time.perf_counter() - started
            self._vacuum()
            idle = [self._timed(lambda: sla_sweep(deliver=False))[0] for _ in range(7)]
            runs = []
            for _ in range(options["repeat"]):
                self._fall_due(due_ids)
                seconds, result = self._timed(lambda: sla_sweep(deliver=False))
                if len(result.breached) != due:
                    raise CommandError(f"The sweep marked {len(result.breached)} breaches, expected {due}.")
                runs.append((seconds, result))
            self._fall_due(due_ids)
            floor = [self._floor() for _ in range(3)]
        finally:
            if not options["keep"]:
                self._cleanup()
        figures = {
            "open_tickets": opened,
            "due_tickets": due,
            "assigned_share": options["assigned"],
            "alerts_planned": runs[-1][1].alerts_planned,
            "sweep_due_seconds": _summary([s for s, _ in runs]),
            "sweep_nothing_due_ms": _summary([s * 1000 for s in idle]),
            "floor_claim_update_seconds": _summary(floor),
            "ratio_to_floor": round(statistics.median([s for s, _ in runs]) / statistics.median(floor), 1),
            "load_seconds": round(load_seconds, 1),
            "database": f"{connection.vendor} {_server_version()}",
            "python": platform.python_version(),
            "django": django.get_version(),
            "machine": platform.machine(),
            "date": timezone.now().isoformat(timespec="seconds"),
        }
        if options["json"]:
            self.stdout.write(json.dumps(figures, indent=2))
            return
        s, n, f = figures["sweep_due_seconds"], figures["sweep_nothing_due_ms"], figures["floor_claim_update_seconds"]
        self.stdout.write(
            f"SLA sweep on {connection.vendor}: {opened} open tickets, {due} just fell due, "
            f"{figures['alerts_planned']} alerts planned\n"
            f"  sweep marking {due}: median {s['median']:.3f} s (min {s['min']:.3f}, max {s['max']:.3f}, "
            f"{len(runs)} runs)\n"
            f"  sweep with nothing due: median {n['median']:.2f} ms (min {n['min']:.2f}, max {n['max']:.2f})\n"
            f"  floor, the claiming UPDATE alone: median {f['median']:.3f} s; the sweep is "
            f"{figures['ratio_to_floor']}x its floor"
        )

    def _timed(self, work: Any) -> tuple[float, Any]:
        started = time.perf_counter()
        result = work()
        return time.perf_counter() - started, result

    def _load(self, opened: int, due: int, assigned_share: float, rng: random.Random) -> list[int]:
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
                # past their due instant just before each timed sweep (_fall_due).
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

    def _fall_due(self, due_ids: list[int]) -> None:
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
        self._vacuum()

    def _floor(self) -> float:
        """The claiming UPDATE alone, rolled back."""
        table = connection.ops.quote_name(TicketClock._meta.db_table)
        sql = (
            f"UPDATE {table} SET breached_at = %s WHERE state = 'running' AND breached_at IS NULL "  # noqa: S608
            "AND due_at IS NOT NULL AND due_at <= %s RETURNING id"
        )
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        started = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, [now, now])
            cursor.fetchall()
            elapsed = time.perf_counter() - started
            transaction.set_rollback(True)
        return elapsed

    def _vacuum(self) -> None:
        if connection.vendor != "postgresql":
            return
        with connection.cursor() as cursor:
            for model in (Ticket, TicketClock, TicketEvent, Notification):
                cursor.execute(f"VACUUM ANALYZE {connection.ops.quote_name(model._meta.db_table)}")

    def _cleanup(self) -> None:
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


def _summary(values: list[float]) -> dict[str, float]:
    return {
        "median": round(statistics.median(values), 4),
        "min": round(min(values), 4),
        "max": round(max(values), 4),
        "runs": len(values),
    }


def _server_version() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT version()" if connection.vendor == "postgresql" else "SELECT sqlite_version()")
        return str(cursor.fetchone()[0]).split(",")[0]
