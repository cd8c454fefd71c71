"""The queues: lists of tickets with counts, filters, search, sorting, saved queues, bulk
actions and CSV export."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.functional import cached_property
from django.views.decorators.http import require_POST

from accounts.models import User
from tickets.bulk import tickets_bulk_update
from tickets.choices import ReferenceData, reference_data
from tickets.exceptions import ActionNotAllowed, InvalidInput
from tickets.exports import TICKET_COLUMNS, csv_response, ticket_rows
from tickets.forms.staff import BulkForm, SaveQueueForm, TicketFilterForm, form_error_from
from tickets.models import Department, Priority, SavedQueue, Status
from tickets.queues import (
    DEFAULT_QUEUE,
    ENDED_QUEUES,
    QUEUE_LIST,
    QUEUES,
    SORTS,
    queue_counts,
    queue_tickets,
    saved_queue_create,
    saved_queue_delete,
    saved_queues_for_agent,
    tickets_for_list,
    tickets_sorted,
)
from tickets.views.staff.base import agent, agent_required, back, flash_errors, forbidden

PER_PAGE = 50


class CountedPaginator(Paginator):
    """A paginator told the number of rows when it is already known."""

    def __init__(self, object_list: Any, per_page: int, *, count: int | None = None) -> None:
        super().__init__(object_list, per_page)
        self._known_count = count

    @cached_property
    def count(self) -> int:
        return self._known_count if self._known_count is not None else super().count


def _filtered(request: HttpRequest, *, base: str, data: QueryDict, ref: ReferenceData) -> tuple[Any, Any, str]:
    me = agent(request)
    form = TicketFilterForm(data, ref=ref)
    tickets = form.narrow(queue_tickets(user=me, key=base), me)
    sort = form.cleaned_data.get("sort") if "sort" not in form.errors else ""
    sort = sort or QUEUES[base].sort
    return form, tickets_sorted(tickets, sort), sort


def _render_list(request: HttpRequest, *, base: str, data: QueryDict, saved: SavedQueue | None) -> HttpResponse:
    me = agent(request)
    ref = reference_data()
    form, tickets, sort = _filtered(request, base=base, data=data, ref=ref)
    counts = queue_counts(user=me)
    filters = form.active()
    # An unfiltered queue of active tickets is as long as its (exact) count in the sidebar: no
    # second count of its rows. The ended queues' sidebar counts may be a minute old, so their
    # lists count their own rows.
    unfiltered = not saved and not set(filters) - {"sort"}
    known = counts[base] if unfiltered and base not in ENDED_QUEUES else None
    page = CountedPaginator(tickets_for_list(tickets), PER_PAGE, count=known).get_page(request.GET.get("page"))
    here = request.path
    columns = []
    for key, (label, _) in SORTS.items():
        if key == "created":
            continue
        next_sort = f"-{key}" if sort == key else key
        query = QueryDict(mutable=True)
        query.update({k: v for k, v in filters.items() if k != "sort"})
        query["sort"] = next_sort
        indicator = "▲" if sort == key else "▼" if sort == f"-{key}" else ""
        columns.append({"key": key, "label": label, "url": f"{here}?{query.urlencode()}", "indicator": indicator})
    export_query = QueryDict(mutable=True)
    export_query.update(filters)
    context = {
        "queues": [{"key": q.key, "title": q.title, "count": counts.get(q.key, 0)} for q in QUEUE_LIST],
        "current": base,
        "saved": saved,
        "saved_queues": list(saved_queues_for_agent(user=me)),
        "title": saved.name if saved else QUEUES[base].title,
        "form": form,
        "filters": filters,
        "filtering": bool({k for k in filters if k not in ("sort", "q")}),
        "page": page,
        "columns": columns,
        "sort": sort,
        "export_url": (
            reverse("staff:saved_queue_export", kwargs={"pk": saved.pk})
            if saved
            else reverse("staff:queue_export", kwargs={"key": base})
        )
        + (f"?{export_query.urlencode()}" if filters and not saved else ""),
        "bulk_form": BulkForm(ref=ref),
        "save_form": SaveQueueForm(initial={"base": base}),
        "save_params": _encode(filters),
    }
    return render(request, "staff/queue.html", context, status=400 if form.errors else 200)


def _encode(values: dict[str, str]) -> str:
    query = QueryDict(mutable=True)
    query.update(values)
    return query.urlencode()


@agent_required
def home(request: HttpRequest) -> HttpResponse:
    return _render_list(request, base=DEFAULT_QUEUE, data=request.GET, saved=None)


@agent_required
def queue(request: HttpRequest, key: str) -> HttpResponse:
    if key not in QUEUES:
        raise Http404("No such queue.")
    return _render_list(request, base=key, data=request.GET, saved=None)


def _saved_data(saved: SavedQueue, request: HttpRequest) -> QueryDict:
    """The saved filters, unless the page's query string names filters of its own (the
    filter form and the sort links carry all of them)."""
    if any(name in request.GET for name in TicketFilterForm.FILTERS):
        return request.GET
    data = QueryDict(mutable=True)
    data.update({k: str(v) for k, v in saved.params.items()})
    return data


def _saved_for(request: HttpRequest, pk: int) -> SavedQueue:
    return get_object_or_404(saved_queues_for_agent(user=agent(request)), pk=pk)


@agent_required
def saved_queue(request: HttpRequest, pk: int) -> HttpResponse:
    saved = _saved_for(request, pk)
    return _render_list(request, base=saved.base, data=_saved_data(saved, request), saved=saved)


@agent_required
@require_POST
def saved_queue_save(request: HttpRequest) -> HttpResponse:
    me = agent(request)
    form = SaveQueueForm(request.POST)
    if not form.is_valid():
        flash_errors(request, form)
        return back(request, "staff:home")
    # The filters are checked again, and only the valid ones kept.
    filters = TicketFilterForm(QueryDict(request.POST.get("params", "")), ref=reference_data())
    filters.is_valid()
    try:
        saved = saved_queue_create(
            owner=me,
            name=form.cleaned_data["name"],
            base=form.cleaned_data["base"],
            params=filters.active(),
            is_shared=form.cleaned_data["is_shared"],
        )
    except InvalidInput as error:
        form_error_from(form, error)
        flash_errors(request, form)
        return back(request, "staff:home")
    messages.success(request, f"Saved the queue “{saved.name}”.")
    return redirect(saved)


@agent_required
@require_POST
def saved_queue_remove(request: HttpRequest, pk: int) -> HttpResponse:
    saved = _saved_for(request, pk)
    try:
        saved_queue_delete(queue=saved, actor=agent(request))
    except ActionNotAllowed as error:
        return forbidden(request, str(error))
    messages.success(request, f"Deleted the queue “{saved.name}”.")
    return redirect("staff:home")


@agent_required
def queue_export(request: HttpRequest, key: str) -> HttpResponseBase:
    if key not in QUEUES:
        raise Http404("No such queue.")
    _, tickets, _ = _filtered(request, base=key, data=request.GET, ref=reference_data())
    return csv_response(f"tickets-{key}.csv", TICKET_COLUMNS, ticket_rows(tickets))


@agent_required
def saved_queue_export(request: HttpRequest, pk: int) -> HttpResponseBase:
    saved = _saved_for(request, pk)
    _, tickets, _ = _filtered(request, base=saved.base, data=_saved_data(saved, request), ref=reference_data())
    return csv_response(f"tickets-queue-{saved.pk}.csv", TICKET_COLUMNS, ticket_rows(tickets))


@agent_required
@require_POST
def bulk(request: HttpRequest) -> HttpResponse:
    me = agent(request)
    form = BulkForm(request.POST, ref=reference_data())
    if not form.is_valid():
        flash_errors(request, form)
        return back(request, "staff:home")
    data = form.cleaned_data
    assignee_value = data.get("assignee")
    assignee = (
        User.objects.filter(pk=int(assignee_value)).first() if assignee_value and assignee_value != "none" else None
    )
    result = tickets_bulk_update(
        actor=me,
        numbers=data["tickets"],
        action=data["action"],
        assignee=assignee,
        department=Department.objects.filter(pk=data.get("department") or 0).first(),
        priority=Priority.objects.filter(pk=data.get("priority") or 0).first(),
        status=Status.objects.filter(pk=data.get("status") or 0).first(),
    )
    if result.done:
        numbers = ", ".join(f"#{n}" for n in result.done)
        messages.success(request, f"Updated {len(result.done)} ticket(s): {numbers}.")
    for number, reason in result.failed:
        messages.error(request, f"#{number} not changed: {reason}")
    return back(request, "staff:home")
