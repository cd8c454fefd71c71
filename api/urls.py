"""The REST API (/api/v1/) and the osTicket-compatible intake (/api/tickets.*)."""

from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import SimpleRouter

from api import views, views_intake

app_name = "api"

router = SimpleRouter(trailing_slash=True)
router.register("tickets", views.TicketViewSet, basename="ticket")
router.register("departments", views.DepartmentViewSet, basename="department")
router.register("help-topics", views.HelpTopicViewSet, basename="help-topic")
router.register("priorities", views.PriorityViewSet, basename="priority")
router.register("statuses", views.StatusViewSet, basename="status")
router.register("roles", views.RoleViewSet, basename="role")
router.register("agents", views.AgentViewSet, basename="agent")
router.register("users", views.EndUserViewSet, basename="user")
router.register("webhooks", views.WebhookViewSet, basename="webhook")

v1 = [
    path("auth/token/", views.TokenView.as_view(), name="token"),
    path("me/", views.MeView.as_view(), name="me"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its script from 'self' (the CSP forbids inline scripts).
    path(
        "docs/",
        SpectacularSwaggerSplitView.as_view(url_name="api:schema", template_name="api/swagger_ui.html"),
        name="docs",
    ),
    *router.urls,
    # Anything else under /api/v1/ is a JSON 404, as the API's own 404s are.
    re_path(r"^.*$", views.not_found),
]

urlpatterns = [
    path("v1/", include(v1)),
    # osTicket's routes, with and without its front controller in the path.
    re_path(r"^(?:http\.php/)?tickets\.(?P<data_format>[a-z]+)$", views_intake.tickets, name="intake"),
    re_path(r"^http\.php/(?P<rest>.*)$", views_intake.unsupported),
    re_path(r"^(?P<rest>tasks/.*)$", views_intake.unsupported),
]
