"""`python manage.py bench_data --tickets N`: fill PostgreSQL with a realistic help-desk history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from bench.dataset import load_tickets


class Command(BaseCommand):
    help = (
        "Load N tickets over three years (threads, events, SLA clocks; 20 departments, 200 agents, "
        "50,000 end users) into PostgreSQL with COPY."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tickets", type=int, required=True)
        parser.add_argument("--seed", type=int, default=42, help="Same seed and anchor, same data.")
        parser.add_argument(
            "--anchor",
            type=datetime.fromisoformat,
            help="The instant the history ends at, ISO 8601 with a zone (default: now, to the hour).",
        )
        parser.add_argument("--workers", type=int, default=2, help="Processes generating and copying blocks.")
        parser.add_argument("--no-vacuum", action="store_true", help="ANALYZE only, without VACUUM, after the load.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["tickets"] < 1:
            raise CommandError("--tickets must be at least 1.")
        if options["workers"] < 1:
            raise CommandError("--workers must be at least 1.")
        anchor = options["anchor"]
        if anchor is not None and anchor.tzinfo is None:
            raise CommandError("--anchor needs a time zone, e.g. 2026-01-01T00:00:00+00:00.")
        try:
            figures = load_tickets(
                tickets=options["tickets"],
                seed=options["seed"],
                workers=options["workers"],
                anchor=anchor,
                vacuum=not options["no_vacuum"],
                log=self.stdout.write,
            )
        except RuntimeError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            self.style.SUCCESS(
                "loaded {tickets:,} tickets, {entries:,} entries, {events:,} events, {clocks:,} clocks "
                "in {seconds:.1f} s".format(**figures)
            )
        )
