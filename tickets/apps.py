from django.apps import AppConfig


class TicketsConfig(AppConfig):
    name = "tickets"
    verbose_name = "Tickets"

    def ready(self) -> None:
        from api.models import Webhook
        from helpdesk import config_cache
        from notifications.models import NotificationSetting
        from sla.models import Holiday, Schedule, ScheduleInterval, SLAPlan, SLAPriorityTarget
        from tickets.models import Department, HelpTopic, Priority, Status

        config_cache.connect(
            Department,
            Priority,
            Status,
            HelpTopic,
            SLAPlan,
            SLAPriorityTarget,
            Schedule,
            ScheduleInterval,
            Holiday,
            NotificationSetting,
            Webhook,
        )
