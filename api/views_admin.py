"""Admin pages for webhooks, with their delivery log and redelivery by hand. Mounted at
/staff/admin/api/; the intake's API keys are on the admin pages (adminpanel)."""

from __future__ import annotations

from django.contrib import messages
from django.db.models import Count, Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts.models import User
from adminpanel.views import admin_required
from api import services
from api.forms import WebhookForm
from api.models import Webhook, WebhookAttempt, WebhookDelivery

DELIVERIES_SHOWN = 50


@admin_required
def index(request: HttpRequest) -> HttpResponse:
    webhooks = Webhook.objects.annotate(delivery_count=Count("deliveries")).order_by("name", "id")
    return render(request, "api/admin_index.html", {"webhooks": webhooks})


@admin_required
def webhook_new(request: HttpRequest) -> HttpResponse:
    form = WebhookForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        actor: User = request.user  # type: ignore[assignment]
        webhook = services.webhook_create(
            name=form.cleaned_data["name"],
            url=form.cleaned_data["url"],
            events=list(form.cleaned_data["events"]),
            is_active=form.cleaned_data["is_active"],
            actor=actor,
        )
        return render(
            request, "api/admin_secret.html", {"what": "webhook secret", "name": webhook.name, "secret": webhook.secret}
        )
    return render(request, "api/admin_form.html", {"form": form, "heading": "New webhook"})


@admin_required
def webhook_detail(request: HttpRequest, webhook_id: int) -> HttpResponse:
    webhook = get_object_or_404(Webhook, pk=webhook_id)
    form = WebhookForm(request.POST or None, instance=webhook)
    if request.method == "POST" and form.is_valid():
        values = {k: form.cleaned_data[k] for k in ("name", "url", "is_active")}
        values["events"] = list(form.cleaned_data["events"])
        rotate = form.cleaned_data["rotate_secret"]
        webhook = services.webhook_update(webhook=webhook, values=values, rotate_secret=rotate)
        if rotate:
            return render(
                request,
                "api/admin_secret.html",
                {"what": "webhook secret", "name": webhook.name, "secret": webhook.secret},
            )
        messages.success(request, f"Saved {webhook.name}.")
        return redirect("api_admin:webhook", webhook_id=webhook.pk)
    deliveries = (
        WebhookDelivery.objects.filter(webhook=webhook)
        .prefetch_related(Prefetch("attempt_log", queryset=WebhookAttempt.objects.order_by("-attempted_at", "-id")))
        .order_by("-created_at", "-id")[:DELIVERIES_SHOWN]
    )
    return render(request, "api/admin_webhook.html", {"webhook": webhook, "form": form, "deliveries": deliveries})


@admin_required
@require_POST
def webhook_delete(request: HttpRequest, webhook_id: int) -> HttpResponse:
    webhook = get_object_or_404(Webhook, pk=webhook_id)
    services.webhook_delete(webhook=webhook)
    messages.success(request, f"Deleted the webhook {webhook.name}.")
    return redirect("api_admin:index")


@admin_required
@require_POST
def delivery_redeliver(request: HttpRequest, webhook_id: int, delivery_id: int) -> HttpResponse:
    delivery = get_object_or_404(WebhookDelivery, pk=delivery_id, webhook_id=webhook_id)
    services.webhook_delivery_redeliver(delivery=delivery)
    messages.success(request, f"Queued {delivery.event_type} again.")
    return redirect("api_admin:webhook", webhook_id=webhook_id)
