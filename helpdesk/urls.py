from django.contrib import admin
from django.urls import include, path

from helpdesk.health import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("django-admin/", admin.site.urls),
    path("staff/", include("tickets.urls.staff")),
    path("", include("tickets.urls.portal")),
]
