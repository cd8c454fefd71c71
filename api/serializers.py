"""What the REST API reads (…In) and answers (…Out). Inputs are validated here; every change
they describe is made by a service."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db.models import QuerySet
from django.urls import reverse
from rest_framework import serializers

from accounts.models import Role, User
from api.models import DeliveryState, Webhook, WebhookAttempt, WebhookDelivery, WebhookEvent
from sla.models import SLAPlan
from tickets.attachments import Upload
from tickets.models import (
    Attachment,
    Department,
    EntryKind,
    EventKind,
    HelpTopic,
    Priority,
    Status,
    ThreadEntry,
    TicketEvent,
    TicketSource,
    TicketState,
)

# ---------------------------------------------------------------- shared pieces

MAX_ID = 2**63 - 1  # the largest id a database column holds


class RefOut(serializers.Serializer):
    """A related object, as `{"id", "name"}`."""

    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)


class RequesterOut(serializers.Serializer):
    name = serializers.CharField(read_only=True)
    email = serializers.EmailField(read_only=True)


def agents() -> QuerySet[User]:
    return User.objects.filter(kind__in=[User.Kind.AGENT, User.Kind.ADMIN], is_active=True)


def uploads_from(files: list[UploadedFile]) -> list[Upload]:
    """Uploaded files as the services take them; one over the size limit is refused unread."""
    limit = settings.ATTACHMENT_MAX_BYTES
    if len(files) > settings.ATTACHMENT_MAX_FILES:
        raise serializers.ValidationError(
            {"attachments": [f"At most {settings.ATTACHMENT_MAX_FILES} files may be attached."]}
        )
    uploads = []
    for f in files:
        if f.size is not None and f.size > limit:
            raise serializers.ValidationError(
                {"attachments": [f"{f.name} is too large: files may be up to {limit} bytes."]}
            )
        uploads.append(Upload(filename=f.name or "attachment", content=f.read()))
    return uploads


class AttachmentsField(serializers.ListField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("help_text", "Files, sent as multipart/form-data (one `attachments` part per file).")
        super().__init__(child=serializers.FileField(allow_empty_file=True, use_url=False), **kwargs)


# ---------------------------------------------------------------- tickets


class TicketOut(serializers.Serializer):
    number = serializers.IntegerField(read_only=True)
    subject = serializers.CharField(read_only=True)
    status = RefOut(read_only=True)
    state = serializers.ChoiceField(choices=TicketState.choices, read_only=True)
    priority = RefOut(read_only=True)
    department = RefOut(read_only=True)
    help_topic = RefOut(read_only=True, allow_null=True)
    sla_plan = RefOut(read_only=True, allow_null=True)
    assignee = RefOut(read_only=True, allow_null=True)
    requester = RequesterOut(read_only=True)
    source = serializers.ChoiceField(choices=TicketSource.choices, read_only=True)  # type: ignore[assignment]  # a field of that name; DRF's metaclass takes it off the class
    due_at = serializers.DateTimeField(read_only=True, allow_null=True)
    first_response_due_at = serializers.DateTimeField(read_only=True, allow_null=True)
    is_overdue = serializers.BooleanField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)
    resolved_at = serializers.DateTimeField(read_only=True, allow_null=True)
    closed_at = serializers.DateTimeField(read_only=True, allow_null=True)
    version = serializers.IntegerField(
        read_only=True, help_text="Send it back as `version` to refuse your change if someone else changed the ticket."
    )


ORDERINGS = ["number", "created_at", "updated_at", "due_at", "priority"]


class TicketFilterIn(serializers.Serializer):
    status = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID, help_text="Status id.")
    state = serializers.ChoiceField(choices=TicketState.choices, required=False)
    priority = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID, help_text="Priority id.")
    department = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID, help_text="Department id.")
    help_topic = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID, help_text="Help topic id.")
    assignee = serializers.RegexField(
        r"^(?:[1-9][0-9]{0,17}|none|me)$",
        required=False,
        help_text="An agent's id, `me`, or `none` for unassigned tickets.",
        error_messages={"invalid": "Give an agent's id, `me` or `none`."},
    )
    requester = serializers.EmailField(required=False, help_text="The requester's email address.")
    overdue = serializers.BooleanField(required=False, allow_null=True, default=None)
    source = serializers.ChoiceField(choices=TicketSource.choices, required=False)  # type: ignore[assignment]  # a field of that name; DRF's metaclass takes it off the class
    created_after = serializers.DateTimeField(required=False)
    created_before = serializers.DateTimeField(required=False)
    updated_after = serializers.DateTimeField(required=False)
    updated_before = serializers.DateTimeField(required=False)
    q = serializers.CharField(required=False, max_length=200, help_text="Words in the subject, thread or requester.")
    ordering = serializers.ChoiceField(
        choices=[o for name in ORDERINGS for o in (name, f"-{name}")], required=False, default="-created_at"
    )


class RequesterIn(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    name = serializers.CharField(max_length=128, required=False, allow_blank=True, default="")


AGENT_ONLY_CREATE_FIELDS = ("requester", "priority", "department", "sla_plan", "assignee", "source")


class TicketCreateIn(serializers.Serializer):
    requester = RequesterIn(
        required=False, help_text="Agents: who the ticket is for. End users open tickets for themselves."
    )
    subject = serializers.CharField(max_length=255)
    message = serializers.CharField(
        required=False, allow_blank=True, trim_whitespace=False, help_text="Plain text. Or give `message_html`."
    )
    message_html = serializers.CharField(
        required=False, allow_blank=True, trim_whitespace=False, help_text="HTML; it is sanitised."
    )
    help_topic = serializers.PrimaryKeyRelatedField(queryset=HelpTopic.objects.all(), required=False, allow_null=True)
    priority = serializers.PrimaryKeyRelatedField(queryset=Priority.objects.all(), required=False)
    department = serializers.PrimaryKeyRelatedField(queryset=Department.objects.all(), required=False)
    sla_plan = serializers.PrimaryKeyRelatedField(queryset=SLAPlan.objects.all(), required=False, allow_null=True)
    assignee = serializers.PrimaryKeyRelatedField(queryset=agents(), required=False, allow_null=True)
    source = serializers.ChoiceField(choices=TicketSource.choices, required=False, default=TicketSource.API)  # type: ignore[assignment]  # a field of that name; DRF's metaclass takes it off the class
    attachments = AttachmentsField()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        user: User = self.context["request"].user
        if user.is_agent:
            if "requester" not in attrs:
                raise serializers.ValidationError({"requester": ["Say who the ticket is for (email and name)."]})
        else:
            given = [f for f in AGENT_ONLY_CREATE_FIELDS if f in self.initial_data]
            if given:
                raise serializers.ValidationError({f: ["Only agents may set this."] for f in given})
        if not (attrs.get("message") or "").strip() and not (attrs.get("message_html") or "").strip():
            raise serializers.ValidationError({"message": ["Write a message."]})
        return attrs


class TicketUpdateIn(serializers.Serializer):
    priority = serializers.PrimaryKeyRelatedField(queryset=Priority.objects.all(), required=False)
    sla_plan = serializers.PrimaryKeyRelatedField(queryset=SLAPlan.objects.all(), required=False, allow_null=True)
    department = serializers.PrimaryKeyRelatedField(queryset=Department.objects.all(), required=False)
    assignee = serializers.PrimaryKeyRelatedField(queryset=agents(), required=False, allow_null=True)
    help_topic = serializers.PrimaryKeyRelatedField(queryset=HelpTopic.objects.all(), required=False, allow_null=True)
    status = serializers.PrimaryKeyRelatedField(queryset=Status.objects.all(), required=False)
    due_at = serializers.DateTimeField(
        required=False, help_text="Overrides the SLA due date; give a `note` saying why."
    )
    note = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=20000,
        help_text="An internal note kept with the change (the transfer, assignment or status note; the reason for `due_at`).",
    )
    version = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        changes = [f for f in attrs if f not in ("note", "version")]
        if not changes and not (attrs.get("note") or "").strip():
            raise serializers.ValidationError({"non_field_errors": ["Give at least one field to change, or a note."]})
        return attrs


class PostIn(serializers.Serializer):
    body = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False, max_length=200000)
    body_html = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False, max_length=400000)
    attachments = AttachmentsField()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not (attrs.get("body") or "").strip() and not (attrs.get("body_html") or "").strip():
            raise serializers.ValidationError({"body": ["Write a message."]})
        return attrs


class ReplyIn(PostIn):
    status = serializers.PrimaryKeyRelatedField(
        queryset=Status.objects.all(), required=False, help_text="Reply and set this status."
    )
    version = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)


class NoteIn(PostIn):
    title = serializers.CharField(required=False, allow_blank=True, max_length=255)


class AttachmentOut(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    filename = serializers.CharField(read_only=True)
    content_type = serializers.CharField(read_only=True)
    size = serializers.IntegerField(read_only=True)
    url = serializers.SerializerMethodField()

    def get_url(self, attachment: Attachment) -> str:
        number = self.context["ticket_number"]
        return reverse("api:ticket-attachment", kwargs={"number": number, "attachment_id": attachment.pk})


class EntryOut(serializers.Serializer):
    type = serializers.SerializerMethodField()
    id = serializers.IntegerField(read_only=True)
    kind = serializers.ChoiceField(choices=EntryKind.choices, read_only=True)
    author = RefOut(read_only=True, allow_null=True)
    author_name = serializers.CharField(read_only=True)
    title = serializers.CharField(read_only=True)
    body = serializers.CharField(read_only=True, help_text="Plain text.")
    body_html = serializers.CharField(read_only=True, help_text="Sanitised HTML, or empty.")
    source = serializers.ChoiceField(choices=TicketSource.choices, read_only=True)  # type: ignore[assignment]  # a field of that name; DRF's metaclass takes it off the class
    created_at = serializers.DateTimeField(read_only=True)
    attachments = AttachmentOut(many=True, read_only=True)

    def get_type(self, entry: ThreadEntry) -> str:
        return "entry"


class EventOut(serializers.Serializer):
    type = serializers.SerializerMethodField()
    id = serializers.IntegerField(read_only=True)
    kind = serializers.ChoiceField(choices=EventKind.choices, read_only=True)
    actor = RefOut(read_only=True, allow_null=True)
    from_value = serializers.CharField(read_only=True)
    to_value = serializers.CharField(read_only=True)
    entry_id = serializers.IntegerField(read_only=True, allow_null=True)
    data = serializers.JSONField(read_only=True)  # type: ignore[assignment]  # a field of that name; DRF's metaclass takes it off the class
    created_at = serializers.DateTimeField(read_only=True)

    def get_type(self, event: TicketEvent) -> str:
        return "event"


# ---------------------------------------------------------------- signing in


class TokenIn(serializers.Serializer):
    email = serializers.CharField(max_length=254)
    password = serializers.CharField(max_length=1024, trim_whitespace=False, style={"input_type": "password"})


class MeOut(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    email = serializers.EmailField(read_only=True)
    name = serializers.CharField(read_only=True)
    kind = serializers.ChoiceField(choices=User.Kind.choices, read_only=True)


class TokenOut(serializers.Serializer):
    token = serializers.CharField(read_only=True, help_text="Shown once; send as `Authorization: Token <token>`.")
    user = MeOut(read_only=True)


# ---------------------------------------------------------------- reference data


class DepartmentSerializer(serializers.ModelSerializer):
    manager = serializers.PrimaryKeyRelatedField(queryset=agents(), required=False, allow_null=True)

    class Meta:
        model = Department
        fields = [
            "id",
            "name",
            "manager",
            "default_sla_plan",
            "auto_response",
            "email_address",
            "signature",
            "is_active",
        ]


class HelpTopicSerializer(serializers.ModelSerializer):
    auto_assign_to = serializers.PrimaryKeyRelatedField(queryset=agents(), required=False, allow_null=True)

    class Meta:
        model = HelpTopic
        fields = [
            "id",
            "name",
            "department",
            "priority",
            "sla_plan",
            "auto_assign_to",
            "round_robin",
            "is_public",
            "is_active",
        ]


class PrioritySerializer(serializers.ModelSerializer):
    class Meta:
        model = Priority
        fields = ["id", "name", "urgency", "color", "is_default"]
        # Setting a new default clears the old one (config_save), instead of being refused.
        extra_kwargs = {"urgency": {"help_text": "1 is the most urgent."}, "is_default": {"validators": []}}
        validators: list[Any] = []


class StatusSerializer(serializers.ModelSerializer):
    class Meta:
        model = Status
        fields = ["id", "name", "state", "is_default", "order"]
        extra_kwargs: dict[str, dict[str, Any]] = {"is_default": {"validators": []}, "state": {"validators": []}}
        validators: list[Any] = []


class RoleSerializer(serializers.ModelSerializer):
    class Meta:
        model = Role
        fields = ["id", "name", "can_reply", "can_assign", "can_transfer", "can_edit", "can_close", "can_delete"]
        read_only_fields = fields


class MembershipOut(serializers.Serializer):
    department = RefOut(read_only=True)
    role = RefOut(read_only=True)
    is_primary = serializers.BooleanField(read_only=True)
    is_available = serializers.BooleanField(read_only=True)


class MembershipIn(serializers.Serializer):
    department = serializers.PrimaryKeyRelatedField(queryset=Department.objects.all())
    role = serializers.PrimaryKeyRelatedField(queryset=Role.objects.all())
    is_primary = serializers.BooleanField(required=False, default=False)
    is_available = serializers.BooleanField(required=False, default=True)


class AgentOut(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    email = serializers.EmailField(read_only=True)
    name = serializers.CharField(read_only=True)
    phone = serializers.CharField(read_only=True)
    is_admin = serializers.BooleanField(read_only=True)
    is_active = serializers.BooleanField(read_only=True)
    signature = serializers.CharField(read_only=True)
    time_zone = serializers.CharField(read_only=True)
    memberships = MembershipOut(many=True, read_only=True)


def _memberships_valid(value: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if not value:
        raise serializers.ValidationError("An agent needs at least one department.")
    departments = [m["department"].pk for m in value]
    if len(set(departments)) != len(departments):
        raise serializers.ValidationError("Name each department once.")
    if sum(1 for m in value if m["is_primary"]) > 1:
        raise serializers.ValidationError("Only one department can be the primary one.")
    return value


class AgentCreateIn(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    name = serializers.CharField(max_length=128)
    password = serializers.CharField(
        required=False, write_only=True, trim_whitespace=False, max_length=1024, help_text="Empty: set by reset."
    )
    is_admin = serializers.BooleanField(required=False, default=False)
    memberships = MembershipIn(many=True)

    def validate_email(self, value: str) -> str:
        if User.objects.filter(email__iexact=value.strip()).exists():
            raise serializers.ValidationError("Someone already uses this address.")
        return value

    def validate_memberships(self, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return _memberships_valid(value)


class AgentUpdateIn(serializers.Serializer):
    name = serializers.CharField(max_length=128, required=False)
    phone = serializers.CharField(max_length=32, required=False, allow_blank=True)
    signature = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    time_zone = serializers.CharField(required=False, allow_blank=True, max_length=64)
    is_admin = serializers.BooleanField(required=False)
    is_active = serializers.BooleanField(required=False)
    memberships = MembershipIn(many=True, required=False, help_text="Replaces the agent's departments and roles.")

    def validate_memberships(self, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return _memberships_valid(value)


class EndUserSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "email", "name", "phone", "is_active", "organization", "date_joined"]
        read_only_fields = ["date_joined"]

    def validate_email(self, value: str) -> str:
        value = value.strip().lower()
        taken = User.objects.filter(email__iexact=value)
        if self.instance is not None:
            taken = taken.exclude(pk=self.instance.pk)
        if taken.exists():
            raise serializers.ValidationError("Someone already uses this address.")
        return value


class UserFilterIn(serializers.Serializer):
    q = serializers.CharField(required=False, max_length=200, help_text="Part of the name or email.")


# ---------------------------------------------------------------- webhooks


class WebhookSerializer(serializers.ModelSerializer):
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=WebhookEvent.choices), allow_empty=False, max_length=len(WebhookEvent)
    )

    class Meta:
        model = Webhook
        fields = ["id", "name", "url", "events", "is_active", "created_at"]
        read_only_fields = ["created_at"]


class WebhookCreateOut(WebhookSerializer):
    secret = serializers.CharField(read_only=True, help_text="Shown once: verify X-Helpdesk-Signature with it.")

    class Meta(WebhookSerializer.Meta):
        fields = [*WebhookSerializer.Meta.fields, "secret"]


class WebhookUpdateIn(WebhookSerializer):
    rotate_secret = serializers.BooleanField(required=False, default=False, write_only=True)

    class Meta(WebhookSerializer.Meta):
        fields = [*WebhookSerializer.Meta.fields, "rotate_secret"]
        extra_kwargs = {"name": {"required": False}, "url": {"required": False}}


class WebhookAttemptOut(serializers.ModelSerializer):
    class Meta:
        model = WebhookAttempt
        fields = ["attempted_at", "status_code", "error", "response_excerpt", "duration_ms"]
        read_only_fields = fields


class WebhookDeliveryOut(serializers.ModelSerializer):
    state = serializers.ChoiceField(choices=DeliveryState.choices, read_only=True)
    event_type = serializers.ChoiceField(choices=WebhookEvent.choices, read_only=True)
    redelivery_of: serializers.PrimaryKeyRelatedField = serializers.PrimaryKeyRelatedField(
        read_only=True, allow_null=True
    )

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "uuid",
            "event_type",
            "state",
            "attempts",
            "last_status_code",
            "last_error",
            "redelivery_of",
            "created_at",
            "next_attempt_at",
            "delivered_at",
        ]
        read_only_fields = fields


class WebhookDeliveryDetailOut(WebhookDeliveryOut):
    attempt_log = WebhookAttemptOut(many=True, read_only=True)
    payload = serializers.JSONField(read_only=True)

    class Meta(WebhookDeliveryOut.Meta):
        fields = [*WebhookDeliveryOut.Meta.fields, "payload", "attempt_log"]
        read_only_fields = fields
