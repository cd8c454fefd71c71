"""The staff panel's forms.

Menus are filled from `tickets.choices.ReferenceData` (read once per page), not from a query
per field; the chosen object is read when the form is cleaned.
"""

from __future__ import annotations

import functools
import zoneinfo
from datetime import date, datetime, time, timedelta
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth.forms import PasswordResetForm
from django.core.files.uploadedfile import UploadedFile
from django.db.models import QuerySet
from django.forms.utils import flatatt
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from accounts.models import User
from sla.models import SLAPlan
from tickets.attachments import Upload, safe_filename
from tickets.choices import ReferenceData
from tickets.exceptions import InvalidInput
from tickets.models import CannedResponse, Department, HelpTopic, Priority, Status, Ticket, TicketSource
from tickets.queues import QUEUES, SORTS
from tickets.search import tickets_search


def _optional(pairs: list[tuple[int, str]], blank: str) -> list[tuple[str, str]]:
    return [("", blank), *((str(pk), name) for pk, name in pairs)]


def _get(model: Any, pk: int | None, message: str) -> Any:
    if pk is None:
        return None
    obj = model.objects.filter(pk=pk).first()
    if obj is None:
        raise forms.ValidationError(message)
    return obj


def _int_or_none(value: str) -> int | None:
    return int(value) if value not in ("", None) else None


def form_error_from(form: forms.Form, error: InvalidInput) -> None:
    """Show a service's refusal beside the field it names, or above the form."""
    field = error.field if error.field in form.fields else None
    form.add_error(field, error.message)


class FastSelect(forms.Select):
    """A select whose options are written in Python, not through the template engine: a menu
    of two hundred agents costs tens of milliseconds the template way, on every page."""

    def render(self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None) -> SafeString:
        # Widget.get_context: the name, the attributes and the value as strings, without
        # ChoiceWidget's dictionary per option (create_option), the other half of the cost.
        widget = forms.Widget.get_context(self, name, value, attrs)["widget"]
        chosen = set(widget["value"])
        parts: list[str] = [format_html('<select name="{}"{}>', widget["name"], flatatt(widget["attrs"]))]
        selected_one = False

        def option(option_value: Any, label: Any) -> str:
            nonlocal selected_one
            text = "" if option_value is None else str(option_value)
            selected = text in chosen and (self.allow_multiple_selected or not selected_one)
            selected_one = selected_one or selected
            return format_html('<option value="{}"{}>{}</option>', text, " selected" if selected else "", label)

        for group_value, group_label in self.choices:
            if isinstance(group_label, list | tuple):
                parts.append(format_html('<optgroup label="{}">', group_value))
                parts.extend(option(v, label) for v, label in group_label)
                parts.append("</optgroup>")
            else:
                parts.append(option(group_value, group_label))
        parts.append("</select>")
        return mark_safe("".join(parts))  # noqa: S308  # nosec B308, B703 (every part is escaped by format_html)


def _fast_selects(form: forms.Form) -> None:
    for field in form.fields.values():
        if type(field.widget) is forms.Select:
            field.widget = FastSelect(attrs=field.widget.attrs, choices=field.widget.choices)


class StaffForm(forms.Form):
    """Widgets carry their Bootstrap classes, so that templates render fields without a
    per-field template pack (the ticket page has a dozen forms)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _fast_selects(self)
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, forms.HiddenInput):
                continue
            if isinstance(widget, forms.CheckboxInput):
                css = "form-check-input"
            elif isinstance(widget, forms.Select):
                css = "form-select form-select-sm"
            else:
                css = "form-control form-control-sm"
            widget.attrs.setdefault("class", css)

    def add_error(self, field: str | None, error: Any) -> None:
        super().add_error(field, error)
        # Validation and the services' refusals both come through here: mark the fields.
        for name in getattr(self, "_errors", None) or {}:
            if name in self.fields:
                attrs = self.fields[name].widget.attrs
                if "is-invalid" not in attrs.get("class", ""):
                    attrs["class"] = f"{attrs.get('class', '')} is-invalid".strip()
                    attrs["aria-describedby"] = f"{self[name].auto_id}_error"


class VersionField(forms.IntegerField):
    """The ticket's version when the form was loaded: a stale edit is refused by the services."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(required=False, min_value=1, widget=forms.HiddenInput, **kwargs)


# ---------------------------------------------------------------- lists


class TicketFilterForm(StaffForm):
    """The filters of a ticket list, from the query string."""

    q = forms.CharField(required=False, max_length=200, label="Search")
    status = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)
    priority = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)
    department = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)
    help_topic = forms.TypedChoiceField(required=False, coerce=int, empty_value=None, label="Help topic")
    assignee = forms.ChoiceField(required=False)
    overdue = forms.ChoiceField(required=False, choices=[("", "Any"), ("yes", "Overdue"), ("no", "Not overdue")])
    source = forms.ChoiceField(required=False, choices=[("", "Any source"), *TicketSource.choices])
    created_from = forms.DateField(required=False, label="Created from", widget=forms.DateInput(attrs={"type": "date"}))
    created_to = forms.DateField(required=False, label="Created to", widget=forms.DateInput(attrs={"type": "date"}))
    updated_from = forms.DateField(required=False, label="Updated from", widget=forms.DateInput(attrs={"type": "date"}))
    updated_to = forms.DateField(required=False, label="Updated to", widget=forms.DateInput(attrs={"type": "date"}))
    sort = forms.ChoiceField(required=False, widget=forms.HiddenInput)

    # The fields that narrow the list (what a saved queue keeps).
    FILTERS = (
        "q",
        "status",
        "priority",
        "department",
        "help_topic",
        "assignee",
        "overdue",
        "source",
        "created_from",
        "created_to",
        "updated_from",
        "updated_to",
        "sort",
    )

    def __init__(self, *args: Any, ref: ReferenceData, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        fields = self.fields
        fields["status"].choices = _optional(ref.pairs("statuses"), "Any status")  # type: ignore[attr-defined]
        fields["priority"].choices = _optional(ref.pairs("priorities"), "Any priority")  # type: ignore[attr-defined]
        fields["department"].choices = _optional(ref.pairs("departments"), "Any department")  # type: ignore[attr-defined]
        fields["help_topic"].choices = _optional(ref.pairs("help_topics"), "Any topic")  # type: ignore[attr-defined]
        fields["assignee"].choices = [  # type: ignore[attr-defined]
            ("", "Anyone"),
            ("none", "Unassigned"),
            ("me", "Me"),
            *((str(pk), name) for pk, name in ref.pairs("agents")),
        ]
        fields["sort"].choices = [  # type: ignore[attr-defined]
            ("", ""),
            *((key, key) for key in SORTS),
            *((f"-{key}", f"-{key}") for key in SORTS),
        ]
        for name in ("created_from", "updated_from"):
            fields[name].error_messages["invalid"] = "Enter a date such as 2026-01-31."
        for name in ("created_from", "created_to", "updated_from", "updated_to"):
            fields[name].validators.append(_day_in_range)

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        for start, end in (("created_from", "created_to"), ("updated_from", "updated_to")):
            if data.get(start) and data.get(end) and data[start] > data[end]:
                self.add_error(end, "The end of the range is before its start.")
        return data

    def active(self) -> dict[str, str]:
        """The valid filters in use, as query-string values (for links, saved queues and export)."""
        if not self.is_bound:
            return {}
        self.is_valid()
        values = {name: str(self.data.get(name) or "").strip() for name in self.FILTERS}
        return {name: value for name, value in values.items() if value and name not in self.errors}

    def narrow(self, tickets: QuerySet[Ticket], user: User) -> QuerySet[Ticket]:
        """The tickets matching the valid filters; a filter with an error is left out."""
        if not self.is_bound:
            return tickets
        self.is_valid()
        data = {k: v for k, v in self.cleaned_data.items() if k not in self.errors}
        for name in ("status", "priority", "department", "help_topic"):
            if data.get(name) is not None:
                tickets = tickets.filter(**{f"{name}_id": data[name]})
        assignee = data.get("assignee")
        if assignee == "none":
            tickets = tickets.filter(assignee__isnull=True)
        elif assignee == "me":
            tickets = tickets.filter(assignee_id=user.pk)
        elif assignee:
            tickets = tickets.filter(assignee_id=int(assignee))
        if data.get("overdue"):
            tickets = tickets.filter(is_overdue=data["overdue"] == "yes")
        if data.get("source"):
            tickets = tickets.filter(source=data["source"])
        for name, column in (("created", "created_at"), ("updated", "updated_at")):
            if data.get(f"{name}_from"):
                tickets = tickets.filter(**{f"{column}__gte": _day_start(data[f"{name}_from"])})
            if data.get(f"{name}_to"):
                tickets = tickets.filter(**{f"{column}__lt": _day_start(data[f"{name}_to"] + timedelta(days=1))})
        if data.get("q"):
            tickets = tickets_search(tickets, data["q"])
        return tickets


# The days a filter may name: midnight of each, in any time zone, and the day after the last,
# are instants that Python and the database can hold.
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(9998, 12, 31)


def _day_in_range(day: date) -> None:
    if not FIRST_DAY <= day <= LAST_DAY:
        raise forms.ValidationError(f"Enter a date between {FIRST_DAY} and {LAST_DAY}.")


def _day_start(day: date) -> datetime:
    # Dates are the agent's: midnight in their time zone (activated for each staff request).
    return timezone.make_aware(datetime.combine(day, time.min))


class SaveQueueForm(forms.Form):
    name = forms.CharField(
        max_length=64, label="Queue name", widget=forms.TextInput(attrs={"class": "form-control form-control-sm"})
    )
    is_shared = forms.BooleanField(required=False, label="Share with all agents")
    base = forms.ChoiceField(choices=[(k, q.title) for k, q in QUEUES.items()], widget=forms.HiddenInput)


class BulkForm(forms.Form):
    ACTIONS = [("assign", "Assign"), ("transfer", "Transfer"), ("priority", "Set priority"), ("status", "Set status")]

    tickets = forms.TypedMultipleChoiceField(coerce=int, error_messages={"required": "Select at least one ticket."})
    action = forms.ChoiceField(choices=ACTIONS)
    assignee = forms.ChoiceField(required=False, label="Assign to")
    department = forms.TypedChoiceField(required=False, coerce=int, empty_value=None, label="Transfer to")
    priority = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)
    status = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)

    def __init__(self, *args: Any, ref: ReferenceData, numbers: list[int] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _fast_selects(self)
        # Any number is accepted here; whether the agent may see the ticket is checked per ticket.
        submitted = self.data.getlist("tickets") if hasattr(self.data, "getlist") else []
        self.fields["tickets"].choices = [(n, n) for n in (numbers or submitted)]  # type: ignore[attr-defined]
        self.fields["assignee"].choices = [  # type: ignore[attr-defined]
            ("", "—"),
            ("none", "Nobody (unassign)"),
            *((str(pk), name) for pk, name in ref.pairs("agents")),
        ]
        self.fields["department"].choices = _optional(ref.pairs("departments"), "—")  # type: ignore[attr-defined]
        self.fields["priority"].choices = _optional(ref.pairs("priorities"), "—")  # type: ignore[attr-defined]
        self.fields["status"].choices = _optional(ref.pairs("statuses"), "—")  # type: ignore[attr-defined]
        for name in ("assignee", "department", "priority", "status"):
            self.fields[name].widget.attrs.update({"id": f"bulk-{name}", "class": "form-select form-select-sm"})

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        action = data.get("action")
        needed = {"assign": "assignee", "transfer": "department", "priority": "priority", "status": "status"}
        if action and not data.get(needed[action]):
            self.add_error(needed[action], "Choose a value for this action.")
        return data


# ---------------------------------------------------------------- the ticket page


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class AttachmentsField(forms.FileField):
    """Several files in one input; cleaned to a list of Uploads (checked by the services)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(required=False, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[Upload]:
        files = data if isinstance(data, list | tuple) else [data]
        files = [f for f in files if f]
        if len(files) > settings.ATTACHMENT_MAX_FILES:
            raise forms.ValidationError(f"Attach at most {settings.ATTACHMENT_MAX_FILES} files.")
        uploads = []
        for f in files:
            if f.size is not None and f.size > settings.ATTACHMENT_MAX_BYTES:
                # Refused by its size, unread (the upload handler kept none of it).
                limit = filesizeformat(settings.ATTACHMENT_MAX_BYTES)
                raise forms.ValidationError(f"{safe_filename(f.name or '')} is too large: files may be up to {limit}.")
            checked: UploadedFile = super().clean(f, initial)
            uploads.append(Upload(filename=checked.name or "attachment", content=checked.read()))
        return uploads


class ReplyForm(StaffForm):
    body = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 6}),
        required=False,
        label="Reply",
        strip=False,
    )
    canned = forms.TypedChoiceField(required=False, coerce=int, empty_value=None, label="Canned response")
    attachments = AttachmentsField(label="Attachments")
    status = forms.TypedChoiceField(required=False, coerce=int, empty_value=None, label="and set status")
    signature = forms.BooleanField(required=False, initial=True, label="Append my signature")
    version = VersionField()
    # The newest thread entry the agent had seen, and whether they confirmed sending anyway
    # after being shown what they had not seen.
    seen = forms.IntegerField(required=False, widget=forms.HiddenInput)
    confirmed = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def __init__(
        self, *args: Any, ref: ReferenceData, canned: list[CannedResponse], ticket: Ticket, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.canned_responses = {c.pk: c for c in canned}
        self.fields["canned"].choices = [("", "Insert a canned response…"), *((c.pk, c.title) for c in canned)]  # type: ignore[attr-defined]
        self.fields["status"].choices = [  # type: ignore[attr-defined]
            ("", f"Keep ({ticket.status.name})"),
            *((s.id, s.name) for s in ref.statuses if s.id != ticket.status_id),
        ]

    def clean_status(self) -> Status | None:
        return _get(Status, self.cleaned_data.get("status"), "Choose a status from the list.")

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        body = (data.get("body") or "").strip()
        canned = self.canned_responses.get(data.get("canned") or 0)
        data["canned_response"] = canned
        if not body and canned is None:
            self.add_error("body", "Write a reply.")
        return data


class NoteForm(StaffForm):
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), label="Internal note", strip=False)
    title = forms.CharField(required=False, max_length=255, label="Title")
    attachments = AttachmentsField(label="Attachments")

    def clean_body(self) -> str:
        body = self.cleaned_data["body"]
        if not body.strip():
            raise forms.ValidationError("Write a note.")
        return str(body)


class AssignForm(StaffForm):
    assignee = forms.TypedChoiceField(required=False, coerce=int, empty_value=None, label="Assign to")
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}), label="Note")
    version = VersionField()

    def __init__(self, *args: Any, ref: ReferenceData, department_id: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["assignee"].choices = [  # type: ignore[attr-defined]
            ("", "Nobody"),
            *((a.id, a.name) for a in ref.holders(department_id)),
        ]

    def clean_assignee(self) -> User | None:
        return _get(User, self.cleaned_data.get("assignee"), "Choose an agent from the list.")


class TransferForm(StaffForm):
    department = forms.TypedChoiceField(coerce=int, label="Department")
    assignee = forms.TypedChoiceField(required=False, coerce=int, empty_value=None, label="and assign to")
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}), label="Note for them")
    version = VersionField()

    def __init__(self, *args: Any, ref: ReferenceData, department_id: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["department"].choices = [  # type: ignore[attr-defined]
            ("", "Choose…"),
            *((d.id, d.name) for d in ref.departments if d.id != department_id),
        ]
        self.fields["assignee"].choices = [("", "Nobody"), *((a.id, a.name) for a in ref.agents)]  # type: ignore[attr-defined]
        # Which departments each agent may hold tickets of, for the page's script to narrow
        # the list to the chosen department.
        self.holds = {a.id: sorted(d.id for d in ref.departments if ref.may_hold(a.id, d.id)) for a in ref.agents}

    def clean_department(self) -> Department:
        return _get(Department, self.cleaned_data.get("department"), "Choose a department from the list.")  # type: ignore[no-any-return]

    def clean_assignee(self) -> User | None:
        return _get(User, self.cleaned_data.get("assignee"), "Choose an agent from the list.")


class PriorityForm(StaffForm):
    priority = forms.TypedChoiceField(coerce=int, label="Priority")
    version = VersionField()

    def __init__(self, *args: Any, ref: ReferenceData, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["priority"].choices = ref.pairs("priorities")  # type: ignore[attr-defined]

    def clean_priority(self) -> Priority:
        return _get(Priority, self.cleaned_data.get("priority"), "Choose a priority from the list.")  # type: ignore[no-any-return]


class SLAPlanForm(StaffForm):
    sla_plan = forms.TypedChoiceField(required=False, coerce=int, empty_value=None, label="SLA plan")
    version = VersionField()

    def __init__(self, *args: Any, ref: ReferenceData, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["sla_plan"].choices = _optional(ref.pairs("sla_plans"), "No SLA")  # type: ignore[attr-defined]

    def clean_sla_plan(self) -> SLAPlan | None:
        return _get(SLAPlan, self.cleaned_data.get("sla_plan"), "Choose an SLA plan from the list.")


class HelpTopicForm(StaffForm):
    help_topic = forms.TypedChoiceField(required=False, coerce=int, empty_value=None, label="Help topic")
    version = VersionField()

    def __init__(self, *args: Any, ref: ReferenceData, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["help_topic"].choices = _optional(ref.pairs("help_topics"), "None")  # type: ignore[attr-defined]

    def clean_help_topic(self) -> HelpTopic | None:
        return _get(HelpTopic, self.cleaned_data.get("help_topic"), "Choose a help topic from the list.")


class StatusForm(StaffForm):
    status = forms.TypedChoiceField(coerce=int, label="Status")
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}), label="Note")
    version = VersionField()

    def __init__(self, *args: Any, ref: ReferenceData, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["status"].choices = ref.pairs("statuses")  # type: ignore[attr-defined]

    def clean_status(self) -> Status:
        return _get(Status, self.cleaned_data.get("status"), "Choose a status from the list.")  # type: ignore[no-any-return]


class DueForm(StaffForm):
    due_at = forms.DateTimeField(
        label="Due",
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        error_messages={"invalid": "Enter a date and time such as 2026-01-31 17:00."},
    )
    reason = forms.CharField(max_length=500, label="Reason")
    version = VersionField()

    def clean_due_at(self) -> datetime:
        # Read in the agent's time zone (activated for the request) and stored in UTC.
        due: datetime = self.cleaned_data["due_at"]
        if due <= timezone.now():
            raise forms.ValidationError("Choose a time in the future.")
        return due

    def clean_reason(self) -> str:
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError("Say why the due date changes.")
        return str(reason)


class CollaboratorForm(StaffForm):
    email = forms.EmailField(label="Email")
    name = forms.CharField(required=False, max_length=128, label="Name")


class TicketNumberForm(StaffForm):
    """Merge into, or link with, another ticket by its number."""

    number = forms.IntegerField(
        min_value=1, label="Ticket number", error_messages={"invalid": "Enter a ticket number."}
    )

    def clean_number(self) -> int:
        return int(str(self.cleaned_data["number"]).lstrip("#"))


# ---------------------------------------------------------------- canned responses, profile


class CannedResponseForm(forms.Form):
    title = forms.CharField(max_length=128)
    body = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text="Placeholders: %{ticket.number}, %{ticket.subject}, %{requester.name}, "
        "%{requester.first_name}, %{agent.name}, %{department.name}.",
    )
    department = forms.TypedChoiceField(
        required=False,
        coerce=int,
        empty_value=None,
        label="Shared with",
        help_text="Personal responses are yours alone; a department's are offered to all its agents.",
    )
    is_active = forms.BooleanField(required=False, initial=True, label="Active")

    def __init__(self, *args: Any, departments: list[Department], is_admin: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices: list[tuple[Any, str]] = [("", "Only me (personal)")]
        choices += [(d.pk, d.name) for d in departments]
        if is_admin:
            choices.append((0, "Everyone (all departments)"))
        self.fields["department"].choices = choices  # type: ignore[attr-defined]


@functools.cache
def _time_zones() -> list[str]:
    # Listing the zones reads the system's zone files: once per process is enough.
    return sorted(zoneinfo.available_timezones())


class ProfileForm(StaffForm):
    name = forms.CharField(max_length=128)
    signature = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 4}), help_text="Appended to your replies."
    )
    time_zone = forms.ChoiceField(
        required=False, help_text="Times in the staff panel are shown in this zone; empty: the server's."
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        zones = _time_zones()
        self.fields["time_zone"].choices = [("", f"Server default ({settings.TIME_ZONE})"), *((z, z) for z in zones)]  # type: ignore[attr-defined]
        self.fields["time_zone"].error_messages["invalid_choice"] = (
            "Unknown time zone %(value)s; choose one from the list, such as Europe/Berlin."
        )


class StaffPasswordResetForm(PasswordResetForm):
    """Password reset for agents: the address only. Who gets a link is decided when the mail is
    made (accounts.mail, "staff_reset"), and the page says the same whatever the address."""
