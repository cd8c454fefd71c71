"""The admin pages of the staff panel: configuration, for admins only.

Thin views: forms check what was typed, the services (sla/services.py, adminpanel/services.py)
decide and write, and what they refuse is shown beside the field it concerns.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from functools import wraps
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count, Prefetch, Q
from django.forms import BaseFormSet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.models import DepartmentMembership, User
from adminpanel import forms as f
from adminpanel import services
from api.models import ApiKey
from sla import deadlines
from sla import services as sla_services
from sla.models import ClockTarget, Schedule, SLAPlan
from sla.reports import duration, sla_compliance
from tickets.models import Department, HelpTopic, Priority, Status
from tickets.views.staff import agent_required

View = Callable[..., HttpResponse]


def admin_required(view: View) -> View:
    """Admins only: other agents and end users get a 404, anonymous visitors the sign-in."""

    @agent_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_admin:  # type: ignore[union-attr]
            raise Http404
        return view(request, *args, **kwargs)

    return wrapper


def _actor(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _valid(*parts: Any) -> bool:
    """Validate every form and formset (all of them, so that each shows its errors)."""
    return all([part.is_valid() for part in parts])


def _rows(formset: BaseFormSet) -> list[dict[str, Any]]:
    return [
        form.cleaned_data for form in formset.forms if form.cleaned_data and not form.cleaned_data.get("DELETE", False)
    ]


def _form_page(
    request: HttpRequest,
    *,
    title: str,
    form: Any,
    back: str,
    formsets: list[dict[str, Any]] = (),  # type: ignore[assignment]
    template: str = "adminpanel/form.html",
    **extra: Any,
) -> HttpResponse:
    return render(
        request,
        template,
        {"title": title, "form": form, "formsets": formsets, "back": back, **extra},
        status=400 if request.method == "POST" else 200,
    )


# ---------------------------------------------------------------- home


@admin_required
def home(request: HttpRequest) -> HttpResponse:
    sections = [
        ("SLA plans", "adminpanel:plans", SLAPlan.objects.count(), "Targets, pauses, warnings, breach actions"),
        ("Business hours", "adminpanel:schedules", Schedule.objects.count(), "Schedules, time zones and holidays"),
        ("SLA compliance", "adminpanel:reports", None, "Met, breached, response and resolution times"),
        ("Departments", "adminpanel:departments", Department.objects.count(), "Managers, members, default plans"),
        ("Help topics", "adminpanel:topics", HelpTopic.objects.count(), "Routing, priority, plan, assignment"),
        ("Priorities", "adminpanel:priorities", Priority.objects.count(), "Names and urgency"),
        ("Statuses", "adminpanel:statuses", Status.objects.count(), "States and pause behaviour"),
        ("Agents", "adminpanel:agents", User.objects.filter(kind__in=(User.Kind.AGENT, User.Kind.ADMIN)).count(), "Access, departments, roles"),
        ("API keys", "adminpanel:api_keys", ApiKey.objects.count(), "Keys for scripts and monitoring"),
        ("Mail", "mail:home", None, "Mailboxes, held mail, outbox, notices and templates"),
    ]  # fmt: skip
    return render(request, "adminpanel/home.html", {"sections": sections})


# ---------------------------------------------------------------- SLA plans


def _plan_initial(plan: SLAPlan) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    initial = {
        "name": plan.name,
        "schedule": plan.schedule_id,
        "first_response_minutes": plan.first_response_minutes,
        "resolution_minutes": plan.resolution_minutes,
        "next_response_minutes": plan.next_response_minutes,
        "pause_statuses": list(plan.pause_statuses.all()),
        "warn_at_percent": plan.warn_at_percent,
        "breach_raise_priority": plan.breach_raise_priority,
        "breach_reassign_to": plan.breach_reassign_to_id,
        "is_active": plan.is_active,
        "is_default": plan.is_default,
    }
    targets = [
        {
            "priority": t.priority_id,
            "first_response_minutes": t.first_response_minutes,
            "resolution_minutes": t.resolution_minutes,
            "next_response_minutes": t.next_response_minutes,
        }
        for t in plan.priority_targets.order_by("priority__urgency")
    ]
    return initial, targets


def _plan_fields(form: f.PlanForm, targets: BaseFormSet) -> sla_services.PlanFields:
    data = form.cleaned_data
    return sla_services.PlanFields(
        name=data["name"],
        schedule=data["schedule"],
        first_response_minutes=data["first_response_minutes"],
        resolution_minutes=data["resolution_minutes"],
        next_response_minutes=data["next_response_minutes"],
        pause_statuses=list(data["pause_statuses"]),
        warn_at_percent=data["warn_at_percent"],
        is_active=data["is_active"],
        is_default=data["is_default"],
        breach_raise_priority=data["breach_raise_priority"],
        breach_reassign_to=data["breach_reassign_to"],
        priority_targets=[
            sla_services.PriorityTargetSpec(
                priority_id=row["priority"].pk,
                first_response_minutes=row["first_response_minutes"],
                resolution_minutes=row["resolution_minutes"],
                next_response_minutes=row["next_response_minutes"],
            )
            for row in _rows(targets)
        ],
    )


@admin_required
def plans(request: HttpRequest) -> HttpResponse:
    rows = SLAPlan.objects.select_related("schedule").annotate(
        open_tickets=Count("tickets", filter=Q(tickets__state__in=Status.ACTIVE_STATES))
    )
    return render(request, "adminpanel/plans.html", {"plans": rows.order_by("name")})


@admin_required
def plan_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    plan = get_object_or_404(SLAPlan, pk=pk) if pk else None
    initial, target_rows = _plan_initial(plan) if plan else ({"warn_at_percent": 75, "is_active": True}, [])
    form = f.PlanForm(request.POST or None, initial=initial)
    targets = f.PriorityTargetFormSet(request.POST or None, initial=target_rows, prefix="targets")
    errors: dict[str, list[str]] = {}
    if request.method == "POST" and _valid(form, targets):
        try:
            fields = _plan_fields(form, targets)
            if plan is None:
                plan = sla_services.sla_plan_create(fields=fields)
                messages.success(request, f"SLA plan {plan.name} created.")
            else:
                sla_services.sla_plan_update(plan=plan, fields=fields)
                messages.success(
                    request, f"SLA plan {plan.name} saved; open tickets on it are being recomputed in the background."
                )
            return redirect("adminpanel:plan", pk=plan.pk)
        except ValidationError as exc:
            errors = f.service_errors(form, exc, elsewhere=["priority_targets"])
    preview = f.PreviewForm(initial={"timezone": plan.schedule.timezone if plan and plan.schedule else "UTC"})
    return _form_page(
        request,
        title=f"SLA plan {plan.name}" if plan else "New SLA plan",
        form=form,
        back=reverse("adminpanel:plans"),
        formsets=[
            {
                "title": "Targets per priority",
                "help": "In place of the plan's own targets for tickets of that priority; empty cells fall back to them.",
                "formset": targets,
                "errors": errors.get("priority_targets", []),
            }
        ],
        template="adminpanel/plan.html",
        plan=plan,
        preview_form=preview,
        pauses=f.PauseFormSet(prefix="pauses"),
    )


@admin_required
@require_POST
def plan_delete(request: HttpRequest, pk: int) -> HttpResponse:
    plan = get_object_or_404(SLAPlan, pk=pk)
    try:
        deleted = sla_services.sla_plan_delete(plan=plan)
    except sla_services.InUse as exc:
        messages.error(request, str(exc))
        return redirect("adminpanel:plan", pk=plan.pk)
    if deleted:
        messages.success(request, f"SLA plan {plan.name} deleted.")
    else:
        messages.warning(request, f"SLA plan {plan.name} is in use, so it was deactivated instead of deleted.")
    return redirect("adminpanel:plans")


@admin_required
def plan_preview(request: HttpRequest, pk: int) -> HttpResponse:
    """When each target would fall due for a ticket opened at a given instant and paused as
    given, with the business time counted. Read-only, so a GET whose address can be shared."""
    plan = get_object_or_404(SLAPlan.objects.select_related("schedule"), pk=pk)
    form = f.PreviewForm(request.GET or None, initial={"timezone": plan.schedule.timezone if plan.schedule else "UTC"})
    pauses = f.PauseFormSet(request.GET or None, prefix="pauses")
    results: list[dict[str, Any]] = []
    tz = zoneinfo.ZoneInfo("UTC")
    if request.GET and _valid(form, pauses):
        tz = zoneinfo.ZoneInfo(form.cleaned_data["timezone"])
        spans = [
            deadlines.Pause(row["start"].replace(tzinfo=tz), row["end"].replace(tzinfo=tz))
            for row in _rows(pauses)
            if row.get("start") and row.get("end")
        ]
        try:
            explained = sla_services.sla_plan_preview(
                plan=plan,
                opened_at=form.cleaned_data["opened_at"],
                pauses=spans,
                priority=form.cleaned_data["priority"],
            )
        except ValidationError as exc:
            f.service_errors(form, exc)
        except deadlines.CalendarError as exc:
            form.add_error(None, str(exc))
        else:
            for target, explanation in explained.items():
                if explanation is None:
                    continue
                # Formatted here: the template's date filter would show them in the site's zone.
                results.append(
                    {
                        "target": ClockTarget(target).label,
                        "target_time": duration(explanation.target_seconds),
                        "due_local": explanation.due_at.astimezone(tz).strftime("%a %d %b %Y, %H:%M %Z"),
                        "due_utc": explanation.due_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M"),
                        "due_iso": explanation.due_at.astimezone(UTC).isoformat(),
                        "paused": duration(explanation.paused_seconds),
                        "counted": [
                            {
                                "start": a.astimezone(tz).strftime("%a %d %b %H:%M"),
                                "end": b.astimezone(tz).strftime("%a %d %b %H:%M"),
                                "length": duration((b - a).total_seconds()),
                            }
                            for a, b in explanation.counted
                        ],
                    }
                )
    return render(
        request,
        "adminpanel/plan_preview.html",
        {"plan": plan, "form": form, "pauses": pauses, "results": results, "tz": tz},
        status=400 if request.GET and not results and (form.errors or pauses.total_error_count()) else 200,
    )


# ---------------------------------------------------------------- schedules


@admin_required
def schedules(request: HttpRequest) -> HttpResponse:
    rows = Schedule.objects.prefetch_related("intervals", "holidays").annotate(plans=Count("slaplan")).order_by("name")
    return render(request, "adminpanel/schedules.html", {"schedules": rows})


@admin_required
def schedule_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    schedule = get_object_or_404(Schedule, pk=pk) if pk else None
    initial: dict[str, Any] = {"timezone": "UTC"}
    intervals_initial: list[dict[str, Any]] = [{"weekday": d, "start": time(9), "end": time(17)} for d in range(5)]
    holidays_initial: list[dict[str, Any]] = []
    if schedule is not None:
        initial = {"name": schedule.name, "timezone": schedule.timezone}
        intervals_initial = [{"weekday": i.weekday, "start": i.start, "end": i.end} for i in schedule.intervals.all()]
        holidays_initial = [{"date": h.date, "end_date": h.end_date, "name": h.name} for h in schedule.holidays.all()]
    form = f.ScheduleForm(request.POST or None, initial=initial)
    intervals = f.IntervalFormSet(request.POST or None, initial=intervals_initial, prefix="intervals")
    holidays = f.HolidayFormSet(request.POST or None, initial=holidays_initial, prefix="holidays")
    errors: dict[str, list[str]] = {}
    if request.method == "POST" and _valid(form, intervals, holidays):
        specs = {
            "name": form.cleaned_data["name"],
            "timezone_name": form.cleaned_data["timezone"],
            "intervals": [sla_services.IntervalSpec(r["weekday"], r["start"], r["end"]) for r in _rows(intervals)],
            "holidays": [sla_services.HolidaySpec(r["date"], r["name"], r["end_date"]) for r in _rows(holidays)],
        }
        try:
            if schedule is None:
                schedule = sla_services.schedule_create(**specs)
                messages.success(request, f"Schedule {schedule.name} created.")
            else:
                sla_services.schedule_update(schedule=schedule, **specs)
                messages.success(
                    request,
                    f"Schedule {schedule.name} saved; open tickets counting in it are being recomputed in the background.",
                )
            return redirect("adminpanel:schedule", pk=schedule.pk)
        except ValidationError as exc:
            errors = f.service_errors(form, exc, elsewhere=["intervals", "holidays"])
    return _form_page(
        request,
        title=f"Business hours: {schedule.name}" if schedule else "New business-hours schedule",
        form=form,
        back=reverse("adminpanel:schedules"),
        formsets=[
            {
                "title": "Open hours",
                "help": "Several intervals a day are allowed; none may cross midnight (end a night shift at 00:00 "
                "and start the next day's at 00:00). Times are in the schedule's time zone.",
                "formset": intervals,
                "errors": errors.get("intervals", []),
            },
            {"title": "Holidays", "help": "Closed all day.", "formset": holidays, "errors": errors.get("holidays", [])},
        ],
        template="adminpanel/schedule.html",
        schedule=schedule,
        timezones=f.TIMEZONES,
    )


@admin_required
@require_POST
def schedule_delete(request: HttpRequest, pk: int) -> HttpResponse:
    schedule = get_object_or_404(Schedule, pk=pk)
    try:
        sla_services.schedule_delete(schedule=schedule)
    except sla_services.InUse as exc:
        messages.error(request, str(exc))
        return redirect("adminpanel:schedule", pk=schedule.pk)
    messages.success(request, f"Schedule {schedule.name} deleted.")
    return redirect("adminpanel:schedules")


# ---------------------------------------------------------------- compliance


@admin_required
def reports(request: HttpRequest) -> HttpResponse:
    today = timezone.localdate()
    form = f.ReportForm(request.GET or {"start": today - timedelta(days=29), "end": today, "group_by": "plan"})
    rows: list[Any] = []
    if form.is_valid():
        tz = timezone.get_current_timezone()
        start = datetime.combine(form.cleaned_data["start"], time(0), tzinfo=tz)
        end = datetime.combine(form.cleaned_data["end"] + timedelta(days=1), time(0), tzinfo=tz)
        rows = sla_compliance(start=start, end=end, group_by=form.cleaned_data["group_by"])
    table = [
        {
            "group": row.group,
            "target": row.target_label,
            "decided": row.decided,
            "met": row.met_on_time,
            "breaches": row.breaches,
            "percent": row.percent_met,
            "median": duration(row.median_seconds),
            "p90": duration(row.p90_seconds),
        }
        for row in rows
    ]
    return render(
        request, "adminpanel/reports.html", {"form": form, "rows": table}, status=200 if form.is_valid() else 400
    )


# ---------------------------------------------------------------- departments and help topics


@admin_required
def departments(request: HttpRequest) -> HttpResponse:
    rows = (
        Department.objects.select_related("manager", "default_sla_plan")
        .annotate(members=Count("memberships", distinct=True))
        .order_by("name")
    )
    return render(request, "adminpanel/departments.html", {"departments": rows})


@admin_required
def department_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    department = get_object_or_404(Department, pk=pk) if pk else None
    initial: dict[str, Any] = {"auto_response": True, "is_active": True}
    members_initial: list[dict[str, Any]] = []
    if department is not None:
        initial = {
            "name": department.name,
            "manager": department.manager_id,
            "default_sla_plan": department.default_sla_plan_id,
            "auto_response": department.auto_response,
            "email_address": department.email_address,
            "signature": department.signature,
            "is_active": department.is_active,
        }
        members_initial = [
            {"agent": m.agent_id, "role": m.role_id, "is_available": m.is_available}
            for m in department.memberships.select_related("agent").order_by("agent__name")
        ]
    form = f.DepartmentForm(request.POST or None, initial=initial)
    members = f.MemberFormSet(request.POST or None, initial=members_initial, prefix="members")
    errors: dict[str, list[str]] = {}
    if request.method == "POST" and _valid(form, members):
        data = form.cleaned_data
        fields = services.DepartmentFields(
            name=data["name"],
            manager=data["manager"],
            default_sla_plan=data["default_sla_plan"],
            auto_response=data["auto_response"],
            email_address=data["email_address"],
            signature=data["signature"],
            is_active=data["is_active"],
        )
        people = [services.Member(r["agent"], r["role"], r["is_available"]) for r in _rows(members)]
        try:
            if department is None:
                department = services.department_create(actor=_actor(request), fields=fields, members=people)
                messages.success(request, f"Department {department.name} created.")
            else:
                services.department_update(actor=_actor(request), department=department, fields=fields, members=people)
                messages.success(request, f"Department {department.name} saved.")
            return redirect("adminpanel:department", pk=department.pk)
        except ValidationError as exc:
            errors = f.service_errors(form, exc, elsewhere=["members"])
    return _form_page(
        request,
        title=f"Department {department.name}" if department else "New department",
        form=form,
        back=reverse("adminpanel:departments"),
        formsets=[
            {
                "title": "Members",
                "help": "Agents who see and work this department's tickets, with the role they hold here.",
                "formset": members,
                "errors": errors.get("members", []),
            }
        ],
    )


@admin_required
def topics(request: HttpRequest) -> HttpResponse:
    rows = HelpTopic.objects.select_related("department", "priority", "sla_plan", "auto_assign_to").order_by("name")
    return render(request, "adminpanel/topics.html", {"topics": rows})


@admin_required
def topic_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    topic = get_object_or_404(HelpTopic, pk=pk) if pk else None
    initial: dict[str, Any] = {"is_public": True, "is_active": True}
    if topic is not None:
        initial = {
            "name": topic.name,
            "department": topic.department_id,
            "priority": topic.priority_id,
            "sla_plan": topic.sla_plan_id,
            "auto_assign_to": topic.auto_assign_to_id,
            "round_robin": topic.round_robin,
            "is_public": topic.is_public,
            "is_active": topic.is_active,
        }
    form = f.HelpTopicForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        fields = services.HelpTopicFields(**form.cleaned_data)
        try:
            if topic is None:
                topic = services.help_topic_create(actor=_actor(request), fields=fields)
                messages.success(request, f"Help topic {topic.name} created.")
            else:
                services.help_topic_update(actor=_actor(request), topic=topic, fields=fields)
                messages.success(request, f"Help topic {topic.name} saved.")
            return redirect("adminpanel:topics")
        except ValidationError as exc:
            f.service_errors(form, exc)
    return _form_page(
        request,
        title=f"Help topic {topic.name}" if topic else "New help topic",
        form=form,
        back=reverse("adminpanel:topics"),
    )


# ---------------------------------------------------------------- priorities and statuses


@admin_required
def priorities(request: HttpRequest) -> HttpResponse:
    return render(request, "adminpanel/priorities.html", {"priorities": Priority.objects.order_by("urgency")})


@admin_required
def priority_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    priority = get_object_or_404(Priority, pk=pk) if pk else None
    initial = (
        {"name": priority.name, "urgency": priority.urgency, "color": priority.color, "is_default": priority.is_default}
        if priority
        else {"color": "secondary"}
    )
    form = f.PriorityForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            if priority is None:
                priority = services.priority_create(actor=_actor(request), **form.cleaned_data)
                messages.success(request, f"Priority {priority.name} created.")
            else:
                services.priority_update(actor=_actor(request), priority=priority, **form.cleaned_data)
                messages.success(request, f"Priority {priority.name} saved.")
            return redirect("adminpanel:priorities")
        except ValidationError as exc:
            f.service_errors(form, exc)
    return _form_page(
        request,
        title=f"Priority {priority.name}" if priority else "New priority",
        form=form,
        back=reverse("adminpanel:priorities"),
    )


@admin_required
def statuses(request: HttpRequest) -> HttpResponse:
    pausing: dict[int, list[str]] = {}
    for status_id, plan_name in SLAPlan.pause_statuses.through.objects.order_by("slaplan__name").values_list(
        "status_id", "slaplan__name"
    ):
        pausing.setdefault(status_id, []).append(plan_name)
    rows = list(Status.objects.order_by("order", "name"))
    for status in rows:
        status.pausing_plans = pausing.get(status.pk, [])  # type: ignore[attr-defined]
    return render(request, "adminpanel/statuses.html", {"statuses": rows})


@admin_required
def status_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    status = get_object_or_404(Status, pk=pk) if pk else None
    initial: dict[str, Any] = {"order": 0}
    if status is not None:
        initial = {
            "name": status.name,
            "state": status.state,
            "order": status.order,
            "is_default": status.is_default,
            "pauses_plans": list(SLAPlan.objects.filter(pause_statuses=status)),
        }
    form = f.StatusForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = {**form.cleaned_data, "pauses_plans": list(form.cleaned_data["pauses_plans"])}
        try:
            if status is None:
                status = services.status_create(actor=_actor(request), **data)
                messages.success(request, f"Status {status.name} created.")
            else:
                services.status_update(actor=_actor(request), status=status, **data)
                messages.success(request, f"Status {status.name} saved.")
            return redirect("adminpanel:statuses")
        except ValidationError as exc:
            f.service_errors(form, exc)
    return _form_page(
        request,
        title=f"Status {status.name}" if status else "New status",
        form=form,
        back=reverse("adminpanel:statuses"),
    )


# ---------------------------------------------------------------- agents


@admin_required
def agents(request: HttpRequest) -> HttpResponse:
    rows = (
        User.objects.filter(kind__in=(User.Kind.AGENT, User.Kind.ADMIN))
        .prefetch_related(
            Prefetch(
                "memberships",
                queryset=DepartmentMembership.objects.select_related("department", "role").order_by("department__name"),
            )
        )
        .order_by("-is_active", "name")
    )
    return render(request, "adminpanel/agents.html", {"agents": rows})


@admin_required
def agent_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    agent = get_object_or_404(User, pk=pk, kind__in=(User.Kind.AGENT, User.Kind.ADMIN)) if pk else None
    memberships_initial: list[dict[str, Any]] = []
    if agent is not None:
        form: f.AgentForm = f.AgentForm(
            request.POST or None, initial={"name": agent.name, "email": agent.email, "is_admin": agent.is_admin}
        )
        memberships_initial = [
            {
                "department": m.department_id,
                "role": m.role_id,
                "is_primary": m.is_primary,
                "is_available": m.is_available,
            }
            for m in agent.memberships.order_by("department__name")
        ]
    else:
        form = f.NewAgentForm(request.POST or None)
    memberships = f.MembershipFormSet(request.POST or None, initial=memberships_initial, prefix="memberships")
    errors: dict[str, list[str]] = {}
    if request.method == "POST" and _valid(form, memberships):
        data = form.cleaned_data
        rows = [
            services.Membership(r["department"], r["role"], r["is_primary"], r["is_available"])
            for r in _rows(memberships)
        ]
        try:
            if agent is None:
                agent = services.agent_create(
                    actor=_actor(request),
                    email=data["email"],
                    name=data["name"],
                    is_admin=data["is_admin"],
                    password=data["password"],
                    memberships=rows,
                )
                messages.success(request, f"Agent {agent.name} created.")
            else:
                services.agent_update(
                    actor=_actor(request),
                    agent=agent,
                    email=data["email"],
                    name=data["name"],
                    is_admin=data["is_admin"],
                    memberships=rows,
                )
                messages.success(request, f"Agent {agent.name} saved.")
            return redirect("adminpanel:agent", pk=agent.pk)
        except ValidationError as exc:
            errors = f.service_errors(form, exc, elsewhere=["memberships"])
    return _form_page(
        request,
        title=f"Agent {agent.name}" if agent else "New agent",
        form=form,
        back=reverse("adminpanel:agents"),
        formsets=[
            {
                "title": "Departments and roles",
                "help": "The departments whose tickets the agent sees, and what their role there lets them do.",
                "formset": memberships,
                "errors": errors.get("memberships", []),
            }
        ],
        template="adminpanel/agent.html",
        agent=agent,
    )


@admin_required
@require_POST
def agent_active(request: HttpRequest, pk: int) -> HttpResponse:
    agent = get_object_or_404(User, pk=pk, kind__in=(User.Kind.AGENT, User.Kind.ADMIN))
    active = request.POST.get("active") == "1"
    try:
        services.agent_set_active(actor=_actor(request), agent=agent, is_active=active)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"{agent.name} {'can sign in again' if active else 'is deactivated'}.")
    return redirect("adminpanel:agent", pk=agent.pk)


# ---------------------------------------------------------------- API keys


@admin_required
def api_keys(request: HttpRequest) -> HttpResponse:
    return render(request, "adminpanel/api_keys.html", {"keys": ApiKey.objects.order_by("-is_active", "name")})


@admin_required
def api_key_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    api_key = get_object_or_404(ApiKey, pk=pk) if pk else None
    initial: dict[str, Any] = {"can_create_tickets": True}
    if api_key is not None:
        initial = {
            "name": api_key.name,
            "allowed_addresses": api_key.allowed_addresses,
            "can_create_tickets": api_key.can_create_tickets,
            "notes": api_key.notes,
        }
    form = f.ApiKeyForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            if api_key is None:
                api_key, key = services.api_key_issue(actor=_actor(request), **form.cleaned_data)
                # The key is shown on this answer alone and never stored: no redirect, no caching.
                response = render(request, "adminpanel/api_key_created.html", {"api_key": api_key, "key": key})
                response["Cache-Control"] = "no-store"
                return response
            services.api_key_update(actor=_actor(request), api_key=api_key, **form.cleaned_data)
            messages.success(request, f"API key {api_key.name} saved.")
            return redirect("adminpanel:api_keys")
        except ValidationError as exc:
            f.service_errors(form, exc)
    return _form_page(
        request,
        title=f"API key {api_key.name} ({api_key.key_prefix}…)" if api_key else "New API key",
        form=form,
        back=reverse("adminpanel:api_keys"),
        template="adminpanel/api_key.html",
        api_key=api_key,
    )


@admin_required
@require_POST
def api_key_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    api_key = get_object_or_404(ApiKey, pk=pk)
    services.api_key_revoke(actor=_actor(request), api_key=api_key)
    messages.success(request, f"API key {api_key.name} ({api_key.key_prefix}…) is revoked.")
    return HttpResponseRedirect(reverse("adminpanel:api_keys"))
