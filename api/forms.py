"""Forms of the admin pages for webhooks."""

from __future__ import annotations

from django import forms

from api.models import Webhook, WebhookEvent


class WebhookForm(forms.ModelForm):
    url = forms.URLField(label="URL", max_length=500, assume_scheme="https")
    events = forms.MultipleChoiceField(
        choices=WebhookEvent.choices, widget=forms.CheckboxSelectMultiple, help_text="What the endpoint hears of."
    )
    rotate_secret = forms.BooleanField(
        required=False, help_text="Make a new signing secret (shown once); the old one stops at once."
    )

    class Meta:
        model = Webhook
        fields = ["name", "url", "events", "is_active"]
