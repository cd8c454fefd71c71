from django.contrib.auth import views as auth_views
from django.urls import path

from tickets.views import portal

app_name = "portal"

urlpatterns = [
    path("", portal.home, name="home"),
    path("login/", portal.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(next_page="portal:home"), name="logout"),
]
