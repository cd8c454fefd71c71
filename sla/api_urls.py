"""SLA configuration through the REST API: /api/v1/schedules/, /api/v1/sla-plans/ (with preview)."""

app_name = "sla_api"

urlpatterns: list = []
