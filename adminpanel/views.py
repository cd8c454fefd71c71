"""The admin pages of the staff panel: configuration, for admins only."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from tickets.views.staff import agent_required

View = Callable[..., HttpResponse]


def admin_required(view: View) -> View:
    """Admins only: other agents and end users get a 404, anonymous visitors the sign-in."""

    @agent_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_admin:  # type: ignore[union-attr]
            raise Http404
        return view(request, *args, **kwargs)

    return wrapper


@admin_required
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "adminpanel/home.html")
