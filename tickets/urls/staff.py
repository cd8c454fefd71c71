from django.urls import path

from tickets.views.staff import auth, canned, dashboard, lists, ticket

app_name = "staff"

urlpatterns = [
    path("", lists.home, name="home"),
    path("login/", auth.LoginView.as_view(), name="login"),
    path("logout/", auth.LogoutView.as_view(), name="logout"),
    path("password-reset/", auth.PasswordResetView.as_view(), name="password_reset"),
    path("password-reset/sent/", auth.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path("password-reset/<uidb64>/<token>/", auth.PasswordResetConfirmView.as_view(), name="password_reset_confirm"),
    path("password-reset/done/", auth.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
    path("profile/", auth.profile, name="profile"),
    path("profile/password/", auth.password_change, name="password_change"),
    # Queues and lists
    path("queues/<slug:key>/", lists.queue, name="queue"),
    path("queues/<slug:key>/export.csv", lists.queue_export, name="queue_export"),
    path("saved/", lists.saved_queue_save, name="saved_queue_save"),
    path("saved/<int:pk>/", lists.saved_queue, name="saved_queue"),
    path("saved/<int:pk>/export.csv", lists.saved_queue_export, name="saved_queue_export"),
    path("saved/<int:pk>/delete/", lists.saved_queue_remove, name="saved_queue_delete"),
    path("bulk/", lists.bulk, name="bulk"),
    # The ticket page and its actions
    path("tickets/<int:number>/", ticket.ticket, name="ticket"),
    path("tickets/<int:number>/reply/", ticket.reply, name="reply"),
    path("tickets/<int:number>/note/", ticket.note, name="note"),
    path("tickets/<int:number>/assign/", ticket.assign, name="assign"),
    path("tickets/<int:number>/claim/", ticket.claim, name="claim"),
    path("tickets/<int:number>/release/", ticket.release, name="release"),
    path("tickets/<int:number>/transfer/", ticket.transfer, name="transfer"),
    path("tickets/<int:number>/priority/", ticket.priority, name="priority"),
    path("tickets/<int:number>/sla/", ticket.sla_plan, name="sla_plan"),
    path("tickets/<int:number>/topic/", ticket.help_topic, name="help_topic"),
    path("tickets/<int:number>/status/", ticket.status, name="status"),
    path("tickets/<int:number>/due/", ticket.due, name="due"),
    path("tickets/<int:number>/collaborators/", ticket.collaborator_add, name="collaborator_add"),
    path(
        "tickets/<int:number>/collaborators/<int:user_id>/remove/",
        ticket.collaborator_remove,
        name="collaborator_remove",
    ),
    path("tickets/<int:number>/merge/", ticket.merge, name="merge"),
    path("tickets/<int:number>/link/", ticket.link, name="link"),
    path("tickets/<int:number>/lock/", ticket.lock, name="lock"),
    path("tickets/<int:number>/lock/release/", ticket.lock_release, name="lock_release"),
    path("tickets/<int:number>/files/<int:pk>/", ticket.attachment, name="attachment"),
    # Dashboard and canned responses
    path("dashboard/", dashboard.dashboard, name="dashboard"),
    path("dashboard/<slug:table>.csv", dashboard.dashboard_export, name="dashboard_export"),
    path("canned/", canned.canned_list, name="canned_list"),
    path("canned/new/", canned.canned_new, name="canned_new"),
    path("canned/<int:pk>/", canned.canned_edit, name="canned_edit"),
    path("canned/<int:pk>/delete/", canned.canned_remove, name="canned_delete"),
]
