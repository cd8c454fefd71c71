from __future__ import annotations

from django import forms
from django.contrib.auth.forms import AuthenticationForm

from accounts.models import User


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
