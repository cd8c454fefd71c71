from django.contrib.auth import views as auth_views
from django.urls import path

from tickets.views import staff

app_name = "staff"

urlpatterns = [
    path("", staff.home, name="home"),
    path("login/", staff.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(next_page="staff:login"), name="logout"),
    path("tickets/<int:number>/", staff.ticket, name="ticket"),
]
