"""`python manage.py bench_data --tickets N`: fill PostgreSQL with a realistic history."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from bench.dataset import load_tickets


class Command(BaseCommand):
    help = "Load N tickets over three years (threads, events, clocks, 20 departments, 200 agents, 50,000 end users)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tickets", type=int, required=True)
        parser.add_argument("--seed", type=int, default=42, help="Same seed, same data.")
        parser.add_argument("--batch", type=int, default=20_000)

    def handle(self, *args: Any, **options: Any) -> None:
        if options["tickets"] < 1:
            raise CommandError("--tickets must be at least 1.")
        try:
            figures = load_tickets(
                tickets=options["tickets"], seed=options["seed"], batch=options["batch"], log=self.stdout.write
            )
        except RuntimeError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            self.style.SUCCESS(
                "loaded {tickets:,.0f} tickets, {entries:,.0f} entries, {events:,.0f} events, {clocks:,.0f} clocks "
                "in {seconds:.1f} s".format(**figures)
            )
        )
