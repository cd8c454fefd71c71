"""Time the SLA sweep: N open tickets, of which M have just fallen due.

    python manage.py sla_sweep_bench --open 50000 --due 10000 [--repeat 3] [--json]

It loads its own tickets (sla.loadtest: numbers from 9,100,000,000, departments named
"bench-sla …") into the configured database, times a sweep with nothing due, then the sweep
that marks the M breaches and plans their alerts (delivery is not enqueued) `--repeat`
times, making them fall due afresh before each, times the bare claiming UPDATE as the
floor, and deletes all it loaded. Run it on a scratch PostgreSQL database: it refuses a
database holding other tickets unless given --allow-existing (the sweep would act on those too).
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

import django
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction
from django.utils import timezone

from notifications.models import Notification
from sla.loadtest import clocks_fall_due, loaded_tickets_remove, open_tickets_load
from sla.models import TicketClock
from sla.services import SweepResult, sla_sweep
from tickets.models import Ticket, TicketEvent


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
        loaded_tickets_remove()
        if not options["allow_existing"] and Ticket.objects.exists():
            raise CommandError("This database holds tickets; run on a scratch database or pass --allow-existing.")
        try:
            started = time.perf_counter()
            due_ids = open_tickets_load(opened=opened, due=due, assigned_share=options["assigned"])
            load_seconds = time.perf_counter() - started
            self._vacuum()
            idle = [_timed(lambda: sla_sweep(deliver=False))[0] * 1000 for _ in range(7)]
            runs: list[tuple[float, SweepResult]] = []
            for _ in range(options["repeat"]):
                clocks_fall_due(due_ids)
                self._vacuum()
                seconds, result = _timed(lambda: sla_sweep(deliver=False))
                missed = set(due_ids) - set(result.breached)
                if missed:
                    raise CommandError(f"The sweep left {len(missed)} of the {due} due clocks unmarked.")
                runs.append((seconds, result))
            clocks_fall_due(due_ids)
            self._vacuum()
            floor = [self._floor() for _ in range(3)]
        finally:
            if not options["keep"]:
                loaded_tickets_remove()
        sweep = [seconds for seconds, _ in runs]
        figures = {
            "open_tickets": opened,
            "due_tickets": due,
            "assigned_share": options["assigned"],
            "alerts_planned": runs[-1][1].alerts_planned,
            "sweep_due_seconds": _summary(sweep),
            "sweep_nothing_due_ms": _summary(idle),
            "floor_claim_update_seconds": _summary(floor),
            "ratio_to_floor": round(statistics.median(sweep) / statistics.median(floor), 1),
            "load_seconds": round(load_seconds, 1),
            "database": f"{connection.vendor} {_server_version()}",
            "python": platform.python_version(),
            "cores": os.cpu_count(),
            # Other work on the machine slows every figure: the load when the runs ended.
            "load_average_1min": round(os.getloadavg()[0], 2),
            "django": django.get_version(),
            "date": timezone.now().isoformat(timespec="seconds"),
        }
        if options["json"]:
            self.stdout.write(json.dumps(figures, indent=2))
            return
        s, n, f = figures["sweep_due_seconds"], figures["sweep_nothing_due_ms"], figures["floor_claim_update_seconds"]
        self.stdout.write(
            f"SLA sweep on {figures['database']}: {opened} open tickets, {due} just fell due, "
            f"{figures['alerts_planned']} alerts planned\n"
            f"  sweep marking {due}: median {s['median']:.3f} s (min {s['min']:.3f}, max {s['max']:.3f}, "
            f"{s['runs']} runs)\n"
            f"  sweep with nothing due: median {n['median']:.2f} ms (min {n['min']:.2f}, max {n['max']:.2f})\n"
            f"  floor, the claiming UPDATE alone: median {f['median']:.3f} s; the sweep takes "
            f"{figures['ratio_to_floor']}x its floor\n"
            f"  machine: {figures['cores']} cores, load average {figures['load_average_1min']} when the runs ended"
        )

    def _floor(self) -> float:
        """The sweep's claiming UPDATE alone, rolled back."""
        table = connection.ops.quote_name(TicketClock._meta.db_table)
        sql = (
            f"UPDATE {table} SET breached_at = %s WHERE state = 'running' AND breached_at IS NULL "  # noqa: S608  # nosec B608 (a fixed statement with the model's quoted table name; values are parameters)
            "AND due_at IS NOT NULL AND due_at <= %s RETURNING id"
        )
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        with transaction.atomic(), connection.cursor() as cursor:
            started = time.perf_counter()
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


def _timed(work: Callable[[], SweepResult]) -> tuple[float, SweepResult]:
    started = time.perf_counter()
    result = work()
    return time.perf_counter() - started, result


def _summary(values: list[float]) -> dict[str, float]:
    return {
        "median": round(statistics.median(values), 4),
        "min": round(min(values), 4),
        "max": round(max(values), 4),
        "runs": len(values),
    }


def _server_version() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version" if connection.vendor == "postgresql" else "SELECT sqlite_version()")
        row = cursor.fetchone()
    return str(row[0]).split(" ")[0] if row else "?"
