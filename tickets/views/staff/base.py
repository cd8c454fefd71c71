"""What every staff page shares: who may enter, in which time zone, and how refusals look."""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme

from accounts.models import User

View = TypeVar("View", bound=Callable[..., HttpResponseBase])


def agent_required(view: View) -> View:
    """Agents only: anonymous visitors go to the staff sign-in; end users get a 404.

    The page is rendered in the agent's own time zone, where they set one.
    """

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), reverse("staff:login"))
        if not request.user.is_agent:  # type: ignore[union-attr]
            raise Http404
        zone = _zone(request.user.time_zone)  # type: ignore[union-attr]
        if zone is None:
            return view(request, *args, **kwargs)
        with timezone.override(zone):
            return view(request, *args, **kwargs)

    return cast(View, wrapper)


def _zone(name: str) -> zoneinfo.ZoneInfo | None:
    if not name:
        return None
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None


def agent(request: HttpRequest) -> User:
    """The signed-in agent (agent_required has checked)."""
    return cast(User, request.user)


def forbidden(request: HttpRequest, message: str) -> HttpResponse:
    return render(request, "staff/forbidden.html", {"message": message}, status=403)


def back(request: HttpRequest, fallback: str) -> HttpResponseRedirect:
    """Back to the page named in `next`, when it is one of ours."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return HttpResponseRedirect(target)
    return redirect(fallback)


def flash_errors(request: HttpRequest, form: Any) -> None:
    for field, errors in form.errors.items():
        label = form.fields[field].label if field in form.fields else ""
        for error in errors:
            messages.error(request, f"{label}: {error}" if label else error)
