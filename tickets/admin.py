"""The Django admin: the admins' back door. Ticket properties are read-only here: they change
only through the ticket services (the staff panel and the API)."""

from django.contrib import admin

from tickets.models import (
    AccessLink,
    Attachment,
    CannedResponse,
    Department,
    HelpTopic,
    Priority,
    Status,
    ThreadEntry,
    Ticket,
    TicketEvent,
)


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin):
    list_display = ["name", "manager", "default_sla_plan", "auto_response", "is_active"]
    search_fields = ["name"]


@admin.register(Priority)
class PriorityAdmin(admin.ModelAdmin):
    list_display = ["name", "urgency", "is_default"]


@admin.register(Status)
class StatusAdmin(admin.ModelAdmin):
    list_display = ["name", "state", "is_default", "order"]


@admin.register(HelpTopic)
class HelpTopicAdmin(admin.ModelAdmin):
    list_display = ["name", "department", "priority", "sla_plan", "is_public", "is_active"]
    list_filter = ["department", "is_public", "is_active"]


class EntryInline(admin.StackedInline):
    model = ThreadEntry
    extra = 0
    can_delete = False
    fields = ("kind", "author", "author_name", "body", "created_at")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


class EventInline(admin.TabularInline):
    model = TicketEvent
    extra = 0
    can_delete = False
    fields = ("created_at", "kind", "actor", "from_value", "to_value")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    list_display = [
        "number",
        "subject",
        "state",
        "department",
        "priority",
        "assignee",
        "due_at",
        "is_overdue",
        "updated_at",
    ]
    list_filter = ["state", "department", "priority", "source", "is_overdue"]
    search_fields = ["=number", "subject", "requester__email"]
    list_select_related = ["department", "priority", "assignee"]
    readonly_fields = [f.name for f in Ticket._meta.fields] + ["collaborators", "linked"]
    inlines = [EntryInline, EventInline]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False


@admin.register(ThreadEntry)
class ThreadEntryAdmin(admin.ModelAdmin):
    list_display = ["ticket", "kind", "author_name", "created_at"]
    list_filter = ["kind"]
    raw_id_fields = ["ticket", "author"]
    readonly_fields = ["ticket", "kind", "author", "body_html", "message_id", "created_at"]


@admin.register(Attachment)
class AttachmentAdmin(admin.ModelAdmin):
    list_display = ["filename", "content_type", "size", "created_at"]
    raw_id_fields = ["entry"]


@admin.register(CannedResponse)
class CannedResponseAdmin(admin.ModelAdmin):
    list_display = ["title", "department", "owner", "is_active"]


@admin.register(TicketEvent)
class TicketEventAdmin(admin.ModelAdmin):
    list_display = ["ticket", "kind", "actor", "from_value", "to_value", "created_at"]
    list_filter = ["kind"]
    raw_id_fields = ["ticket", "actor", "entry"]

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(AccessLink)
class AccessLinkAdmin(admin.ModelAdmin):
    list_display = ["ticket", "recipient", "created_at", "expires_at", "revoked_at"]
    raw_id_fields = ["ticket", "recipient"]
    readonly_fields = ["token_hash"]
