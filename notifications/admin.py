from django.contrib import admin

from notifications.models import Notification


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["kind", "recipient_email", "ticket", "state", "attempts", "created_at", "sent_at"]
    list_filter = ["state", "kind"]
    search_fields = ["recipient_email"]
    raw_id_fields = ["ticket", "event", "recipient"]
    readonly_fields = ["last_error", "message_id", "claimed_at", "sent_at"]
    exclude = ["context"]
