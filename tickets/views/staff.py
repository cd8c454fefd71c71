"""The staff panel: where agents work the queue."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth import views as auth_views
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse, reverse_lazy

from accounts.forms import AgentAuthenticationForm
from tickets.models import Status
from tickets.selectors import thread_entries_for_user, ticket_events_for_agent, ticket_get_for_user, tickets_visible_to

View = Callable[..., HttpResponse]


def agent_required(view: View) -> View:
    """Agents only: anonymous visitors go to the staff sign-in; end users get a 404."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), reverse("staff:login"))
        if not request.user.is_agent:  # type: ignore[union-attr]
            raise Http404
        return view(request, *args, **kwargs)

    return wrapper


class LoginView(auth_views.LoginView):
    form_class = AgentAuthenticationForm
    redirect_authenticated_user = True
    extra_context = {"base_template": "staff/base.html", "heading": "Staff sign in"}

    def get_default_redirect_url(self) -> str:
        return str(reverse_lazy("staff:home"))


@agent_required
def home(request: HttpRequest) -> HttpResponse:
    tickets = (
        tickets_visible_to(request.user)  # type: ignore[arg-type]
        .filter(state__in=Status.ACTIVE_STATES)
        .select_related("requester", "priority", "department", "assignee")
        .order_by("due_at", "-updated_at")[:50]
    )
    return render(request, "staff/home.html", {"tickets": tickets})


@agent_required
def ticket(request: HttpRequest, number: int) -> HttpResponse:
    ticket = ticket_get_for_user(user=request.user, number=number)  # type: ignore[arg-type]
    context = {
        "ticket": ticket,
        "entries": thread_entries_for_user(ticket=ticket, user=request.user),  # type: ignore[arg-type]
        "events": ticket_events_for_agent(ticket=ticket),
    }
    return render(request, "staff/ticket.html", context)
