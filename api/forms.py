"""Forms of the admin pages for API keys and webhooks."""

from __future__ import annotations

from django import forms

from api.models import ApiKey, Webhook, WebhookEvent


class ApiKeyForm(forms.ModelForm):
    class Meta:
        model = ApiKey
        fields = ["name", "allowed_addresses", "can_create_tickets", "is_active", "notes"]
        widgets = {
            "allowed_addresses": forms.Textarea(attrs={"rows": 2, "placeholder": "192.0.2.10, 10.0.0.0/8"}),
            "notes": forms.Textarea(attrs={"rows": 2}),
        }


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
