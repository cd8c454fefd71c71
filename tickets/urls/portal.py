from django.contrib.auth import views as auth_views
from django.urls import path

from tickets.views import files
from tickets.views.portal import account, tickets

app_name = "portal"

urlpatterns = [
    path("", tickets.home, name="home"),
    path("open/", tickets.ticket_open, name="open"),
    path("open/done/", tickets.ticket_open_done, name="open_done"),
    path("status/", tickets.status_check, name="status"),
    path("status/sent/", tickets.status_sent, name="status_sent"),
    # Signed in: the user's tickets.
    path("tickets/", tickets.ticket_list, name="tickets"),
    path("tickets/<int:number>/", tickets.ticket_detail, name="ticket"),
    path("tickets/<int:number>/reply/", tickets.ticket_action, {"action": "reply"}, name="ticket_reply"),
    path("tickets/<int:number>/close/", tickets.ticket_action, {"action": "close"}, name="ticket_close"),
    path("tickets/<int:number>/rate/", tickets.ticket_action, {"action": "rate"}, name="ticket_rate"),
    # A secret link from a mail: the same pages, for the link's recipient, without signing in.
    path("t/<str:token>/", tickets.link_detail, name="link"),
    path("t/<str:token>/reply/", tickets.link_action, {"action": "reply"}, name="link_reply"),
    path("t/<str:token>/close/", tickets.link_action, {"action": "close"}, name="link_close"),
    path("t/<str:token>/rate/", tickets.link_action, {"action": "rate"}, name="link_rate"),
    path("t/<str:token>/attachments/<int:pk>/", files.attachment_download, name="link_attachment"),
    # Downloads for the signed-in, in the portal and the staff panel.
    path("attachments/<int:pk>/", files.attachment_download, name="attachment"),
    # Accounts.
    path("login/", account.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(next_page="portal:home"), name="logout"),
    path("register/", account.register, name="register"),
    path("register/sent/", account.register_sent, name="register_sent"),
    path("register/<str:token>/", account.register_verify, name="register_verify"),
    path("password/reset/", account.PasswordResetView.as_view(), name="password_reset"),
    path(
        "password/reset/sent/",
        auth_views.PasswordResetDoneView.as_view(template_name="registration/password_reset_done.html"),
        name="password_reset_done",
    ),
    path("password/reset/<uidb64>/<token>/", account.PasswordResetConfirmView.as_view(), name="password_reset_confirm"),
    path("account/", account.profile, name="profile"),
    path("account/password/", account.PasswordChangeView.as_view(), name="password_change"),
]
