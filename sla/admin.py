from django.contrib import admin

from sla.models import Holiday, Schedule, ScheduleInterval, SLAPlan, SLAPriorityTarget, TicketClock


class IntervalInline(admin.TabularInline):
    model = ScheduleInterval
    extra = 0


class HolidayInline(admin.TabularInline):
    model = Holiday
    extra = 0


@admin.register(Schedule)
class ScheduleAdmin(admin.ModelAdmin):
    list_display = ["name", "timezone"]
    inlines = [IntervalInline, HolidayInline]


class PriorityTargetInline(admin.TabularInline):
    model = SLAPriorityTarget
    extra = 0


@admin.register(SLAPlan)
class SLAPlanAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "schedule",
        "first_response_minutes",
        "resolution_minutes",
        "next_response_minutes",
        "is_default",
        "is_active",
    ]
    filter_horizontal = ["pause_statuses"]
    inlines = [PriorityTargetInline]


@admin.register(TicketClock)
class TicketClockAdmin(admin.ModelAdmin):
    list_display = ["ticket", "target", "state", "due_at", "warned_at", "breached_at", "met_at"]
    list_filter = ["target", "state"]
    raw_id_fields = ["ticket"]
