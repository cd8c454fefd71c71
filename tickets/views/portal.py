"""The client portal: where end users open, follow, answer and close their tickets."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.forms import EmailAuthenticationForm
from tickets.models import HelpTopic


def home(request: HttpRequest) -> HttpResponse:
    topics = HelpTopic.objects.filter(is_active=True, is_public=True).order_by("name")
    return render(request, "portal/home.html", {"topics": topics})


class LoginView(auth_views.LoginView):
    form_class = EmailAuthenticationForm
    redirect_authenticated_user = True
