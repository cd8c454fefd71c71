"""The client portal's forms: opening a ticket, checking its status, replying and rating.

Forms check what a person typed and give each error beside its field; the ticket services
check it again (they are the rules) and the views put what they refuse beside the field too.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.template.defaultfilters import filesizeformat

from accounts.models import User, UserManager
from tickets.attachments import Upload, attachment_check, safe_filename
from tickets.exceptions import InvalidInput
from tickets.models import HelpTopic
from tickets.sanitize import single_line

BODY_MAX = 65_535


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class AttachmentsField(forms.FileField):
    """Several files in one field, each checked by content, size and count: the cleaned value
    is a list of Uploads ready for the services."""

    widget = MultipleFileInput

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("label", "Attachments")
        super().__init__(**kwargs)
        self.show_limits()

    def __deepcopy__(self, memo: dict[int, Any]) -> AttachmentsField:
        # Each form gets a copy of the field: the limits it shows are read from the settings
        # then, not frozen when the form class was defined.
        field = super().__deepcopy__(memo)
        field.show_limits()
        return field

    def show_limits(self) -> None:
        files, size = settings.ATTACHMENT_MAX_FILES, settings.ATTACHMENT_MAX_BYTES
        self.help_text = f"Up to {files} files of {filesizeformat(size)} each: images, PDF, office documents, archives or text files."
        self.widget.attrs.update({"data-max-files": files, "data-max-bytes": size})

    def clean(self, data: Any, initial: Any = None) -> list[Upload]:  # type: ignore[override]
        files: list[UploadedFile] = [f for f in (data if isinstance(data, list | tuple) else [data]) if f]
        if len(files) > settings.ATTACHMENT_MAX_FILES:
            raise forms.ValidationError(
                f"Attach at most {settings.ATTACHMENT_MAX_FILES} files (you chose {len(files)})."
            )
        uploads: list[Upload] = []
        errors: list[str] = []
        for file in files:
            name = safe_filename(file.name or "")
            if file.size is not None and file.size > settings.ATTACHMENT_MAX_BYTES:
                # Refused by its size before reading it into memory.
                limit = filesizeformat(settings.ATTACHMENT_MAX_BYTES)
                errors.append(f"{name} is too large: files may be up to {limit}.")
                continue
            upload = Upload(filename=file.name or "", content=file.read())
            try:
                attachment_check(upload)
            except InvalidInput as refused:
                errors.append(refused.message)
                continue
            uploads.append(upload)
        if errors:
            raise forms.ValidationError(errors)
        return uploads


def _one_line(value: str, field: str, limit: int = 255) -> str:
    cleaned = single_line(value, limit)
    if not cleaned:
        raise forms.ValidationError(f"Enter {field}.")
    return cleaned


class TicketOpenForm(forms.Form):
    """A new ticket. Guests give their contact details; a signed-in user's come from the account."""

    help_topic = forms.ModelChoiceField(
        queryset=HelpTopic.objects.none(), empty_label="Choose a topic…", label="Help topic"
    )
    name = forms.CharField(label="Your name", max_length=128, widget=forms.TextInput(attrs={"autocomplete": "name"}))
    email = forms.EmailField(
        label="Email address",
        max_length=254,
        help_text="We send the ticket number and a link to follow it here.",
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    phone = forms.CharField(
        label="Phone (optional)", max_length=32, required=False, widget=forms.TextInput(attrs={"autocomplete": "tel"})
    )
    subject = forms.CharField(label="Summary", max_length=255, help_text="One line: what is wrong, or what you need.")
    body = forms.CharField(
        label="Description",
        max_length=BODY_MAX,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text="What happened, what you expected, and anything you already tried.",
    )
    attachments = AttachmentsField()

    def __init__(self, *args: Any, user: User | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        topics = HelpTopic.objects.filter(is_active=True, is_public=True).order_by("name")
        topic_field = self.fields["help_topic"]
        assert isinstance(topic_field, forms.ModelChoiceField)  # nosec B101 (narrows the type for mypy; the field is declared above)
        topic_field.queryset = topics
        if not topics.exists():
            # A help desk with no public topics yet still takes tickets (its first department).
            topic_field.required = False
            topic_field.widget = forms.HiddenInput()
        if user is not None and user.is_authenticated:
            for name in ("name", "email", "phone"):
                del self.fields[name]

    def clean_name(self) -> str:
        return _one_line(self.cleaned_data["name"], "your name", 128)

    def clean_email(self) -> str:
        return UserManager.normalize_email(self.cleaned_data["email"])

    def clean_phone(self) -> str:
        return single_line(self.cleaned_data.get("phone", ""), 32)

    def clean_subject(self) -> str:
        return _one_line(self.cleaned_data["subject"], "a summary")

    def clean_body(self) -> str:
        body = self.cleaned_data["body"].strip()
        if not body:
            raise forms.ValidationError("Describe the problem or the request.")
        return body


class StatusCheckForm(forms.Form):
    email = forms.EmailField(
        label="Email address", max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )
    number = forms.RegexField(
        label="Ticket number",
        regex=r"^\s*#?\s*[1-9][0-9]{0,18}\s*$",
        max_length=24,
        error_messages={"invalid": "Enter the ticket number: digits only, as in the email we sent."},
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )

    def clean_email(self) -> str:
        return UserManager.normalize_email(self.cleaned_data["email"])

    def clean_number(self) -> int:
        return int(self.cleaned_data["number"].strip().lstrip("#").strip())


class ReplyForm(forms.Form):
    body = forms.CharField(label="Your reply", max_length=BODY_MAX, widget=forms.Textarea(attrs={"rows": 5}))
    attachments = AttachmentsField()

    def clean_body(self) -> str:
        body = self.cleaned_data["body"].strip()
        if not body:
            raise forms.ValidationError("Write a reply.")
        return body


class RateForm(forms.Form):
    rating = forms.TypedChoiceField(
        label="How did we do?",
        coerce=int,
        choices=[(5, "5: excellent"), (4, "4: good"), (3, "3: fair"), (2, "2: poor"), (1, "1: very poor")],
        widget=forms.RadioSelect,
        error_messages={"required": "Choose a rating from 1 to 5.", "invalid_choice": "Choose a rating from 1 to 5."},
    )
    comment = forms.CharField(
        label="Comment (optional)", required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 3})
    )
