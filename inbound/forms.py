from __future__ import annotations

from typing import Any

from django import forms

from inbound.models import Mailbox
from notifications.render import PARTS
from tickets.models import Department, HelpTopic


class MailboxForm(forms.ModelForm):
    password = forms.CharField(
        widget=forms.PasswordInput(render_value=False),
        required=False,
        help_text="Leave empty to keep the stored password.",
    )

    class Meta:
        model = Mailbox
        fields = [
            "name",
            "host",
            "port",
            "security",
            "username",
            "password",
            "folder",
            "department",
            "help_topic",
            "priority",
            "after_fetch",
            "move_to_folder",
            "is_active",
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["department"].queryset = Department.objects.filter(is_active=True)  # type: ignore[attr-defined]
        self.fields["help_topic"].queryset = HelpTopic.objects.filter(is_active=True, is_public=True)  # type: ignore[attr-defined]

    def clean_password(self) -> str:
        password: str = self.cleaned_data.get("password") or ""
        if not password and not (self.instance and self.instance.pk):
            raise forms.ValidationError("Give the mailbox's password.")
        return password or (self.instance.password if self.instance else "")

    def clean(self) -> dict[str, Any]:
        data: dict[str, Any] = super().clean() or {}
        if data.get("after_fetch") == "move" and not (data.get("move_to_folder") or "").strip():
            self.add_error("move_to_folder", "Name the folder fetched mail is moved to.")
        if data.get("after_fetch") == "move" and data.get("move_to_folder") == data.get("folder"):
            self.add_error("move_to_folder", "Move fetched mail to another folder than the one fetched.")
        return data


class EmailTemplateForm(forms.Form):
    subject = forms.CharField(max_length=998)
    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 12}), strip=False)
    html = forms.CharField(widget=forms.Textarea(attrs={"rows": 14}), strip=False, label="HTML")

    def sources(self) -> dict[str, str]:
        return {part: self.cleaned_data[part] for part in PARTS}
