"""Admin pages for mail: mailboxes, messages that could not be processed, the outbox."""

from django.urls import path

from inbound import views

app_name = "mail"

urlpatterns = [
    path("", views.home, name="home"),
    path("mailboxes/new/", views.mailbox_edit, name="mailbox_new"),
    path("mailboxes/<int:pk>/", views.mailbox_edit, name="mailbox"),
    path("mailboxes/<int:pk>/fetch/", views.mailbox_fetch_now, name="mailbox_fetch"),
    path("messages/", views.message_list, name="messages"),
    path("messages/<int:pk>/", views.message_detail, name="message"),
    path("messages/<int:pk>/<str:action>/", views.message_action, name="message_action"),
    path("outbox/", views.outbox, name="outbox"),
    path("outbox/<int:pk>/retry/", views.outbox_retry, name="outbox_retry"),
    path("notifications/", views.notification_settings, name="settings"),
    path("templates/", views.template_list, name="templates"),
    path("templates/<str:kind>/", views.template_edit, name="template"),
]
