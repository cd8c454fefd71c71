"""Forms of the admin pages. They check the shape of what an admin typed (and say so beside
the field); the services decide and write, and what they refuse is shown beside the field too."""

from __future__ import annotations

import zoneinfo
from collections.abc import Sequence
from datetime import date, datetime, time
from itertools import pairwise
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.forms import formset_factory

from accounts.models import Role, User
from adminpanel.services import COLORS
from sla import deadlines
from sla.models import Schedule, SLAPlan, validate_timezone
from tickets.models import Department, Priority, Status, TicketState

TIMEZONES = sorted(zoneinfo.available_timezones())


def agents() -> Any:
    return User.objects.filter(kind__in=(User.Kind.AGENT, User.Kind.ADMIN), is_active=True).order_by("name")


class BootstrapMixin:
    """Bootstrap classes on every widget, so that formset rows rendered by hand look like
    the crispy-rendered forms."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():  # type: ignore[attr-defined]
            widget = field.widget
            if isinstance(widget, forms.CheckboxInput):
                widget.attrs.setdefault("class", "form-check-input")
            elif isinstance(widget, forms.Select | forms.SelectMultiple) and not isinstance(
                widget, forms.CheckboxSelectMultiple
            ):
                widget.attrs.setdefault("class", "form-select form-select-sm")
            elif not isinstance(widget, forms.CheckboxSelectMultiple):
                widget.attrs.setdefault("class", "form-control form-control-sm")


def service_errors(form: forms.Form, exc: ValidationError, *, elsewhere: Sequence[str] = ()) -> dict[str, list[str]]:
    """Show a service's refusal beside the form's fields; return the messages for the parts
    of the page that are not fields of `form` (a formset's table), by name."""
    left: dict[str, list[str]] = {}
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc)
        return left
    for name, messages in exc.message_dict.items():
        if name in form.fields:
            form.add_error(name, messages)
        elif name in elsewhere:
            left[name] = messages
        else:
            form.add_error(None, messages)
    return left


class SharedChoicesFormSet(forms.BaseFormSet):
    """A table of rows whose drop-downs list their options from one query for all the rows,
    so that a page costs the same queries however many rows it shows."""

    def _construct_form(self, i: int, **kwargs: Any) -> forms.Form:
        form = super()._construct_form(i, **kwargs)  # type: ignore[misc]
        self._share_choices(form)
        return form

    @property
    def empty_form(self) -> forms.Form:
        form = super().empty_form
        self._share_choices(form)
        return form

    def _share_choices(self, form: forms.Form) -> None:
        cache: dict[str, list[Any]] = self.__dict__.setdefault("_shared_choices", {})
        for name, field in form.fields.items():
            if isinstance(field, forms.ModelChoiceField):
                if name not in cache:
                    cache[name] = list(field.choices)  # type: ignore[arg-type]
                field.choices = cache[name]


# ---------------------------------------------------------------- schedules


class ScheduleForm(BootstrapMixin, forms.Form):
    name = forms.CharField(max_length=128)
    timezone = forms.CharField(
        max_length=64,
        initial="UTC",
        label="Time zone",
        validators=[validate_timezone],
        help_text="An IANA name such as Europe/Berlin or America/New_York; daylight saving follows it.",
        widget=forms.TextInput(attrs={"list": "timezones", "autocomplete": "off"}),
    )


class IntervalForm(BootstrapMixin, forms.Form):
    # A blank first choice, so that a blank row added to the table is left out, not refused.
    weekday = forms.TypedChoiceField(choices=[("", "—"), *enumerate(deadlines.WEEKDAYS)], coerce=int, empty_value=None)
    start = forms.TimeField(widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"))
    end = forms.TimeField(
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"), help_text="00:00 is midnight at the day's end."
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("start"), data.get("end")
        if isinstance(start, time) and isinstance(end, time) and end != time(0) and end <= start:
            self.add_error("end", "Must end after it starts, on the same day; split a night shift at midnight.")
        return data


class BaseIntervalFormSet(forms.BaseFormSet):
    def clean(self) -> None:
        if any(self.errors):
            return
        by_day: dict[int, list[tuple[int, int, str]]] = {}
        for form in self.forms:
            data = getattr(form, "cleaned_data", None)
            if not data or data.get("DELETE"):
                continue
            start, end = data["start"], data["end"]
            minutes = (start.hour * 60 + start.minute, 24 * 60 if end == time(0) else end.hour * 60 + end.minute)
            by_day.setdefault(data["weekday"], []).append((*minutes, f"{start:%H:%M}-{end:%H:%M}"))
        errors = []
        for weekday, intervals in sorted(by_day.items()):
            intervals.sort()
            for (_, first_end, first), (second_start, _, second) in pairwise(intervals):
                if second_start < first_end:
                    errors.append(f"{deadlines.WEEKDAYS[weekday]}: {first} and {second} overlap.")
        if not by_day:
            errors.append("Give at least one open interval.")
        if errors:
            raise ValidationError(errors)


IntervalFormSet = formset_factory(IntervalForm, formset=BaseIntervalFormSet, extra=1, can_delete=True)


class HolidayForm(BootstrapMixin, forms.Form):
    date = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    end_date = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"), help_text="For a range."
    )
    name = forms.CharField(max_length=128, required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("date") and data.get("end_date") and data["end_date"] < data["date"]:
            self.add_error("end_date", "The last day cannot be before the first.")
        return data


HolidayFormSet = formset_factory(HolidayForm, extra=1, can_delete=True)


# ---------------------------------------------------------------- plans


class MinutesField(forms.IntegerField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", 365 * 24 * 60)
        super().__init__(**kwargs)


class PlanForm(BootstrapMixin, forms.Form):
    name = forms.CharField(max_length=128)
    schedule = forms.ModelChoiceField(
        queryset=Schedule.objects.order_by("name"), required=False, empty_label="24/7 (no schedule)"
    )
    first_response_minutes = MinutesField(label="First response (minutes)")
    resolution_minutes = MinutesField(label="Resolution (minutes)")
    next_response_minutes = MinutesField(
        label="Next response (minutes)", help_text="The oldest unanswered customer message must be answered within it."
    )
    pause_statuses = forms.ModelMultipleChoiceField(
        queryset=Status.objects.filter(state__in=Status.ACTIVE_STATES).order_by("order", "name"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="The clocks stop while a ticket has one of these statuses.",
    )
    warn_at_percent = forms.IntegerField(
        min_value=1, max_value=99, required=False, label="Warn at (%)", help_text="Empty: no warning before a breach."
    )
    breach_raise_priority = forms.BooleanField(required=False, label="On breach, raise the priority one step")
    breach_reassign_to = forms.ModelChoiceField(
        queryset=User.objects.none(), required=False, label="On breach, reassign to", empty_label="— nobody —"
    )
    is_active = forms.BooleanField(required=False, initial=True, label="Active")
    is_default = forms.BooleanField(required=False, label="Default plan", help_text="For tickets nothing else sets.")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["breach_reassign_to"].queryset = agents()  # type: ignore[attr-defined]


class PriorityTargetForm(BootstrapMixin, forms.Form):
    priority = forms.ModelChoiceField(queryset=Priority.objects.order_by("urgency"))
    first_response_minutes = MinutesField()
    resolution_minutes = MinutesField()
    next_response_minutes = MinutesField()


class BasePriorityTargetFormSet(SharedChoicesFormSet):
    def clean(self) -> None:
        if any(self.errors):
            return
        seen = set()
        for form in self.forms:
            data = getattr(form, "cleaned_data", None)
            if not data or data.get("DELETE"):
                continue
            if data["priority"].pk in seen:
                raise ValidationError(f"{data['priority'].name} is listed twice.")
            seen.add(data["priority"].pk)


PriorityTargetFormSet = formset_factory(PriorityTargetForm, formset=BasePriorityTargetFormSet, extra=1, can_delete=True)


class PreviewForm(BootstrapMixin, forms.Form):
    opened_at = forms.DateTimeField(
        label="Opened at",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"],
    )
    timezone = forms.ChoiceField(choices=[(tz, tz) for tz in TIMEZONES], initial="UTC", label="in the time zone")
    priority = forms.ModelChoiceField(
        queryset=Priority.objects.order_by("urgency"), required=False, empty_label="— the plan's own targets —"
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if isinstance(data.get("opened_at"), datetime) and data.get("timezone"):
            tz = zoneinfo.ZoneInfo(data["timezone"])
            data["opened_at"] = data["opened_at"].replace(tzinfo=None).replace(tzinfo=tz)
        return data


class PauseForm(BootstrapMixin, forms.Form):
    start = forms.DateTimeField(
        label="Paused from",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
    )
    end = forms.DateTimeField(
        label="to",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("start") and data.get("end") and data["end"] < data["start"]:
            self.add_error("end", "A pause must end after it starts.")
        return data


PauseFormSet = formset_factory(PauseForm, extra=2)


# ---------------------------------------------------------------- departments and topics


class DepartmentForm(BootstrapMixin, forms.Form):
    name = forms.CharField(max_length=128)
    manager = forms.ModelChoiceField(queryset=User.objects.none(), required=False, empty_label="— none —")
    default_sla_plan = forms.ModelChoiceField(
        queryset=SLAPlan.objects.filter(is_active=True).order_by("name"),
        required=False,
        empty_label="— the system default —",
    )
    auto_response = forms.BooleanField(required=False, initial=True, label="Send the new-ticket auto-response")
    email_address = forms.EmailField(required=False, label="Outgoing address")
    signature = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    is_active = forms.BooleanField(required=False, initial=True, label="Active")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["manager"].queryset = agents()  # type: ignore[attr-defined]


class MemberForm(BootstrapMixin, forms.Form):
    agent = forms.ModelChoiceField(queryset=User.objects.none())
    role = forms.ModelChoiceField(queryset=Role.objects.order_by("name"))
    is_available = forms.BooleanField(required=False, initial=True, label="Takes turns")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["agent"].queryset = agents()  # type: ignore[attr-defined]


class BaseMemberFormSet(SharedChoicesFormSet):
    def clean(self) -> None:
        if any(self.errors):
            return
        seen = set()
        for form in self.forms:
            data = getattr(form, "cleaned_data", None)
            if not data or data.get("DELETE"):
                continue
            if data["agent"].pk in seen:
                raise ValidationError(f"{data['agent'].name} is listed twice.")
            seen.add(data["agent"].pk)


MemberFormSet = formset_factory(MemberForm, formset=BaseMemberFormSet, extra=1, can_delete=True)


class HelpTopicForm(BootstrapMixin, forms.Form):
    name = forms.CharField(max_length=128)
    department = forms.ModelChoiceField(queryset=Department.objects.order_by("name"))
    priority = forms.ModelChoiceField(
        queryset=Priority.objects.order_by("urgency"), required=False, empty_label="— the default priority —"
    )
    sla_plan = forms.ModelChoiceField(
        queryset=SLAPlan.objects.filter(is_active=True).order_by("name"),
        required=False,
        empty_label="— the department's plan —",
        label="SLA plan",
    )
    auto_assign_to = forms.ModelChoiceField(
        queryset=User.objects.none(), required=False, empty_label="— nobody —", label="Assign new tickets to"
    )
    round_robin = forms.BooleanField(required=False, label="Or assign in turn among the department's available agents")
    is_public = forms.BooleanField(required=False, initial=True, label="Public (offered in the portal)")
    is_active = forms.BooleanField(required=False, initial=True, label="Active")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["auto_assign_to"].queryset = agents()  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("auto_assign_to") and data.get("round_robin"):
            self.add_error("round_robin", "Assign to one agent or in turn, not both.")
        return data


class PriorityForm(BootstrapMixin, forms.Form):
    name = forms.CharField(max_length=32)
    urgency = forms.IntegerField(min_value=1, max_value=1000, help_text="1 is the most urgent.")
    color = forms.ChoiceField(choices=[(c, c.title()) for c in COLORS])
    is_default = forms.BooleanField(required=False, label="Default priority")


class StatusForm(BootstrapMixin, forms.Form):
    name = forms.CharField(max_length=64)
    state = forms.ChoiceField(choices=TicketState.choices)
    order = forms.IntegerField(min_value=0, max_value=32767, initial=0)
    is_default = forms.BooleanField(required=False, label="Default status of its state")
    pauses_plans = forms.ModelMultipleChoiceField(
        queryset=SLAPlan.objects.order_by("name"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Pauses the clocks of",
        help_text="Plans whose clocks stop while a ticket has this status (open and waiting statuses only).",
    )


# ---------------------------------------------------------------- agents and API keys


class AgentForm(BootstrapMixin, forms.Form):
    name = forms.CharField(max_length=128)
    email = forms.EmailField()
    is_admin = forms.BooleanField(required=False, label="Admin (may change the configuration)")


class NewAgentForm(AgentForm):
    password = forms.CharField(
        required=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="Optional: without one, the agent cannot sign in until a password is set.",
    )


class MembershipForm(BootstrapMixin, forms.Form):
    department = forms.ModelChoiceField(queryset=Department.objects.order_by("name"))
    role = forms.ModelChoiceField(queryset=Role.objects.order_by("name"))
    is_primary = forms.BooleanField(required=False, label="Primary")
    is_available = forms.BooleanField(required=False, initial=True, label="Takes turns")


class BaseMembershipFormSet(SharedChoicesFormSet):
    def clean(self) -> None:
        if any(self.errors):
            return
        seen, primaries = set(), 0
        for form in self.forms:
            data = getattr(form, "cleaned_data", None)
            if not data or data.get("DELETE"):
                continue
            if data["department"].pk in seen:
                raise ValidationError(f"{data['department'].name} is listed twice.")
            seen.add(data["department"].pk)
            primaries += bool(data.get("is_primary"))
        if primaries > 1:
            raise ValidationError("Only one department can be the primary one.")


MembershipFormSet = formset_factory(MembershipForm, formset=BaseMembershipFormSet, extra=1, can_delete=True)


class ApiKeyForm(BootstrapMixin, forms.Form):
    name = forms.CharField(max_length=128, help_text="Who uses it, e.g. “Nagios on mon01”.")
    allowed_addresses = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="IP addresses or CIDR ranges (e.g. 10.0.0.0/24), separated by spaces, commas or lines.",
    )
    can_create_tickets = forms.BooleanField(required=False, initial=True, label="May open tickets")
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


class ReportForm(BootstrapMixin, forms.Form):
    GROUPS = [
        ("plan", "SLA plan"),
        ("department", "Department"),
        ("agent", "Agent"),
        ("day", "Day"),
        ("week", "Week"),
        ("month", "Month"),
    ]
    # Midnight of each day, in any time zone, and of the day after the end must be instants
    # that Python and the database can hold.
    DAYS = (date(1900, 1, 1), date(9998, 12, 31))
    start = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"), label="From")
    end = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"), label="To (inclusive)")
    group_by = forms.ChoiceField(choices=GROUPS, initial="plan", label="Per")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        first, last = self.DAYS
        for name in ("start", "end"):
            if data.get(name) and not first <= data[name] <= last:
                self.add_error(name, f"Enter a date between {first} and {last}.")
                data.pop(name, None)
        if data.get("start") and data.get("end") and data["end"] < data["start"]:
            self.add_error("end", "The end cannot be before the start.")
        if data.get("start") and data.get("end") and (data["end"] - data["start"]).days > 3 * 366:
            self.add_error("end", "Ask for three years at most.")
        return data
