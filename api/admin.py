from django.contrib import admin

from api.models import ApiKey


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["name", "key_prefix", "allowed_addresses", "can_create_tickets", "is_active", "last_used_at"]
    readonly_fields = ["key_prefix", "last_used_at"]
