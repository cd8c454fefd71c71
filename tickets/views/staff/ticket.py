"""The ticket page and its actions.

Every action is a POST that goes through one service of tickets/services.py; the property
forms carry the ticket's version, so an edit made on a page loaded before someone else's
change is refused and the page shows what changed. A refused action re-renders the page with
the error beside the field (400, or 409 for a conflict); a permission refusal is a 403, and a
ticket the agent may not see is a 404.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django import forms
from django.contrib import messages
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.models import Perm, User
from accounts.services import end_user_get_or_create
from sla.models import TicketClock
from tickets import services
from tickets.canned import canned_expand, canned_responses_for_agent
from tickets.choices import ReferenceData, reference_data
from tickets.exceptions import ActionNotAllowed, InvalidInput, InvalidTransition, StaleTicket
from tickets.forms.staff import (
    AssignForm,
    CollaboratorForm,
    DueForm,
    HelpTopicForm,
    NoteForm,
    PriorityForm,
    ReplyForm,
    SLAPlanForm,
    StatusForm,
    TicketNumberForm,
    TransferForm,
    form_error_from,
)
from tickets.locks import ticket_lock_acquire, ticket_lock_release, ticket_lock_state
from tickets.models import (
    Attachment,
    CannedResponse,
    EntryKind,
    EventKind,
    ThreadEntry,
    Ticket,
    TicketEvent,
    TicketLock,
)
from tickets.permissions import ticket_allows
from tickets.sanitize import entry_html
from tickets.selectors import (
    thread_entries_for_user,
    ticket_events_for_agent,
    ticket_get_for_user,
    tickets_visible_to,
)
from tickets.views.files import attachment_response
from tickets.views.staff.base import agent, agent_required, forbidden

# Events that a thread entry already shows.
SHOWN_AS_ENTRIES = {EventKind.MESSAGE, EventKind.RESPONSE, EventKind.NOTE}


def _when(value: object) -> str:
    """An ISO instant from an event's data, in the agent's time zone."""
    try:
        instant = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value or "")
    return f"{timezone.localtime(instant):%Y-%m-%d %H:%M %Z}" if timezone.is_aware(instant) else str(value)


def event_text(event: TicketEvent) -> str:
    """One line saying what an event did, for the thread."""
    kind, old, new, data = event.kind, event.from_value, event.to_value, event.data or {}
    if kind == EventKind.CREATED:
        return f"Created in {new} (via {data.get('source', 'web')})"
    if kind == EventKind.ASSIGNED:
        return f"Assigned to {new}" + (f" (was {old})" if old else "") if new else f"Unassigned (was {old})"
    if kind == EventKind.TRANSFERRED:
        return f"Transferred from {old} to {new}"
    if kind == EventKind.RATED:
        return f"Rated the help {new} out of 5" + (f": “{data['comment']}”" if data.get("comment") else "")
    if kind == EventKind.DUE_OVERRIDDEN:
        return f"Due date set to {_when(new)}" + (f" (was {_when(old)})" if old else "") + f": {data.get('reason', '')}"
    if kind in (EventKind.OVERDUE, EventKind.SLA_WARNING, EventKind.SLA_MET, EventKind.SLA_STARTED,
                EventKind.SLA_PAUSED, EventKind.SLA_RESUMED, EventKind.SLA_RETARGETED):  # fmt: skip
        text = f"{event.get_kind_display()}: {new}"
        if kind == EventKind.SLA_MET and data.get("late"):
            text += " (late)"
        elif data.get("due_at") and kind != EventKind.SLA_MET:
            text += f", due {_when(data['due_at'])}"
        return text
    if old or new:
        return f"{event.get_kind_display()}: {old or '—'} → {new or '—'}"
    return str(event.get_kind_display())


def _ticket(request: HttpRequest, number: int) -> Ticket:
    return ticket_get_for_user(user=agent(request), number=number)


def _canned(me: User, ticket: Ticket) -> list[CannedResponse]:
    return list(canned_responses_for_agent(user=me, department_id=ticket.department_id).filter(is_active=True))


def _form(
    panel: str,
    ticket: Ticket,
    ref: ReferenceData,
    canned: list[CannedResponse] | None = None,
    data: Any = None,
    files: Any = None,
    initial: dict[str, Any] | None = None,
) -> forms.Form:
    # Each form has its panel's name as prefix: field names and ids stay unique on the page.
    version = {"version": ticket.version}
    if panel == "reply":
        return ReplyForm(data, files, ref=ref, canned=canned or [], ticket=ticket, initial=initial, prefix=panel)
    if panel == "note":
        return NoteForm(data, files, prefix=panel)
    if panel == "assign":
        return AssignForm(
            data,
            ref=ref,
            department_id=ticket.department_id,
            initial={"assignee": ticket.assignee_id, **version},
            prefix=panel,
        )
    if panel == "transfer":
        return TransferForm(data, ref=ref, department_id=ticket.department_id, initial=version, prefix=panel)
    if panel == "priority":
        return PriorityForm(data, ref=ref, initial={"priority": ticket.priority_id, **version}, prefix=panel)
    if panel == "sla":
        return SLAPlanForm(data, ref=ref, initial={"sla_plan": ticket.sla_plan_id, **version}, prefix=panel)
    if panel == "topic":
        return HelpTopicForm(data, ref=ref, initial={"help_topic": ticket.help_topic_id, **version}, prefix=panel)
    if panel == "status":
        return StatusForm(data, ref=ref, initial={"status": ticket.status_id, **version}, prefix=panel)
    if panel == "due":
        due = timezone.localtime(ticket.due_at) if ticket.due_at else None
        return DueForm(data, initial={"due_at": due, **version}, prefix=panel)
    if panel == "collaborators":
        return CollaboratorForm(data, prefix="cc")
    if panel in ("merge", "link"):
        return TicketNumberForm(data, prefix=panel)
    raise Http404


def _lock_state(ticket: Ticket, me: User) -> Any:
    """The reply lock as the page shows it, from the ticket's query when it read the lock."""
    if "lock" not in ticket._state.fields_cache:
        return ticket_lock_state(ticket=ticket, agent=me)
    try:
        lock = ticket.lock
    except TicketLock.DoesNotExist:
        lock = None
    return ticket_lock_state(ticket=ticket, agent=me, lock=lock, free=lock is None)


PANELS = ("reply", "note", "assign", "transfer", "priority", "sla", "topic", "status", "due", "collaborators")


def _page(
    request: HttpRequest,
    ticket: Ticket,
    *,
    ref: ReferenceData | None = None,
    canned: list[CannedResponse] | None = None,
    bound: dict[str, forms.Form] | None = None,
    status: int = 200,
    unseen: set[int] | None = None,
) -> HttpResponse:
    """The ticket page: a fixed number of queries however long its thread."""
    me = agent(request)
    ref = ref or reference_data()
    canned = canned if canned is not None else _canned(me, ticket)
    entries = list(thread_entries_for_user(ticket=ticket, user=me))
    for entry in entries:
        entry.html = entry_html(  # type: ignore[attr-defined]
            entry, lambda pk: reverse("staff:attachment", kwargs={"number": ticket.number, "pk": pk})
        )
    events = [e for e in ticket_events_for_agent(ticket=ticket) if e.kind not in SHOWN_AS_ENTRIES]
    for event in events:
        event.text = event_text(event)  # type: ignore[attr-defined]
    timeline: list[tuple[str, Any]] = sorted(
        [("entry", e) for e in entries] + [("event", e) for e in events],
        key=lambda item: (item[1].created_at, item[0] == "event", item[1].pk),
    )
    last_seen = max((e.pk for e in entries), default=0)
    reply_initial = {"version": ticket.version, "seen": last_seen, "signature": bool(me.signature)}
    panels = {name: _form(name, ticket, ref, canned, initial=reply_initial) for name in PANELS}
    panels["merge"] = _form("merge", ticket, ref)
    panels["link"] = _form("link", ticket, ref)
    panels.update(bound or {})
    # Linked and merged-in tickets in one query, found through the link table's and the
    # merged_into column's indexes (an OR across the join would read every ticket).
    linked_ids = Ticket.linked.through.objects.filter(from_ticket_id=ticket.pk).order_by().values("to_ticket_id")
    merged_ids = Ticket.objects.filter(merged_into_id=ticket.pk).order_by().values("pk")
    related = list(
        tickets_visible_to(me)
        .filter(pk__in=linked_ids.union(merged_ids))
        .select_related("status")
        .order_by("-created_at")
    )
    can = {perm.value: ticket_allows(me, perm, ticket) for perm in Perm}
    transfer_form = panels["transfer"]
    context = {
        "ticket": ticket,
        "timeline": timeline,
        "clocks": list(TicketClock.objects.filter(ticket=ticket).order_by("target")),
        "others": list(
            tickets_visible_to(me)
            .filter(requester_id=ticket.requester_id)
            .exclude(pk=ticket.pk)
            .select_related("status")
            .order_by("-created_at")[:10]
        ),
        "collaborators": list(ticket.collaborators.all()),
        "linked": [t for t in related if t.merged_into_id != ticket.pk],
        "merged_here": [t for t in related if t.merged_into_id == ticket.pk],
        "lock": _lock_state(ticket, me),
        "forms": panels,
        "open_panels": set(bound or {}),
        "can": can,
        "can_status": can["edit"] or can["close"],
        "is_mine": ticket.assignee_id == me.pk,
        "canned_bodies": {str(c.pk): canned_expand(c.body, ticket=ticket, agent=me) for c in canned},
        "transfer_holds": getattr(transfer_form, "holds", {}),
        "unseen": unseen or set(),
    }
    return render(request, "staff/ticket.html", context, status=status)


@agent_required
def ticket(request: HttpRequest, number: int) -> HttpResponse:
    return _page(request, ticket_get_for_user(user=agent(request), number=number, with_lock=True))


def _after(request: HttpRequest, ticket: Ticket) -> HttpResponse:
    """Back to the ticket, or to the queues when the change took it out of the agent's sight."""
    if tickets_visible_to(agent(request)).filter(pk=ticket.pk).exists():
        return redirect(ticket.get_staff_url())
    messages.info(request, f"Ticket #{ticket.number} is no longer in your departments or assigned to you.")
    return redirect("staff:home")


Run = Callable[[User, Ticket, dict[str, Any]], str]


def _act(
    request: HttpRequest, number: int, *, panel: str, allowed: Callable[[User, Ticket], bool], run: Run
) -> HttpResponse:
    """Check, validate, call the service, and answer: the shape of every property action."""
    me = agent(request)
    ticket = _ticket(request, number)
    if not allowed(me, ticket):
        return forbidden(request, f"Your role does not allow this on ticket #{ticket.number}.")
    ref = reference_data()
    form = _form(panel, ticket, ref, data=request.POST, files=request.FILES)
    status = 400
    if form.is_valid():
        try:
            message = run(me, ticket, form.cleaned_data)
        except ActionNotAllowed as error:
            return forbidden(request, str(error))
        except InvalidInput as error:
            form_error_from(form, error)
        except (InvalidTransition, StaleTicket) as error:
            form.add_error(None, str(error))
            if isinstance(error, StaleTicket):
                # What the page now shows is current: let the agent resubmit after reading it.
                current = request.POST.copy()
                current[form.add_prefix("version")] = str(ticket.version)
                form.data = current
            status = 409
        else:
            messages.success(request, message)
            return _after(request, ticket)
    return _page(request, ticket, ref=ref, bound={panel: form}, status=status)


def _perm(*perms: Perm) -> Callable[[User, Ticket], bool]:
    return lambda user, ticket: any(ticket_allows(user, p, ticket) for p in perms)


# ---------------------------------------------------------------- the thread


@agent_required
@require_POST
def reply(request: HttpRequest, number: int) -> HttpResponse:
    me = agent(request)
    ticket = _ticket(request, number)
    if not ticket_allows(me, Perm.REPLY, ticket):
        return forbidden(request, f"Your role does not allow replying on ticket #{ticket.number}.")
    ref = reference_data()
    canned = _canned(me, ticket)
    form = ReplyForm(request.POST, request.FILES, ref=ref, canned=canned, ticket=ticket, prefix="reply")
    if not form.is_valid():
        return _page(request, ticket, ref=ref, canned=canned, bound={"reply": form}, status=400)
    data = form.cleaned_data
    # Collision avoidance: the requester (or another agent) wrote since this agent loaded
    # the page, or someone else is writing a reply right now. Show it and ask to confirm.
    unseen = set(
        ThreadEntry.objects.filter(
            ticket=ticket, pk__gt=data["seen"] or 0, kind__in=[EntryKind.MESSAGE, EntryKind.RESPONSE]
        )
        .exclude(author=me)
        .values_list("pk", flat=True)
    )
    lock = ticket_lock_state(ticket=ticket, agent=me)
    if (unseen or lock.holder) and not data["confirmed"]:
        newest = ThreadEntry.objects.filter(ticket=ticket).order_by("-pk").values_list("pk", flat=True).first()
        again = request.POST.copy()
        again[form.add_prefix("seen")] = str(newest or 0)
        again[form.add_prefix("version")] = str(ticket.version)
        again[form.add_prefix("confirmed")] = "1"
        confirm = ReplyForm(again, ref=ref, canned=canned, ticket=ticket, prefix="reply")
        confirm.is_valid()
        reasons = []
        if unseen:
            reasons.append("New posts arrived while you were writing (highlighted below): read them first.")
        if lock.holder:
            reasons.append(f"{lock.holder} is writing a reply to this ticket right now.")
        if data["attachments"]:
            reasons.append("Choose your attachments again before sending.")
        confirm.add_error(None, " ".join([*reasons, "Send your reply anyway?"]))
        return _page(request, ticket, ref=ref, canned=canned, bound={"reply": confirm}, status=409, unseen=unseen)
    body = data["body"]
    if not body.strip() and data["canned_response"] is not None:
        body = canned_expand(data["canned_response"].body, ticket=ticket, agent=me)
    if data["signature"] and me.signature:
        body = f"{body.rstrip()}\n\n{me.signature}"
    try:
        services.ticket_reply(
            ticket=ticket,
            actor=me,
            body=body,
            uploads=data["attachments"],
            status=data["status"],
            # Sending a reply is never stale; changing the status with it is an edit.
            expected_version=data["version"] if data["status"] is not None else None,
        )
    except ActionNotAllowed as error:
        return forbidden(request, str(error))
    except (InvalidInput, InvalidTransition, StaleTicket) as error:
        if isinstance(error, InvalidInput):
            form_error_from(form, error)
        else:
            form.add_error(None, str(error))
            current = request.POST.copy()
            current[form.add_prefix("version")] = str(ticket.version)
            form.data = current
        return _page(
            request,
            ticket,
            ref=ref,
            canned=canned,
            bound={"reply": form},
            status=400 if isinstance(error, InvalidInput) else 409,
        )
    ticket_lock_release(ticket=ticket, agent=me)
    done = f"Reply sent to {ticket.requester.name}."
    if data["status"] is not None:
        done += f" Status: {data['status'].name}."
    messages.success(request, done)
    return _after(request, ticket)


@agent_required
@require_POST
def note(request: HttpRequest, number: int) -> HttpResponse:
    def run(me: User, ticket: Ticket, data: dict[str, Any]) -> str:
        services.ticket_add_note(
            ticket=ticket, actor=me, body=data["body"], title=data["title"], uploads=data["attachments"]
        )
        return "Internal note added."

    return _act(request, number, panel="note", allowed=_perm(Perm.VIEW), run=run)


# ---------------------------------------------------------------- properties


@agent_required
@require_POST
def assign(request: HttpRequest, number: int) -> HttpResponse:
    def run(me: User, ticket: Ticket, data: dict[str, Any]) -> str:
        assignee = data["assignee"]
        services.ticket_assign(
            ticket=ticket, actor=me, assignee=assignee, note=data["note"], expected_version=data["version"]
        )
        return f"Assigned to {assignee.name}." if assignee else "Unassigned."

    return _act(request, number, panel="assign", allowed=_perm(Perm.REPLY, Perm.ASSIGN), run=run)


def _claim_or_release(request: HttpRequest, number: int, *, claim: bool) -> HttpResponse:
    me = agent(request)
    ticket = _ticket(request, number)
    raw = request.POST.get("version", "")
    if raw and not raw.isdecimal():
        messages.error(request, "The page was garbled; reload it and try again.")
        return redirect(ticket.get_staff_url())
    version = int(raw) if raw else None
    try:
        services.ticket_assign(ticket=ticket, actor=me, assignee=me if claim else None, expected_version=version)
    except ActionNotAllowed as error:
        return forbidden(request, str(error))
    except (InvalidInput, InvalidTransition, StaleTicket) as error:
        messages.error(request, str(error))
        return redirect(ticket.get_staff_url())
    messages.success(request, "You claimed this ticket." if claim else "You released this ticket.")
    return _after(request, ticket)


@agent_required
@require_POST
def claim(request: HttpRequest, number: int) -> HttpResponse:
    return _claim_or_release(request, number, claim=True)


@agent_required
@require_POST
def release(request: HttpRequest, number: int) -> HttpResponse:
    return _claim_or_release(request, number, claim=False)


@agent_required
@require_POST
def transfer(request: HttpRequest, number: int) -> HttpResponse:
    def run(me: User, ticket: Ticket, data: dict[str, Any]) -> str:
        services.ticket_transfer(
            ticket=ticket,
            actor=me,
            department=data["department"],
            note=data["note"],
            assignee=data["assignee"],
            expected_version=data["version"],
        )
        done = f"Transferred to {data['department'].name}"
        return done + (f" and assigned to {data['assignee'].name}." if data["assignee"] else ".")

    return _act(request, number, panel="transfer", allowed=_perm(Perm.TRANSFER), run=run)


@agent_required
@require_POST
def priority(request: HttpRequest, number: int) -> HttpResponse:
    def run(me: User, ticket: Ticket, data: dict[str, Any]) -> str:
        services.ticket_set_priority(
            ticket=ticket, actor=me, priority=data["priority"], expected_version=data["version"]
        )
        return f"Priority: {data['priority'].name}."

    return _act(request, number, panel="priority", allowed=_perm(Perm.EDIT), run=run)


@agent_required
@require_POST
def sla_plan(request: HttpRequest, number: int) -> HttpResponse:
    def run(me: User, ticket: Ticket, data: dict[str, Any]) -> str:
        plan = data["sla_plan"]
        services.ticket_set_sla_plan(ticket=ticket, actor=me, sla_plan=plan, expected_version=data["version"])
        return f"SLA plan: {plan.name}." if plan else "SLA plan removed."

    return _act(request, number, panel="sla", allowed=_perm(Perm.EDIT), run=run)


@agent_required
@require_POST
def help_topic(request: HttpRequest, number: int) -> HttpResponse:
    def run(me: User, ticket: Ticket, data: dict[str, Any]) -> str:
        topic = data["help_topic"]
        services.ticket_set_help_topic(ticket=ticket, actor=me, help_topic=topic, expected_version=data["version"])
        return f"Help topic: {topic.name}." if topic else "Help topic removed."

    return _act(request, number, panel="topic", allowed=_perm(Perm.EDIT), run=run)


@agent_required
@require_POST
def status(request: HttpRequest, number: int) -> HttpResponse:
    def run(me: User, ticket: Ticket, data: dict[str, Any]) -> str:
        services.ticket_change_status(
            ticket=ticket, actor=me, status=data["status"], note=data["note"], expected_version=data["version"]
        )
        return f"Status: {data['status'].name}."

    return _act(request, number, panel="status", allowed=_perm(Perm.EDIT, Perm.CLOSE), run=run)


@agent_required
@require_POST
def due(request: HttpRequest, number: int) -> HttpResponse:
    def run(me: User, ticket: Ticket, data: dict[str, Any]) -> str:
        services.ticket_set_due(
            ticket=ticket, actor=me, due_at=data["due_at"], reason=data["reason"], expected_version=data["version"]
        )
        return f"Due {timezone.localtime(data['due_at']):%Y-%m-%d %H:%M}."

    return _act(request, number, panel="due", allowed=_perm(Perm.EDIT), run=run)


# ---------------------------------------------------------------- people and other tickets


@agent_required
@require_POST
def collaborator_add(request: HttpRequest, number: int) -> HttpResponse:
    def run(me: User, ticket: Ticket, data: dict[str, Any]) -> str:
        person = end_user_get_or_create(email=data["email"], name=data["name"])
        services.ticket_add_collaborator(ticket=ticket, actor=me, user=person)
        return f"{person.email} is copied on this ticket."

    return _act(request, number, panel="collaborators", allowed=_perm(Perm.REPLY), run=run)


@agent_required
@require_POST
def collaborator_remove(request: HttpRequest, number: int, user_id: int) -> HttpResponse:
    me = agent(request)
    ticket = _ticket(request, number)
    person = get_object_or_404(ticket.collaborators.all(), pk=user_id)
    try:
        services.ticket_remove_collaborator(ticket=ticket, actor=me, user=person)
    except ActionNotAllowed as error:
        return forbidden(request, str(error))
    messages.success(request, f"{person.email} is no longer copied.")
    return redirect(ticket.get_staff_url())


def _other(me: User, number: int) -> Ticket:
    try:
        return ticket_get_for_user(user=me, number=number)
    except Http404:
        raise InvalidInput("number", f"There is no ticket #{number} that you can see.") from None


@agent_required
@require_POST
def merge(request: HttpRequest, number: int) -> HttpResponse:
    def run(me: User, ticket: Ticket, data: dict[str, Any]) -> str:
        into = _other(me, data["number"])
        services.ticket_merge(ticket=ticket, into=into, actor=me)
        return f"Merged into #{into.number}."

    response = _act(request, number, panel="merge", allowed=_perm(Perm.CLOSE), run=run)
    if response.status_code == 302:
        target = TicketNumberForm(request.POST, prefix="merge")
        if target.is_valid():
            return redirect("staff:ticket", number=target.cleaned_data["number"])
    return response


@agent_required
@require_POST
def link(request: HttpRequest, number: int) -> HttpResponse:
    def run(me: User, ticket: Ticket, data: dict[str, Any]) -> str:
        other = _other(me, data["number"])
        services.ticket_link(ticket=ticket, other=other, actor=me)
        return f"Linked with #{other.number}."

    return _act(request, number, panel="link", allowed=_perm(Perm.VIEW), run=run)


# ---------------------------------------------------------------- the reply lock and files


@agent_required
def lock(request: HttpRequest, number: int) -> JsonResponse:
    """GET: who is replying. POST: take or renew this agent's lock (the reply box does)."""
    me = agent(request)
    ticket = _ticket(request, number)
    if request.method == "POST":
        if not ticket_allows(me, Perm.REPLY, ticket):
            return JsonResponse({"error": "Your role does not allow replying on this ticket."}, status=403)
        state = ticket_lock_acquire(ticket=ticket, agent=me)
    else:
        state = ticket_lock_state(ticket=ticket, agent=me)
    return JsonResponse(state.as_json())


@agent_required
@require_POST
def lock_release(request: HttpRequest, number: int) -> JsonResponse:
    ticket_lock_release(ticket=_ticket(request, number), agent=agent(request))
    return JsonResponse({"held": False, "holder": "", "expires_at": None})


@agent_required
def attachment(request: HttpRequest, number: int, pk: int) -> FileResponse:
    """A file of a ticket the agent may see (404 otherwise), always as a download."""
    ticket = _ticket(request, number)
    return attachment_response(get_object_or_404(Attachment, pk=pk, entry__ticket=ticket))
