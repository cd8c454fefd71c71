"""SLA configuration through the REST API: /api/v1/schedules/, /api/v1/sla-plans/ (with preview)."""

from rest_framework.routers import SimpleRouter

from sla.api import PlanViewSet, ScheduleViewSet

app_name = "sla_api"

# SimpleRouter: no root view, so that /api/v1/ itself is left to the rest of the API.
router = SimpleRouter()
router.register("schedules", ScheduleViewSet, basename="schedule")
router.register("sla-plans", PlanViewSet, basename="sla-plan")

urlpatterns = router.urls
