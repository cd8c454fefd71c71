"""Admin pages for webhooks, mounted at /staff/admin/api/."""

from django.urls import path

from api import views_admin

app_name = "api_admin"

urlpatterns = [
    path("", views_admin.index, name="index"),
    path("webhooks/new/", views_admin.webhook_new, name="webhook_new"),
    path("webhooks/<int:webhook_id>/", views_admin.webhook_detail, name="webhook"),
    path("webhooks/<int:webhook_id>/delete/", views_admin.webhook_delete, name="webhook_delete"),
    path(
        "webhooks/<int:webhook_id>/deliveries/<int:delivery_id>/redeliver/",
        views_admin.delivery_redeliver,
        name="redeliver",
    ),
]
