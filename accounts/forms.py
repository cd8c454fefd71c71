from __future__ import annotations

from typing import Any
from zoneinfo import available_timezones

from django import forms
from django.contrib.auth.forms import AuthenticationForm, PasswordChangeForm, SetPasswordForm

from accounts.models import User, UserManager
from accounts.services import end_user_register, user_password_set, user_profile_update
from tickets.sanitize import single_line


class EmailAuthenticationForm(AuthenticationForm):
    """Sign in by email. The error never says whether the address exists."""

    username = forms.EmailField(
        label="Email", widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"})
    )


class AgentAuthenticationForm(EmailAuthenticationForm):
    """The staff panel's sign-in: end users are told the same as for a wrong password."""

    def confirm_login_allowed(self, user: User) -> None:  # type: ignore[override]
        super().confirm_login_allowed(user)
        if not user.is_agent:
            raise self.get_invalid_login_error()


class RegisterForm(forms.Form):
    """The first step of registering: who, and where to send the link that proves the address."""

    name = forms.CharField(label="Your name", max_length=128, widget=forms.TextInput(attrs={"autocomplete": "name"}))
    email = forms.EmailField(
        label="Email address",
        max_length=254,
        help_text="Use the address you open tickets with: they will all be in your account.",
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )

    def clean_name(self) -> str:
        name = single_line(self.cleaned_data["name"], 128)
        if not name:
            raise forms.ValidationError("Enter your name.")
        return name

    def clean_email(self) -> str:
        return UserManager.normalize_email(self.cleaned_data["email"])


class RegistrationPasswordForm(SetPasswordForm):  # type: ignore[type-arg]
    """The second step, from the link: choose a password. `user` is the guest row, or an unsaved
    User for a new address (the password validators compare the password with its name and address)."""

    def save(self, commit: bool = True) -> User:
        return end_user_register(
            email=self.user.email, name=self.user.name, password=self.cleaned_data["new_password1"]
        )


class PasswordResetRequestForm(forms.Form):
    email = forms.EmailField(
        label="Email address", max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )

    def clean_email(self) -> str:
        return UserManager.normalize_email(self.cleaned_data["email"])


class PortalSetPasswordForm(SetPasswordForm):  # type: ignore[type-arg]
    """A new password from a reset link: the link came by mail, so the address is verified too."""

    def save(self, commit: bool = True) -> User:
        return user_password_set(user=self.user, password=self.cleaned_data["new_password1"], address_verified=True)


class PortalPasswordChangeForm(PasswordChangeForm):  # type: ignore[type-arg]
    def save(self, commit: bool = True) -> User:
        return user_password_set(user=self.user, password=self.cleaned_data["new_password1"])


def _time_zone_choices() -> list[tuple[str, str]]:
    return [("", "The help desk's time zone"), *((z, z.replace("_", " ")) for z in sorted(available_timezones()))]


class ProfileForm(forms.Form):
    name = forms.CharField(label="Name", max_length=128, widget=forms.TextInput(attrs={"autocomplete": "name"}))
    phone = forms.CharField(
        label="Phone", max_length=32, required=False, widget=forms.TextInput(attrs={"autocomplete": "tel"})
    )
    time_zone = forms.ChoiceField(
        label="Time zone",
        required=False,
        choices=_time_zone_choices,
        help_text="Dates on your tickets are shown in it.",
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {"name": user.name, "phone": user.phone, "time_zone": user.time_zone})
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_name(self) -> str:
        name = single_line(self.cleaned_data["name"], 128)
        if not name:
            raise forms.ValidationError("Enter your name.")
        return name

    def save(self) -> User:
        return user_profile_update(
            user=self.user,
            name=self.cleaned_data["name"],
            phone=self.cleaned_data["phone"],
            time_zone=self.cleaned_data["time_zone"],
        )
