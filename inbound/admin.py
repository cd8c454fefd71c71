from django.contrib import admin

from inbound.models import InboundMessage, Mailbox


@admin.register(Mailbox)
class MailboxAdmin(admin.ModelAdmin):
    list_display = ["name", "host", "username", "department", "is_active", "last_success_at", "consecutive_failures"]
    exclude = ["password"]
    readonly_fields = [
        "last_fetch_at",
        "last_success_at",
        "last_error",
        "last_error_at",
        "consecutive_failures",
        "backlog",
    ]


@admin.register(InboundMessage)
class InboundMessageAdmin(admin.ModelAdmin):
    list_display = ["received_at", "from_address", "subject", "outcome", "ticket"]
    list_filter = ["outcome", "via"]
    search_fields = ["message_id", "from_address", "subject"]
    raw_id_fields = ["ticket", "entry", "mailbox", "handled_by"]
    exclude = ["raw"]
