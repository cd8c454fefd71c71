"""The portal's ticket pages: home, opening a ticket, the status check, My tickets, and a
ticket's page with its reply, close and rating forms (signed in, or through a secret link)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from accounts.models import User
from accounts.services import guest_requester_get_or_create
from helpdesk.network import client_ip
from tickets.attachments import files_removed_on_error
from tickets.exceptions import ActionNotAllowed, InvalidInput, InvalidTransition, TicketActionError
from tickets.forms.portal import RateForm, ReplyForm, StatusCheckForm, TicketOpenForm
from tickets.models import EntryKind, HelpTopic, Status, ThreadEntry, Ticket, TicketSource, TicketState
from tickets.permissions import requester_may_write
from tickets.sanitize import entry_html
from tickets.selectors import thread_entries_for_user, ticket_find_for_address, tickets_visible_to
from tickets.services import (
    access_link_send,
    ticket_add_message,
    ticket_close,
    ticket_create,
    ticket_rate,
    ticket_reopenable,
)
from tickets.views.portal.access import (
    Access,
    access_by_link,
    access_signed_in,
    end_user_required,
    render_for,
)
from tickets.views.portal.throttle import LINKS, TICKETS, throttle_message, throttle_wait

# End users read messages and responses; notes and events never reach the portal, whoever
# the person behind a link turns out to be.
PUBLIC_KINDS = (EntryKind.MESSAGE, EntryKind.RESPONSE)
PAGE_SIZE = 20
CLOSED_STATES = (TicketState.RESOLVED, TicketState.CLOSED)
OPENED_KEY = "portal_opened"


def _field_error(form: Any, refused: InvalidInput) -> None:
    form.add_error(refused.field if refused.field in form.fields else None, refused.message)


# ---------------------------------------------------------------- home, open, status


def home(request: HttpRequest) -> HttpResponse:
    topics = HelpTopic.objects.filter(is_active=True, is_public=True).order_by("name")
    return render_for(request, "portal/home.html", {"topics": topics})


def ticket_open(request: HttpRequest) -> HttpResponse:
    user: User | None = request.user if request.user.is_authenticated else None  # type: ignore[assignment]
    status = 200
    if request.method == "POST":
        form = TicketOpenForm(request.POST, request.FILES, user=user)
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            address = user.email if user else data["email"]
            wait = throttle_wait(request, TICKETS, address=address)
            if wait:
                form.add_error(None, throttle_message(wait))
                status = 429
            else:
                try:
                    ticket = _open(request, user, data)
                except InvalidInput as refused:
                    _field_error(form, refused)
                else:
                    request.session[OPENED_KEY] = {
                        "number": ticket.number,
                        "email": ticket.requester.email,
                        "mailed": ticket.department.auto_response,
                    }
                    return redirect("portal:open_done")
    else:
        form = TicketOpenForm(user=user, initial={"help_topic": _topic_from_query(request)})
    return render_for(request, "portal/open.html", {"form": form}, status=status)


def _topic_from_query(request: HttpRequest) -> int | None:
    topic = request.GET.get("topic", "")
    return int(topic) if topic.isdecimal() and len(topic) < 10 else None  # not isdigit: int() refuses "²"


def _open(request: HttpRequest, user: User | None, data: dict[str, Any]) -> Ticket:
    # One transaction: a guest's new user row goes if the ticket cannot be made, and the
    # ticket's files go if the transaction does not commit.
    with files_removed_on_error(), transaction.atomic():
        requester = user or guest_requester_get_or_create(email=data["email"], name=data["name"], phone=data["phone"])
        if not requester.is_active:
            raise InvalidInput("email", "Tickets from this address are not accepted. Contact the help desk.")
        return ticket_create(
            requester=requester,
            actor=user,
            subject=data["subject"],
            body=data["body"],
            help_topic=data.get("help_topic"),
            uploads=data["attachments"],
            source=TicketSource.WEB,
            ip_address=client_ip(request),
        )


def ticket_open_done(request: HttpRequest) -> HttpResponse:
    opened = request.session.get(OPENED_KEY)
    if not isinstance(opened, dict):
        return redirect("portal:home")
    context = {"number": opened.get("number"), "email": opened.get("email", ""), "mailed": opened.get("mailed", True)}
    return render_for(request, "portal/open_done.html", context)


def status_check(request: HttpRequest) -> HttpResponse:
    status = 200
    if request.method == "POST":
        form = StatusCheckForm(request.POST)
        status = 400
        if form.is_valid():
            email, number = form.cleaned_data["email"], form.cleaned_data["number"]
            wait = throttle_wait(request, LINKS, address=email)
            if wait:
                form.add_error(None, throttle_message(wait))
                status = 429
            else:
                found = ticket_find_for_address(email=email, number=number)
                if found is not None:
                    ticket, person = found
                    access_link_send(ticket=ticket, recipient=person)
                # The same answer whether or not the pair exists.
                return redirect("portal:status_sent")
    else:
        form = StatusCheckForm()
    return render_for(request, "portal/status.html", {"form": form}, status=status)


def status_sent(request: HttpRequest) -> HttpResponse:
    return render_for(request, "portal/status_sent.html", {"link_days": settings.TICKET_LINK_DAYS})


# ---------------------------------------------------------------- My tickets


@end_user_required
@never_cache
def ticket_list(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    mine = tickets_visible_to(user)
    shown = request.GET.get("status", "open")
    if shown not in ("open", "closed", "all"):
        shown = "open"
    # No stored text holds a NUL, and PostgreSQL refuses one in a query: it is dropped.
    query = request.GET.get("q", "").replace("\x00", "").strip()[:100]
    tickets = mine
    if shown == "open":
        tickets = tickets.filter(state__in=Status.ACTIVE_STATES)
    elif shown == "closed":
        tickets = tickets.filter(state__in=CLOSED_STATES)
    if query:
        tickets = tickets.filter(_search(query))
    tickets = tickets.select_related("status", "department").order_by("-updated_at", "-id")
    page = Paginator(tickets, PAGE_SIZE).get_page(request.GET.get("page"))
    counts = mine.aggregate(
        open=Count("pk", filter=Q(state__in=Status.ACTIVE_STATES)),
        closed=Count("pk", filter=Q(state__in=CLOSED_STATES)),
        all=Count("pk"),
    )
    context = {"page": page, "shown": shown, "query": query, "counts": counts}
    return render_for(request, "portal/tickets.html", context)


def _search(query: str) -> Q:
    """Number, summary, or the words of the public thread (never a note's)."""
    public_entries = ThreadEntry.objects.filter(ticket=OuterRef("pk"), kind__in=PUBLIC_KINDS, body__icontains=query)
    match = Q(subject__icontains=query) | Q(Exists(public_entries))
    digits = query.lstrip("#")
    if digits.isdecimal() and len(digits) < 19:
        match |= Q(number=int(digits))
    return match


# ---------------------------------------------------------------- a ticket


def ticket_page(
    request: HttpRequest,
    access: Access,
    *,
    reply_form: ReplyForm | None = None,
    rate_form: RateForm | None = None,
    refusal: str = "",
    status: int = 200,
) -> HttpResponse:
    """The ticket's page; `refusal` is why an action was refused (shown at the top, since the
    form that asked may no longer apply: a reply past the reopen window, a second rating)."""
    ticket, person = access.ticket, access.person
    entries = list(thread_entries_for_user(ticket=ticket, user=person).filter(kind__in=PUBLIC_KINDS))
    for entry in entries:
        entry.html = entry_html(entry, access.attachment_url)  # type: ignore[attr-defined]
        entry.links = [(a, access.attachment_url(a.pk)) for a in entry.attachments.all()]  # type: ignore[attr-defined]
    merged = ticket.merged_into_id is not None
    may_write = not merged and (access.is_requester or requester_may_write(person, ticket))
    reopenable = ticket_reopenable(ticket, timezone.now())
    context = {
        "access": access,
        "ticket": ticket,
        "entries": entries,
        "may_reply": may_write and reopenable,
        "past_reopen_window": may_write and not reopenable,
        "may_close": access.is_requester and not merged and ticket.state != TicketState.CLOSED,
        "may_rate": access.is_requester and not ticket.is_active and ticket.rated_at is None,
        "reply_form": reply_form or ReplyForm(),
        "rate_form": rate_form or RateForm(),
        "refusal": refusal,
        "reopen_days": settings.TICKET_REOPEN_DAYS,
    }
    response = render_for(request, "portal/ticket.html", context, person=person, status=status)
    if access.token:
        # The link is the key: keep it out of search engines. The site's same-origin
        # Referrer-Policy already keeps it from other sites; "no-referrer" would not do here,
        # as browsers then post the page's forms with "Origin: null", which CSRF refuses.
        response["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _refusal_status(error: TicketActionError) -> int:
    if isinstance(error, InvalidInput):
        return 400
    if isinstance(error, ActionNotAllowed):
        return 403
    return 409


def _reply(request: HttpRequest, access: Access) -> HttpResponse:
    form = ReplyForm(request.POST, request.FILES)
    if not form.is_valid():
        return ticket_page(request, access, reply_form=form, status=400)
    try:
        ticket_add_message(
            ticket=access.ticket,
            author=access.person,
            body=form.cleaned_data["body"],
            uploads=form.cleaned_data["attachments"],
            source=TicketSource.WEB,
            ip_address=client_ip(request),
        )
    except InvalidInput as refused:
        _field_error(form, refused)
        return ticket_page(request, access, reply_form=form, status=400)
    except (ActionNotAllowed, InvalidTransition) as refused:
        return ticket_page(request, access, reply_form=form, refusal=str(refused), status=_refusal_status(refused))
    messages.success(request, "Your reply was added to the ticket.")
    return redirect(access.url())


def _close(request: HttpRequest, access: Access) -> HttpResponse:
    try:
        ticket_close(ticket=access.ticket, actor=access.person)
    except (ActionNotAllowed, InvalidTransition) as refused:
        return ticket_page(request, access, refusal=str(refused), status=_refusal_status(refused))
    messages.success(request, "Thank you: the ticket is closed. A reply reopens it if the problem comes back.")
    return redirect(access.url())


def _rate(request: HttpRequest, access: Access) -> HttpResponse:
    form = RateForm(request.POST)
    if not form.is_valid():
        return ticket_page(request, access, rate_form=form, status=400)
    try:
        ticket_rate(
            ticket=access.ticket,
            actor=access.person,
            rating=form.cleaned_data["rating"],
            comment=form.cleaned_data["comment"],
        )
    except InvalidInput as refused:
        _field_error(form, refused)
        return ticket_page(request, access, rate_form=form, status=400)
    except (ActionNotAllowed, InvalidTransition) as refused:
        return ticket_page(request, access, rate_form=form, refusal=str(refused), status=_refusal_status(refused))
    messages.success(request, "Thank you for rating the help.")
    return redirect(access.url())


ACTIONS = {"reply": _reply, "close": _close, "rate": _rate}


@end_user_required
@never_cache
def ticket_detail(request: HttpRequest, number: int) -> HttpResponse:
    return ticket_page(request, access_signed_in(request, number))


@end_user_required
@never_cache
@require_POST
def ticket_action(request: HttpRequest, number: int, action: str) -> HttpResponse:
    return ACTIONS[action](request, access_signed_in(request, number))


def _link_access(request: HttpRequest, token: str) -> Access | HttpResponse:
    try:
        return access_by_link(token)
    except Http404:
        response = render_for(request, "portal/link_invalid.html", {"link_days": settings.TICKET_LINK_DAYS}, status=404)
        response["Referrer-Policy"] = "no-referrer"
        return response


@never_cache
def link_detail(request: HttpRequest, token: str) -> HttpResponse:
    access = _link_access(request, token)
    return access if isinstance(access, HttpResponse) else ticket_page(request, access)


@never_cache
@require_POST
def link_action(request: HttpRequest, token: str, action: str) -> HttpResponse:
    access = _link_access(request, token)
    return access if isinstance(access, HttpResponse) else ACTIONS[action](request, access)
