from django.urls import path

from adminpanel import views

app_name = "adminpanel"

urlpatterns = [
    path("", views.home, name="home"),
    path("sla/plans/", views.plans, name="plans"),
    path("sla/plans/new/", views.plan_edit, name="plan_new"),
    path("sla/plans/<int:pk>/", views.plan_edit, name="plan"),
    path("sla/plans/<int:pk>/delete/", views.plan_delete, name="plan_delete"),
    path("sla/plans/<int:pk>/preview/", views.plan_preview, name="plan_preview"),
    path("sla/schedules/", views.schedules, name="schedules"),
    path("sla/schedules/new/", views.schedule_edit, name="schedule_new"),
    path("sla/schedules/<int:pk>/", views.schedule_edit, name="schedule"),
    path("sla/schedules/<int:pk>/delete/", views.schedule_delete, name="schedule_delete"),
    path("sla/compliance/", views.reports, name="reports"),
    path("departments/", views.departments, name="departments"),
    path("departments/new/", views.department_edit, name="department_new"),
    path("departments/<int:pk>/", views.department_edit, name="department"),
    path("help-topics/", views.topics, name="topics"),
    path("help-topics/new/", views.topic_edit, name="topic_new"),
    path("help-topics/<int:pk>/", views.topic_edit, name="topic"),
    path("priorities/", views.priorities, name="priorities"),
    path("priorities/new/", views.priority_edit, name="priority_new"),
    path("priorities/<int:pk>/", views.priority_edit, name="priority"),
    path("statuses/", views.statuses, name="statuses"),
    path("statuses/new/", views.status_edit, name="status_new"),
    path("statuses/<int:pk>/", views.status_edit, name="status"),
    path("agents/", views.agents, name="agents"),
    path("agents/new/", views.agent_edit, name="agent_new"),
    path("agents/<int:pk>/", views.agent_edit, name="agent"),
    path("agents/<int:pk>/active/", views.agent_active, name="agent_active"),
    path("api-keys/", views.api_keys, name="api_keys"),
    path("api-keys/new/", views.api_key_edit, name="api_key_new"),
    path("api-keys/<int:pk>/", views.api_key_edit, name="api_key"),
    path("api-keys/<int:pk>/revoke/", views.api_key_revoke, name="api_key_revoke"),
]
