"""`manage.py inbound_bench`: the inbound-mail figure of the benchmark takes every message
through the real pipeline and refuses to run where it would mix with real tickets."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command

from inbound.models import InboundMessage, Outcome
from tests.factories import ticket_open
from tickets.models import Ticket


@pytest.mark.django_db(transaction=True)
def test_the_batch_becomes_new_tickets_and_replies() -> None:
    out = io.StringIO()
    call_command("inbound_bench", "--messages", "20", "--json", stdout=out)
    figures = json.loads(out.getvalue())
    assert (figures["messages"], figures["new_tickets"], figures["replies"]) == (20, 10, 10)
    assert figures["messages_per_second"] > 0
    stored = InboundMessage.objects.filter(via="import")
    assert stored.filter(outcome=Outcome.CREATED).count() == 10
    assert stored.filter(outcome=Outcome.APPENDED).count() == 10
    # 50 tickets the replies answer, and one per new message.
    assert Ticket.objects.count() == 50 + 10
    replied = stored.filter(outcome=Outcome.APPENDED).values_list("ticket__subject", flat=True)
    assert all(subject.startswith("Printer on floor") for subject in replied)


@pytest.mark.django_db
def test_it_refuses_a_database_that_holds_tickets(karen) -> None:
    ticket_open(karen, "A real one")
    with pytest.raises(CommandError, match="holds tickets"):
        call_command("inbound_bench", "--messages", "4", stdout=io.StringIO())
    assert InboundMessage.objects.count() == 0
