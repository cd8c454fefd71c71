"""Run one SLA sweep by hand and print what it did (or, with --dry-run, what it would do)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from sla.models import ClockTarget, TicketClock
from sla.services import sla_due_now, sla_sweep

SHOWN = 50


class Command(BaseCommand):
    help = "Run one SLA sweep: warn and breach every clock past its instant, and say what was done."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="List what is due without acting on it.")

    def handle(self, *args: Any, **options: Any) -> None:
        now = timezone.now()
        self.stdout.write(f"SLA sweep at {now.isoformat(timespec='seconds')}")
        if options["dry_run"]:
            breach, warn = sla_due_now(now=now)
            self.stdout.write(f"Would breach {self._clocks(breach)}")
            self.stdout.write(f"Would warn {self._clocks(warn)}")
            return
        result = sla_sweep(now=now)
        if not (result.breached or result.warned or result.skipped):
            self.stdout.write("Nothing was due.")
            return
        self.stdout.write(f"Breached {self._clocks(result.breached)}")
        self.stdout.write(f"Warned {self._clocks(result.warned)}")
        self.stdout.write(
            f"Marked {result.tickets_marked_overdue} tickets overdue; planned {result.alerts_planned} alerts."
        )
        for action in result.actions:
            self.stdout.write(f"  {action}")
        if result.skipped:
            self.stdout.write(f"Left {result.skipped} clocks for the next run: their tickets were being changed.")

    def _clocks(self, clock_ids: list[int]) -> str:
        """'2 clocks on 1 ticket: #123 (First response, Resolution)'."""
        by_ticket: dict[int, list[str]] = {}
        labels = dict(ClockTarget.choices)
        for number, target in (
            TicketClock.objects.filter(pk__in=clock_ids)
            .order_by("ticket__number", "target")
            .values_list("ticket__number", "target")
        ):
            by_ticket.setdefault(number, []).append(labels[target])
        count = len(clock_ids)
        head = (
            f"{count} clock{'s' if count != 1 else ''} on {len(by_ticket)} ticket{'s' if len(by_ticket) != 1 else ''}"
        )
        if not by_ticket:
            return head
        shown = [f"#{number} ({', '.join(targets)})" for number, targets in list(by_ticket.items())[:SHOWN]]
        more = f" and {len(by_ticket) - SHOWN} more" if len(by_ticket) > SHOWN else ""
        return f"{head}: {'; '.join(shown)}{more}"
