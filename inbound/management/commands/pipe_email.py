"""For an MTA's pipe: read one RFC 822 message on standard input and take it in.

The exit status is what the MTA acts on (sysexits.h): 0 the message is ours now (a ticket,
a reply, a duplicate, ignored or held for an admin); 65 (EX_DATAERR) it cannot be taken,
bounce it; 75 (EX_TEMPFAIL) try again later (the database is down, say).
"""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand

EX_OK = 0
EX_DATAERR = 65
EX_TEMPFAIL = 75


class Command(BaseCommand):
    help = "Read one email message on standard input and add it to the help desk (for an MTA's pipe)."

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            from inbound.models import Outcome
            from inbound.services import email_ingest

            raw = sys.stdin.buffer.read()
            result = email_ingest(raw=raw, via="pipe")
        except Exception as exc:
            self.stderr.write(f"temporary failure: {type(exc).__name__}: {exc}")
            sys.exit(EX_TEMPFAIL)
        number = f" #{result.ticket.number}" if result.ticket else ""
        line = f"{result.outcome}{number}: {result.reason}"
        if result.outcome == Outcome.REJECTED:
            self.stderr.write(line)
            sys.exit(EX_DATAERR)
        self.stdout.write(line)
        sys.exit(EX_OK)
