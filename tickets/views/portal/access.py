"""Who is looking at a ticket in the portal, and how they got there.

A ticket is reached in one of two ways: signed in, as its requester or a collaborator
(`ticket_get_for_user`), or through a secret link mailed to one of them (`ticket_get_for_link`),
which acts for the link's recipient without a sign-in. Both end in an Access, and every page
and action of a ticket goes through one; the URLs an Access makes keep to the way it came.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import wraps
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from tickets.models import Ticket
from tickets.selectors import ticket_get_for_link, ticket_get_for_user

View = Callable[..., HttpResponse]
TICKET_RELATED = ("requester", "department", "help_topic", "status", "assignee", "merged_into")


@dataclass(frozen=True)
class Access:
    ticket: Ticket
    person: User  # who acts: the signed-in user, or the link's recipient
    token: str = ""  # set when reached through a secret link

    @property
    def is_requester(self) -> bool:
        return self.ticket.requester_id == self.person.pk

    def url(self, action: str = "") -> str:
        suffix = f"_{action}" if action else ""
        if self.token:
            return reverse(f"portal:link{suffix}", kwargs={"token": self.token})
        return reverse(f"portal:ticket{suffix}", kwargs={"number": self.ticket.number})

    def attachment_url(self, attachment_id: int) -> str:
        if self.token:
            return reverse("portal:link_attachment", kwargs={"token": self.token, "pk": attachment_id})
        return reverse("portal:attachment", kwargs={"pk": attachment_id})


def end_user_required(view: View) -> View:
    """Signed-in pages of the portal: visitors go to the sign-in, agents to the staff panel
    (their portal would be their departments' queue, which lives there)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), reverse("portal:login"))
        if request.user.is_agent:  # type: ignore[union-attr]
            number = kwargs.get("number")
            return redirect(reverse("staff:ticket", kwargs={"number": number}) if number else reverse("staff:home"))
        return view(request, *args, **kwargs)

    return wrapper


def access_signed_in(request: HttpRequest, number: int) -> Access:
    """The signed-in user's access to ticket `number`; 404 whether it is missing or not theirs."""
    user: User = request.user  # type: ignore[assignment]
    ticket = ticket_get_for_user(user=user, number=number)
    return Access(ticket=ticket, person=user)


def access_by_link(token: str) -> Access:
    """The access a secret link grants now: 404 when it is unknown, expired or revoked."""
    if len(token) > 128:
        raise Http404("This link is not valid.")
    ticket, recipient = ticket_get_for_link(token=token)
    ticket = Ticket.objects.select_related(*TICKET_RELATED).get(pk=ticket.pk)
    return Access(ticket=ticket, person=recipient, token=token)


@contextmanager
def users_time_zone(user: User | None) -> Iterator[None]:
    """Dates shown in the person's own time zone, where they chose one."""
    zone = None
    if user is not None and user.is_authenticated and user.time_zone:
        try:
            zone = ZoneInfo(user.time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            zone = None
    if zone is None:
        yield
        return
    with timezone.override(zone):
        yield


def render_for(
    request: HttpRequest, template: str, context: dict[str, Any], *, person: User | None = None, status: int = 200
) -> HttpResponse:
    viewer = person if person is not None else request.user
    with users_time_zone(viewer):  # type: ignore[arg-type]
        return render(request, template, context, status=status)
