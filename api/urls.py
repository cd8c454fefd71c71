"""The REST API (/api/v1/) and the osTicket-compatible intake (/api/tickets.*)."""

app_name = "api"

urlpatterns: list = []
