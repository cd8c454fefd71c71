"""Portal accounts: sign in, register (with a link that verifies the address), password reset,
profile and password change.

None of these pages tells a visitor whether an address has an account: registering and
asking for a reset answer "check your mail" whatever the address, and the mail itself says
what applies (accounts.mail).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse, reverse_lazy
from django.views.decorators.cache import never_cache

from accounts.forms import (
    EmailAuthenticationForm,
    PasswordResetRequestForm,
    PortalPasswordChangeForm,
    PortalSetPasswordForm,
    ProfileForm,
    RegisterForm,
    RegistrationPasswordForm,
)
from accounts.mail import account_mail_enqueue
from accounts.models import User
from accounts.tokens import registration_token_read
from tickets.exceptions import InvalidInput
from tickets.views.portal.access import end_user_required, render_for
from tickets.views.portal.throttle import LINKS, LOGINS, throttle_message, throttle_wait


class LoginView(auth_views.LoginView):
    """Sign in, counted per address and per client IP. `next` is followed only within this
    site (LoginView checks it against the request's host)."""

    form_class = EmailAuthenticationForm
    redirect_authenticated_user = True

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        wait = throttle_wait(request, LOGINS, address=str(request.POST.get("username", ""))[:254])
        if wait:
            # Unbound: a throttled attempt is not checked against the password at all.
            form = self.get_form_class()(request=request, initial={"username": request.POST.get("username", "")})
            form.cleaned_data = {}
            form.add_error(None, throttle_message(wait))
            return self.render_to_response(self.get_context_data(form=form), status=429)
        return super().post(request, *args, **kwargs)  # type: ignore[no-any-return]

    def get_default_redirect_url(self) -> str:
        user = self.request.user
        if user.is_authenticated and user.is_agent:  # type: ignore[union-attr]
            return reverse("staff:home")
        return reverse("portal:tickets")


def register(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("portal:tickets")
    status = 200
    if request.method == "POST":
        form = RegisterForm(request.POST)
        status = 400
        if form.is_valid():
            wait = throttle_wait(request, LINKS, address=form.cleaned_data["email"])
            if wait:
                form.add_error(None, throttle_message(wait))
                status = 429
            else:
                account_mail_enqueue(
                    purpose="register", email=form.cleaned_data["email"], name=form.cleaned_data["name"]
                )
                return redirect("portal:register_sent")
    else:
        form = RegisterForm()
    return render_for(request, "registration/register.html", {"form": form}, status=status)


def register_sent(request: HttpRequest) -> HttpResponse:
    return render_for(request, "registration/register_sent.html", {})


@never_cache
def register_verify(request: HttpRequest, token: str) -> HttpResponse:
    """The link from the registration mail: choose a password, and the account is ready."""
    registration = registration_token_read(token) if len(token) < 1024 else None
    if registration is None:
        response = render_for(request, "registration/register_invalid.html", {}, status=404)
        response["Referrer-Policy"] = "no-referrer"
        return response
    # The validators compare the password with the name and the address: a new address has no
    # row yet, so they get an unsaved one.
    person = registration.user or User(email=registration.email, name=registration.name)
    person.name = registration.name or person.name
    status = 200
    if request.method == "POST":
        form = RegistrationPasswordForm(person, request.POST)
        status = 400
        if form.is_valid():
            try:
                user = form.save()
            except InvalidInput as refused:
                form.add_error(None, refused.message)
            else:
                login(request, user, backend="django.contrib.auth.backends.ModelBackend")
                messages.success(
                    request, "Your account is ready. Tickets opened earlier with this address are listed here."
                )
                return redirect("portal:tickets")
    else:
        form = RegistrationPasswordForm(person)
    return render_for(
        request, "registration/register_verify.html", {"form": form, "email": registration.email}, status=status
    )


class PasswordResetView(auth_views.PasswordResetView):
    form_class = PasswordResetRequestForm  # type: ignore[assignment]
    success_url = reverse_lazy("portal:password_reset_done")

    def form_valid(self, form: Form) -> HttpResponse:
        email = form.cleaned_data["email"]
        wait = throttle_wait(self.request, LINKS, address=email)
        if wait:
            form.add_error(None, throttle_message(wait))
            return self.render_to_response(self.get_context_data(form=form), status=429)
        account_mail_enqueue(purpose="reset", email=email)
        return redirect(self.success_url)


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    form_class = PortalSetPasswordForm
    post_reset_login = True
    post_reset_login_backend = "django.contrib.auth.backends.ModelBackend"
    success_url = reverse_lazy("portal:tickets")

    def form_valid(self, form: PortalSetPasswordForm) -> HttpResponse:  # type: ignore[override]
        messages.success(self.request, "Your password is changed and you are signed in.")
        return super().form_valid(form)  # type: ignore[no-any-return]


@end_user_required
@never_cache
def profile(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    status = 200
    if request.method == "POST":
        form = ProfileForm(request.POST, user=user)
        status = 400
        if form.is_valid():
            try:
                form.save()
            except InvalidInput as refused:
                form.add_error(refused.field if refused.field in form.fields else None, refused.message)
            else:
                messages.success(request, "Your profile is saved.")
                return redirect("portal:profile")
    else:
        form = ProfileForm(user=user)
    return render_for(request, "portal/profile.html", {"form": form}, status=status)


class PasswordChangeView(auth_views.PasswordChangeView):
    """Changing the password asks for the current one; other sessions of the user end."""

    form_class = PortalPasswordChangeForm
    success_url = reverse_lazy("portal:profile")

    def form_valid(self, form: PortalPasswordChangeForm) -> HttpResponse:  # type: ignore[override]
        messages.success(self.request, "Your password is changed.")
        return super().form_valid(form)  # type: ignore[no-any-return]
