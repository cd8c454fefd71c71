"""Signing in and out, password reset and the agent's profile."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django_ratelimit.core import is_ratelimited

from accounts.forms import AgentAuthenticationForm
from accounts.services import agent_profile_update
from tickets.exceptions import InvalidInput
from tickets.forms.staff import ProfileForm, StaffPasswordResetForm, form_error_from
from tickets.views.portal.throttle import LINKS, throttle_message, throttle_wait
from tickets.views.staff.base import agent, agent_required

# Sign-in attempts allowed per client address and per account address.
LOGIN_RATE = "10/5m"


class LoginView(auth_views.LoginView):
    form_class = AgentAuthenticationForm
    template_name = "staff/login.html"

    def get_default_redirect_url(self) -> str:
        return str(reverse_lazy("staff:home"))

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        # A signed-in agent goes straight in; someone signed in to the portal sees the form,
        # to sign in as an agent.
        if request.user.is_authenticated and request.user.is_agent:  # type: ignore[union-attr]
            return redirect(self.get_success_url())
        return super().dispatch(request, *args, **kwargs)

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        email = (request.POST.get("username") or "").strip().lower()
        limited = is_ratelimited(request, group="staff-login-ip", key="ip", rate=LOGIN_RATE, increment=True)
        if email:
            limited |= is_ratelimited(
                request, group="staff-login-email", key=lambda g, r: email, rate=LOGIN_RATE, increment=True
            )
        if limited:
            form = self.get_form()
            form.errors.clear()
            form.add_error(None, "Too many sign-in attempts. Wait a few minutes and try again.")
            return self.render_to_response(self.get_context_data(form=form), status=429)
        return super().post(request, *args, **kwargs)


class LogoutView(auth_views.LogoutView):
    next_page = "staff:login"


class PasswordResetView(auth_views.PasswordResetView):
    """The mailed link is built on SITE_URL, never on the request's Host header: a forged Host
    would otherwise send the agent's reset token to the forger's site. Requests are throttled
    like the portal's (per address and per client IP): the page cannot be used to flood a mailbox."""

    form_class = StaffPasswordResetForm
    template_name = "staff/password_reset_form.html"
    email_template_name = "staff/password_reset_email.txt"
    subject_template_name = "staff/password_reset_subject.txt"
    success_url = reverse_lazy("staff:password_reset_done")

    def form_valid(self, form: StaffPasswordResetForm) -> HttpResponse:  # type: ignore[override]
        wait = throttle_wait(self.request, LINKS, address=form.cleaned_data["email"].strip().lower())
        if wait:
            form.add_error(None, throttle_message(wait))
            return self.render_to_response(self.get_context_data(form=form), status=429)
        self.extra_email_context = {"site_url": settings.SITE_URL}
        return super().form_valid(form)  # type: ignore[no-any-return]


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "staff/password_reset_done.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "staff/password_reset_confirm.html"
    success_url = reverse_lazy("staff:password_reset_complete")


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "staff/password_reset_complete.html"


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "staff/password_change.html"
    success_url = reverse_lazy("staff:profile")

    def form_valid(self, form: Any) -> HttpResponse:
        messages.success(self.request, "Your password is changed.")
        return super().form_valid(form)


password_change = agent_required(PasswordChangeView.as_view())


@agent_required
def profile(request: HttpRequest) -> HttpResponse:
    me = agent(request)
    if request.method == "POST":
        form = ProfileForm(request.POST)
        if form.is_valid():
            try:
                agent_profile_update(
                    agent=me,
                    name=form.cleaned_data["name"],
                    signature=form.cleaned_data["signature"],
                    time_zone=form.cleaned_data["time_zone"],
                )
            except InvalidInput as error:
                form_error_from(form, error)
            else:
                messages.success(request, "Your profile is saved.")
                return redirect("staff:profile")
        return render(request, "staff/profile.html", {"form": form}, status=400)
    form = ProfileForm(initial={"name": me.name, "signature": me.signature, "time_zone": me.time_zone})
    return render(request, "staff/profile.html", {"form": form})
