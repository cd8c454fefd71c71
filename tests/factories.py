"""Builders for what the seed does not give: more people, and tickets opened through the services."""

from __future__ import annotations

from typing import Any

import factory

from accounts.models import User
from tickets import services
from tickets.models import Ticket


class EndUserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("email",)

    email = factory.Sequence(lambda n: f"person{n}@example.org")
    name = factory.Faker("name")
    kind = User.Kind.END_USER


def ticket_open(
    requester: User, subject: str = "Printer is jammed", body: str = "It blinks red.", **kwargs: Any
) -> Ticket:
    """A ticket opened the way the portal opens one."""
    return services.ticket_create(requester=requester, subject=subject, body=body, **kwargs)
