import secrets
from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest

from api.models import ApiKey, ApiToken, Webhook, WebhookDelivery


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["name", "key_prefix", "allowed_addresses", "can_create_tickets", "is_active", "last_used_at"]
    readonly_fields = ["key_prefix", "created_at", "last_used_at"]

    def save_model(self, request: HttpRequest, obj: ApiKey, form: Any, change: bool) -> None:
        if not change:
            # Only the hash is kept: the key is shown this once.
            key = secrets.token_hex(16).upper()
            obj.set_key(key)
            messages.warning(request, f"The new key is {key} — copy it now, it is not shown again.")
        super().save_model(request, obj, form, change)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["key_prefix", "user", "created_at", "last_used_at"]
    readonly_fields = ["key_prefix", "user", "created_at", "last_used_at"]
    search_fields = ["user__email"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # tokens are issued by signing in (POST /api/v1/auth/token/)


@admin.register(Webhook)
class WebhookAdmin(admin.ModelAdmin):
    list_display = ["name", "url", "is_active", "created_at"]
    exclude = ["secret"]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ["event_type", "webhook", "state", "attempts", "last_status_code", "created_at"]
    list_filter = ["state", "event_type"]
    raw_id_fields = ["webhook", "ticket_event", "redelivery_of"]
    readonly_fields = ["uuid", "payload", "attempts", "last_status_code", "last_error", "delivered_at", "claimed_at"]
