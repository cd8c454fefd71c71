"""Fetch the IMAP mailboxes now (what the periodic task does), and say what came in."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from inbound.fetch import mailbox_fetch
from inbound.models import Mailbox


class Command(BaseCommand):
    help = "Fetch mail from the active IMAP mailboxes (or one, by name)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--mailbox", help="Only this mailbox (its name).")
        parser.add_argument("--limit", type=int, help="At most this many messages per mailbox.")

    def handle(self, *args: Any, **options: Any) -> None:
        mailboxes = Mailbox.objects.filter(is_active=True)
        if options["mailbox"]:
            mailboxes = mailboxes.filter(name=options["mailbox"])
            if not mailboxes.exists():
                raise CommandError(f"No active mailbox is named {options['mailbox']!r}.")
        failed = False
        for mailbox in mailboxes.order_by("name"):
            result = mailbox_fetch(mailbox_id=mailbox.pk, limit=options["limit"])
            if result.skipped:
                self.stdout.write(f"{mailbox.name}: skipped (being fetched, or failing and waiting)")
            elif result.error:
                failed = True
                self.stderr.write(f"{mailbox.name}: failed: {result.error}")
            else:
                self.stdout.write(
                    f"{mailbox.name}: {result.fetched} fetched {result.outcomes}, backlog {result.backlog}"
                )
        if failed:
            raise CommandError("Some mailboxes could not be fetched.")
