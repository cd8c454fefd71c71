"""The mail admin pages: mailboxes, held and rejected mail, the outbox, notices and templates."""

from __future__ import annotations

import re
from email import message_from_bytes, policy

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template import TemplateSyntaxError
from django.views.decorators.http import require_POST

from adminpanel.views import admin_required
from inbound import selectors
from inbound.forms import EmailTemplateForm, MailboxForm
from inbound.models import InboundMessage, Mailbox
from inbound.services import (
    inbound_message_discard,
    inbound_message_open_ticket,
    inbound_message_retry,
    mailbox_save,
)
from notifications.models import EmailTemplate, NotificationKind, NotificationSetting
from notifications.render import email_render_source, email_sample_context, email_template_defaults
from notifications.services import (
    email_template_reset,
    email_template_save,
    notification_retry,
    notification_setting_set,
)
from tickets.exceptions import InvalidInput, TicketActionError
from tickets.models import Department
from tickets.sanitize import clean_html

PAGE = 50


@admin_required
def home(request: HttpRequest) -> HttpResponse:
    context = {"mailboxes": selectors.mailboxes_for_admin(), "counts": selectors.mail_counts()}
    return render(request, "inbound/home.html", context)


@admin_required
def mailbox_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    mailbox = get_object_or_404(Mailbox, pk=pk) if pk is not None else None
    form = MailboxForm(request.POST or None, instance=mailbox)
    if request.method == "POST" and form.is_valid():
        try:
            saved = mailbox_save(mailbox=form.save(commit=False), actor=request.user)  # type: ignore[arg-type]
        except InvalidInput as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(request, f"Mailbox {saved.name} saved.")
            return redirect("mail:home")
    return render(request, "inbound/mailbox_form.html", {"form": form, "mailbox": mailbox})


@admin_required
@require_POST
def mailbox_fetch_now(request: HttpRequest, pk: int) -> HttpResponse:
    from inbound.tasks import fetch_mailbox

    mailbox = get_object_or_404(Mailbox, pk=pk)
    fetch_mailbox.delay(mailbox.pk)
    messages.success(request, f"Fetching {mailbox.name} now.")
    return redirect("mail:home")


@admin_required
def message_list(request: HttpRequest) -> HttpResponse:
    outcome = request.GET.get("outcome") or None
    rows = selectors.inbound_messages_for_admin(outcome=outcome)[:PAGE]
    return render(request, "inbound/message_list.html", {"rows": rows, "outcome": outcome})


@admin_required
def message_detail(request: HttpRequest, pk: int) -> HttpResponse:
    record = get_object_or_404(InboundMessage.objects.select_related("ticket", "mailbox", "entry"), pk=pk)
    raw = bytes(record.raw)
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0][:65536].decode("utf-8", "replace")
    try:
        parsed = message_from_bytes(raw, policy=policy.default)
        body = parsed.get_body(preferencelist=("plain", "html"))  # type: ignore[attr-defined]
        preview = body.get_content()[:20000] if body is not None else ""
    except Exception:
        preview = raw[len(head) :][:20000].decode("utf-8", "replace")
    return render(request, "inbound/message_detail.html", {"record": record, "headers": head, "preview": preview})


ACTIONS = {"retry": inbound_message_retry, "open": inbound_message_open_ticket}


@admin_required
@require_POST
def message_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    record = get_object_or_404(InboundMessage, pk=pk)
    try:
        if action == "discard":
            inbound_message_discard(message=record, actor=request.user)  # type: ignore[arg-type]
            messages.success(request, "Message discarded.")
        elif action in ACTIONS:
            result = ACTIONS[action](message=record, actor=request.user)  # type: ignore[arg-type]
            messages.info(request, f"{result.outcome.capitalize()}: {result.reason}")
        else:
            raise Http404
    except TicketActionError as exc:
        messages.error(request, str(exc))
    return redirect("mail:message", pk=record.pk)


@admin_required
def outbox(request: HttpRequest) -> HttpResponse:
    state = request.GET.get("state") or "failed"
    rows = selectors.outbox_for_admin(state=state)[:PAGE]
    return render(request, "inbound/outbox.html", {"rows": rows, "state": state})


@admin_required
@require_POST
def outbox_retry(request: HttpRequest, pk: int) -> HttpResponse:
    from notifications.models import Notification

    row = get_object_or_404(Notification, pk=pk)
    try:
        notification_retry(notification=row, actor=request.user)  # type: ignore[arg-type]
        messages.success(request, f"Sending again to {row.recipient_email}.")
    except TicketActionError as exc:
        messages.error(request, str(exc))
    return redirect("mail:outbox")


@admin_required
def notification_settings(request: HttpRequest) -> HttpResponse:
    departments = list(Department.objects.filter(is_active=True).order_by("name"))
    off = {(s.kind, s.department_id) for s in NotificationSetting.objects.filter(enabled=False)}
    columns: list[int | None] = [None, *[d.pk for d in departments]]
    if request.method == "POST":
        for kind in NotificationKind.values:
            for department_id in columns:
                wanted = f"{kind}:{department_id or 'all'}" in request.POST
                if wanted != ((kind, department_id) not in off):
                    department = next((d for d in departments if d.pk == department_id), None)
                    notification_setting_set(
                        actor=request.user,  # type: ignore[arg-type]
                        kind=kind,
                        department=department,
                        enabled=wanted,
                    )
        messages.success(request, "Notifications saved.")
        return redirect("mail:settings")
    rows = [
        (
            kind,
            label,
            [(f"{kind}:{d or 'all'}", (kind, d) not in off) for d in columns],
        )
        for kind, label in NotificationKind.choices
    ]
    return render(request, "inbound/settings.html", {"departments": departments, "rows": rows})


@admin_required
def template_list(request: HttpRequest) -> HttpResponse:
    edited = dict(EmailTemplate.objects.values_list("kind", "updated_at"))
    rows = [(kind, label, edited.get(kind)) for kind, label in NotificationKind.choices]
    return render(request, "inbound/template_list.html", {"rows": rows})


@admin_required
def template_edit(request: HttpRequest, kind: str) -> HttpResponse:
    if kind not in NotificationKind.values:
        raise Http404
    stored = EmailTemplate.objects.filter(kind=kind).first()
    initial = (
        {"subject": stored.subject, "text": stored.text, "html": stored.html}
        if stored
        else email_template_defaults(kind)
    )
    form = EmailTemplateForm(request.POST or None, initial=initial)
    preview = None
    if request.method == "POST" and "reset" in request.POST:
        email_template_reset(actor=request.user, kind=kind)  # type: ignore[arg-type]
        messages.success(request, "Back to the default template.")
        return redirect("mail:template", kind=kind)
    if request.method == "POST" and form.is_valid():
        if "preview" in request.POST:
            try:
                rendered = email_render_source(form.sources(), email_sample_context(kind))
                # The <head> (its <title>) is not part of what a reader sees.
                body_html = re.sub(r"<head\b.*?</head>", "", rendered.html, flags=re.IGNORECASE | re.DOTALL)
                preview = {"subject": rendered.subject, "text": rendered.text, "html": clean_html(body_html)}
            except TemplateSyntaxError as exc:
                part = str(exc).split(":", 1)[0]
                form.add_error(part if part in form.fields else None, str(exc))
            except Exception as exc:
                form.add_error(None, f"The template does not render: {exc}")
        else:
            try:
                email_template_save(actor=request.user, kind=kind, **form.sources())  # type: ignore[arg-type]
            except InvalidInput as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                messages.success(request, "Template saved.")
                return redirect("mail:template", kind=kind)
    label = NotificationKind(kind).label
    context = {"form": form, "kind": kind, "label": label, "preview": preview, "stored": stored}
    return render(request, "inbound/template_form.html", context)
