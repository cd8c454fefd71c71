"""Time inbound email: a batch of N messages, half new tickets and half replies to open ones.

    python manage.py inbound_bench --messages 1000 [--json]

Every message goes through `email_ingest`, the pipeline the pipe, the IMAP fetch and the API
use (parsing, duplicate check, threading, ticket or entry, the stored raw message, the
notification rows), one transaction per message as in production; only the transport
(the MTA's pipe, the IMAP round trips) is left out. It opens the tickets the replies answer,
times the batch, checks that every message became what it should, and prints the rate.
Run it on a scratch database: it refuses a database holding tickets unless given
--allow-existing, and it leaves what it loaded in place (the scratch database is dropped).
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections import Counter
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

import django
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from accounts.services import end_user_get_or_create
from inbound.models import InboundMessage, Outcome
from inbound.services import email_ingest
from tickets.models import Department, Priority, Status, Ticket, TicketState
from tickets.services import ticket_create

DOMAIN = "inbound-bench.example"
OPEN_TICKETS = 50


def _message(sender: str, subject: str, body: str) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = f"support@{DOMAIN}"
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=DOMAIN)
    message.set_content(body)
    return message.as_bytes()


class Command(BaseCommand):
    help = "Time the intake of N email messages (half new tickets, half replies) through email_ingest."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--messages", type=int, default=1000, help="Messages in the batch.")
        parser.add_argument("--json", action="store_true", help="Print the figures as JSON.")
        parser.add_argument("--allow-existing", action="store_true", help="Run on a database with other tickets.")

    def handle(self, *args: Any, **options: Any) -> None:
        count = options["messages"]
        if count < 2:
            raise CommandError("--messages must be at least 2.")
        if not options["allow_existing"] and Ticket.objects.exists():
            raise CommandError("This database holds tickets; run on a scratch database or pass --allow-existing.")
        self._desk()
        opened = [
            ticket_create(
                requester=end_user_get_or_create(email=f"requester{i}@{DOMAIN}"),
                subject=f"Printer on floor {i} jams",
                body="It jams on every second page.",
                autorespond=False,
                alert=False,
            )
            for i in range(OPEN_TICKETS)
        ]
        raws = []
        for i in range(count):
            if i % 2:
                ticket = opened[i % OPEN_TICKETS]
                sender = f"requester{i % OPEN_TICKETS}@{DOMAIN}"
                subject = f"Re: [#{ticket.number}] {ticket.subject}"
                raws.append(_message(sender, subject, f"Still jamming, attempt {i}.\n\n> It jams on every page."))
            else:
                raws.append(_message(f"Person {i} <person{i}@{DOMAIN}>", f"Outage report {i}", f"VPN down, {i}."))
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE")
        started = time.perf_counter()
        outcomes = Counter(email_ingest(raw=raw, via="import").outcome for raw in raws)
        seconds = time.perf_counter() - started
        expected = {Outcome.CREATED: count - count // 2, Outcome.APPENDED: count // 2}
        if dict(outcomes) != expected:
            raise CommandError(f"The batch became {dict(outcomes)}, not {expected}.")
        if InboundMessage.objects.filter(via="import").count() != count:
            raise CommandError("Not every message was stored.")
        figures = {
            "messages": count,
            "new_tickets": expected[Outcome.CREATED],
            "replies": expected[Outcome.APPENDED],
            "seconds": round(seconds, 3),
            "messages_per_second": round(count / seconds, 1),
            "ms_per_message": round(seconds * 1000 / count, 2),
            "path": "email_ingest (parse, thread, ticket or entry, raw message, notification rows), "
            "one transaction per message; no transport",
            "database": connection.vendor,
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "django": django.get_version(),
        }
        if options["json"]:
            self.stdout.write(json.dumps(figures))
        else:
            self.stdout.write(
                f"{count} messages in {seconds:.2f} s: {figures['messages_per_second']} messages/s "
                f"({figures['new_tickets']} new tickets, {figures['replies']} replies)"
            )

    def _desk(self) -> None:
        """The least a desk needs to take mail in: a department, a priority, an open status."""
        if not Department.objects.filter(is_active=True).exists():
            Department.objects.create(name="Support")
        if not Priority.objects.filter(is_default=True).exists():
            Priority.objects.create(name="Normal", urgency=2, is_default=True)
        if not Status.objects.filter(state=TicketState.OPEN).exists():
            Status.objects.create(name="Open", state=TicketState.OPEN, is_default=True)
