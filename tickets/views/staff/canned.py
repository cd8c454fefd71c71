"""Canned responses kept by agents: their own, and their departments'."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from tickets.canned import (
    canned_response_create,
    canned_response_delete,
    canned_response_may_edit,
    canned_response_update,
    canned_responses_for_agent,
)
from tickets.exceptions import ActionNotAllowed, InvalidInput
from tickets.forms.staff import CannedResponseForm, form_error_from
from tickets.models import CannedResponse, Department
from tickets.permissions import agent_department_ids
from tickets.views.staff.base import agent, agent_required, forbidden


def _form(request: HttpRequest, data: object = None, initial: dict[str, object] | None = None) -> CannedResponseForm:
    me = agent(request)
    departments = list(Department.objects.filter(pk__in=agent_department_ids(me), is_active=True))
    if me.is_admin:
        departments = list(Department.objects.filter(is_active=True))
    return CannedResponseForm(data, departments=departments, is_admin=me.is_admin, initial=initial)


@agent_required
def canned_list(request: HttpRequest) -> HttpResponse:
    me = agent(request)
    responses = list(canned_responses_for_agent(user=me).order_by("title"))
    rows = [(c, canned_response_may_edit(me, c)) for c in responses]
    return render(request, "staff/canned_list.html", {"rows": rows})


def _save(request: HttpRequest, canned: CannedResponse | None) -> HttpResponse:
    me = agent(request)
    form = _form(request, request.POST)
    if form.is_valid():
        data = form.cleaned_data
        department_id = data["department"]
        personal = department_id is None
        department = Department.objects.filter(pk=department_id).first() if department_id else None
        fields = {"title": data["title"], "body": data["body"], "department": department, "personal": personal}
        try:
            if canned is None:
                canned = canned_response_create(actor=me, **fields)  # type: ignore[arg-type]
            else:
                canned = canned_response_update(canned=canned, actor=me, is_active=data["is_active"], **fields)  # type: ignore[arg-type]
        except ActionNotAllowed as error:
            return forbidden(request, str(error))
        except InvalidInput as error:
            form_error_from(form, error)
        else:
            messages.success(request, f"Saved “{canned.title}”.")
            return redirect("staff:canned_list")
    return render(request, "staff/canned_form.html", {"form": form, "canned": canned}, status=400)


@agent_required
def canned_new(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        return _save(request, None)
    return render(request, "staff/canned_form.html", {"form": _form(request), "canned": None})


@agent_required
def canned_edit(request: HttpRequest, pk: int) -> HttpResponse:
    me = agent(request)
    canned = get_object_or_404(canned_responses_for_agent(user=me), pk=pk)
    if not canned_response_may_edit(me, canned):
        return forbidden(request, "You may use this canned response but not change it.")
    if request.method == "POST":
        return _save(request, canned)
    initial: dict[str, object] = {
        "title": canned.title,
        "body": canned.body,
        "department": canned.department_id if canned.owner_id is None else None,
        "is_active": canned.is_active,
    }
    if canned.owner_id is None and canned.department_id is None:
        initial["department"] = 0
    return render(request, "staff/canned_form.html", {"form": _form(request, initial=initial), "canned": canned})


@agent_required
@require_POST
def canned_remove(request: HttpRequest, pk: int) -> HttpResponse:
    me = agent(request)
    canned = get_object_or_404(canned_responses_for_agent(user=me), pk=pk)
    try:
        canned_response_delete(canned=canned, actor=me)
    except ActionNotAllowed as error:
        return forbidden(request, str(error))
    messages.success(request, f"Deleted “{canned.title}”.")
    return redirect("staff:canned_list")
