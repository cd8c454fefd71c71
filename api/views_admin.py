"""Admin pages for the API: keys of the osTicket-compatible intake, and webhooks with their
delivery log and redelivery by hand. Mounted at /staff/admin/api/."""

from __future__ import annotations

from django.contrib import messages
from django.db.models import Count, Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts.models import User
from adminpanel.views import admin_required
from api import services
from api.forms import ApiKeyForm, WebhookForm
from api.models import ApiKey, Webhook, WebhookAttempt, WebhookDelivery

DELIVERIES_SHOWN = 50


@admin_required
def index(request: HttpRequest) -> HttpResponse:
    keys = ApiKey.objects.order_by("name", "id")
    webhooks = Webhook.objects.annotate(delivery_count=Count("deliveries")).order_by("name", "id")
    return render(request, "api/admin_index.html", {"keys": keys, "webhooks": webhooks})


@admin_required
def key_new(request: HttpRequest) -> HttpResponse:
    form = ApiKeyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        api_key, key = services.api_key_create(**form.cleaned_data)
        # Shown on this answer alone: only its hash is kept.
        return render(request, "api/admin_secret.html", {"what": "API key", "name": api_key.name, "secret": key})
    return render(request, "api/admin_form.html", {"form": form, "heading": "New API key"})


@admin_required
def key_edit(request: HttpRequest, key_id: int) -> HttpResponse:
    api_key = get_object_or_404(ApiKey, pk=key_id)
    form = ApiKeyForm(request.POST or None, instance=api_key)
    if request.method == "POST" and form.is_valid():
        services.api_key_update(api_key=api_key, values=form.cleaned_data)
        messages.success(request, f"Saved {api_key.name}.")
        return redirect("api_admin:index")
    return render(
        request, "api/admin_form.html", {"form": form, "heading": f"API key {api_key.key_prefix}…", "object": api_key}
    )


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
