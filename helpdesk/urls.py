from django.contrib import admin
from django.urls import include, path

from helpdesk.health import favicon, healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("favicon.ico", favicon),
    path("django-admin/", admin.site.urls),
    path("staff/admin/mail/", include("inbound.urls")),
    path("staff/admin/api/", include("api.urls_admin")),
    path("staff/admin/", include("adminpanel.urls")),
    path("staff/", include("tickets.urls.staff")),
    path("api/v1/", include("sla.api_urls")),
    path("api/", include("api.urls")),
    path("", include("tickets.urls.portal")),
]
