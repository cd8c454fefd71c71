"""SLA configuration through the REST API: /api/v1/schedules/ and /api/v1/sla-plans/ (with
/preview/). Admins write, agents read, end users get 403. Thin views: input serializers
check the shape, the services in sla/services.py decide and write, output serializers answer.
"""

from __future__ import annotations

from datetime import UTC, time
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field, extend_schema_view
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User
from sla import deadlines
from sla.models import Schedule, SLAPlan
from sla.services import (
    HolidaySpec,
    IntervalSpec,
    InUse,
    PlanFields,
    PriorityTargetSpec,
    schedule_create,
    schedule_delete,
    schedule_update,
    sla_plan_create,
    sla_plan_delete,
    sla_plan_preview,
    sla_plan_update,
)
from tickets.models import Priority, Status


class AdminsWriteAgentsRead(BasePermission):
    message = "Only agents may read the SLA configuration, and only admins may change it."

    def has_permission(self, request: Request, view: APIView) -> bool:
        user = request.user
        if not (user and user.is_authenticated and user.is_active):
            return False
        if request.method in SAFE_METHODS:
            return bool(user.is_agent)  # type: ignore[union-attr]
        return bool(user.is_admin)  # type: ignore[union-attr]


def _service_errors(exc: DjangoValidationError) -> serializers.ValidationError:
    """A service's refusal as a 400 naming the field."""
    if hasattr(exc, "error_dict"):
        return serializers.ValidationError(exc.message_dict)
    return serializers.ValidationError({"non_field_errors": exc.messages})


def _body(request: Request) -> dict[str, Any]:
    if not isinstance(request.data, dict):
        raise serializers.ValidationError({"non_field_errors": ["Send a JSON object."]})
    return dict(request.data.items())


# ---------------------------------------------------------------- schedules


@extend_schema_field({"type": "string", "pattern": "^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$", "example": "09:00"})
class ClockTimeField(serializers.Field):
    """ "HH:MM"; an interval's end may be "24:00" (or "00:00"), midnight at the day's end."""

    default_error_messages = {"invalid": "Give a time as HH:MM, from 00:00 to 24:00."}

    def to_internal_value(self, data: Any) -> time:
        if not isinstance(data, str):
            self.fail("invalid")
        try:
            hours, minutes = (int(part) for part in data.strip().split(":"))
        except ValueError:
            self.fail("invalid")
        if (hours, minutes) == (24, 0):
            return time(0)
        if not (0 <= hours <= 23 and 0 <= minutes <= 59):
            self.fail("invalid")
        return time(hours, minutes)

    def to_representation(self, value: time) -> str:
        return f"{value:%H:%M}"


class IntervalSerializer(serializers.Serializer):
    weekday = serializers.IntegerField(min_value=0, max_value=6, help_text="0 is Monday, 6 is Sunday.")
    start = ClockTimeField(help_text="HH:MM, in the schedule's time zone.")
    end = ClockTimeField(help_text='HH:MM; "24:00" for midnight at the day\'s end. No crossing midnight.')

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        start, end = IntervalSpec(attrs["weekday"], attrs["start"], attrs["end"]).minutes
        if end <= start:
            raise serializers.ValidationError(
                {"end": "An interval must end after it starts, on the same day (split one that crosses midnight)."}
            )
        return attrs

    def to_representation(self, instance: Any) -> dict[str, Any]:
        data = super().to_representation(instance)
        if instance.end == time(0):
            data["end"] = "24:00"
        return data


class HolidaySerializer(serializers.Serializer):
    date = serializers.DateField()
    name = serializers.CharField(max_length=128, required=False, allow_blank=True, default="")
    end_date = serializers.DateField(required=False, allow_null=True, default=None, help_text="Last day of a range.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("end_date") and attrs["end_date"] < attrs["date"]:
            raise serializers.ValidationError({"end_date": "The last day cannot be before the first."})
        return attrs


class ScheduleSerializer(serializers.Serializer):
    """A business-hours schedule, in and out."""

    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(max_length=128)
    timezone = serializers.CharField(max_length=64, help_text="An IANA name, e.g. Europe/Berlin.")
    intervals = IntervalSerializer(many=True)
    holidays = HolidaySerializer(many=True, required=False, default=list)

    def validate_timezone(self, value: str) -> str:
        try:
            deadlines.Calendar.build(timezone=value, weekly=[[(0, 1)]] * 7)
        except deadlines.CalendarError:
            raise serializers.ValidationError(
                f"Unknown time zone {value!r}; use an IANA name such as Europe/Berlin."
            ) from None
        return value

    def specs(self) -> dict[str, Any]:
        data = self.validated_data
        return {
            "name": data["name"],
            "timezone_name": data["timezone"],
            "intervals": [IntervalSpec(i["weekday"], i["start"], i["end"]) for i in data["intervals"]],
            "holidays": [HolidaySpec(h["date"], h["name"], h["end_date"]) for h in data["holidays"]],
        }


def schedule_out(schedule: Schedule) -> dict[str, Any]:
    return ScheduleSerializer(
        {
            "id": schedule.pk,
            "name": schedule.name,
            "timezone": schedule.timezone,
            "intervals": list(schedule.intervals.all()),
            "holidays": list(schedule.holidays.all()),
        }
    ).data


@extend_schema_view(
    list=extend_schema(responses=ScheduleSerializer(many=True), summary="Business-hours schedules"),
    retrieve=extend_schema(responses=ScheduleSerializer),
    create=extend_schema(request=ScheduleSerializer, responses={201: ScheduleSerializer}),
    update=extend_schema(request=ScheduleSerializer, responses=ScheduleSerializer),
    partial_update=extend_schema(request=ScheduleSerializer(partial=True), responses=ScheduleSerializer),
    destroy=extend_schema(responses={204: None, 409: OpenApiResponse(description="Used by a plan.")}),
)
class ScheduleViewSet(viewsets.GenericViewSet):
    permission_classes = [AdminsWriteAgentsRead]
    serializer_class = ScheduleSerializer
    pagination_class = None

    def get_queryset(self) -> QuerySet[Schedule]:
        return Schedule.objects.prefetch_related("intervals", "holidays").order_by("name")

    def list(self, request: Request) -> Response:
        return Response([schedule_out(s) for s in self.get_queryset()])

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(schedule_out(self.get_object()))

    def create(self, request: Request) -> Response:
        serializer = ScheduleSerializer(data=_body(request))
        serializer.is_valid(raise_exception=True)
        try:
            schedule = schedule_create(**serializer.specs())
        except DjangoValidationError as exc:
            raise _service_errors(exc) from None
        return Response(schedule_out(self.get_queryset().get(pk=schedule.pk)), status=status.HTTP_201_CREATED)

    def update(self, request: Request, pk: str, partial: bool = False) -> Response:
        schedule = self.get_object()
        current = schedule_out(schedule)
        data = {**current, **_body(request)} if partial else _body(request)
        serializer = ScheduleSerializer(data=data)
        serializer.is_valid(raise_exception=True)
        try:
            schedule_update(schedule=schedule, **serializer.specs())
        except DjangoValidationError as exc:
            raise _service_errors(exc) from None
        return Response(schedule_out(self.get_queryset().get(pk=schedule.pk)))

    def partial_update(self, request: Request, pk: str) -> Response:
        return self.update(request, pk, partial=True)

    def destroy(self, request: Request, pk: str) -> Response:
        try:
            schedule_delete(schedule=self.get_object())
        except InUse as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        return Response(status=status.HTTP_204_NO_CONTENT)


# ---------------------------------------------------------------- plans


class PriorityTargetSerializer(serializers.Serializer):
    priority = serializers.SlugRelatedField(slug_field="name", queryset=Priority.objects.all())
    first_response_minutes = serializers.IntegerField(min_value=1, allow_null=True, required=False, default=None)
    resolution_minutes = serializers.IntegerField(min_value=1, allow_null=True, required=False, default=None)
    next_response_minutes = serializers.IntegerField(min_value=1, allow_null=True, required=False, default=None)


class PlanSerializer(serializers.Serializer):
    """An SLA plan, in and out. Targets are in minutes of business time."""

    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(max_length=128)
    schedule = serializers.PrimaryKeyRelatedField(
        queryset=Schedule.objects.all(), allow_null=True, required=False, default=None, help_text="null: 24/7."
    )
    first_response_minutes = serializers.IntegerField(min_value=1, allow_null=True, required=False, default=None)
    resolution_minutes = serializers.IntegerField(min_value=1, allow_null=True, required=False, default=None)
    next_response_minutes = serializers.IntegerField(min_value=1, allow_null=True, required=False, default=None)
    pause_statuses = serializers.PrimaryKeyRelatedField(
        queryset=Status.objects.all(), many=True, required=False, default=list
    )
    warn_at_percent = serializers.IntegerField(min_value=1, max_value=99, allow_null=True, required=False, default=75)
    active = serializers.BooleanField(required=False, default=True)
    is_default = serializers.BooleanField(required=False, default=False)
    breach_raise_priority = serializers.BooleanField(required=False, default=False)
    breach_reassign_to = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(kind__in=(User.Kind.AGENT, User.Kind.ADMIN)),
        allow_null=True,
        required=False,
        default=None,
    )
    priority_targets = PriorityTargetSerializer(many=True, required=False, default=list)

    def fields_for_service(self) -> PlanFields:
        data = self.validated_data
        return PlanFields(
            name=data["name"],
            schedule=data["schedule"],
            first_response_minutes=data["first_response_minutes"],
            resolution_minutes=data["resolution_minutes"],
            next_response_minutes=data["next_response_minutes"],
            pause_statuses=data["pause_statuses"],
            warn_at_percent=data["warn_at_percent"],
            is_active=data["active"],
            is_default=data["is_default"],
            breach_raise_priority=data["breach_raise_priority"],
            breach_reassign_to=data["breach_reassign_to"],
            priority_targets=[
                PriorityTargetSpec(
                    priority_id=t["priority"].pk,
                    first_response_minutes=t["first_response_minutes"],
                    resolution_minutes=t["resolution_minutes"],
                    next_response_minutes=t["next_response_minutes"],
                )
                for t in data["priority_targets"]
            ],
        )


def plan_out(plan: SLAPlan) -> dict[str, Any]:
    return {
        "id": plan.pk,
        "name": plan.name,
        "schedule": plan.schedule_id,
        "first_response_minutes": plan.first_response_minutes,
        "resolution_minutes": plan.resolution_minutes,
        "next_response_minutes": plan.next_response_minutes,
        "pause_statuses": sorted(s.pk for s in plan.pause_statuses.all()),
        "warn_at_percent": plan.warn_at_percent,
        "active": plan.is_active,
        "is_default": plan.is_default,
        "breach_raise_priority": plan.breach_raise_priority,
        "breach_reassign_to": plan.breach_reassign_to_id,
        "priority_targets": [
            {
                "priority": t.priority.name,
                "first_response_minutes": t.first_response_minutes,
                "resolution_minutes": t.resolution_minutes,
                "next_response_minutes": t.next_response_minutes,
            }
            for t in sorted(plan.priority_targets.all(), key=lambda t: t.priority.urgency)
        ],
    }


class PauseSerializer(serializers.Serializer):
    def get_fields(self) -> dict[str, serializers.Field]:
        # "from" is a Python keyword: the fields are named here rather than as attributes.
        return {"from": serializers.DateTimeField(), "to": serializers.DateTimeField()}

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["to"] < attrs["from"]:
            raise serializers.ValidationError({"to": "A pause must end after it starts."})
        return attrs


class PreviewInSerializer(serializers.Serializer):
    opened_at = serializers.DateTimeField(help_text="ISO 8601; without an offset it is read as UTC.")
    paused = PauseSerializer(many=True, required=False, default=list)
    priority = serializers.SlugRelatedField(
        slug_field="name", queryset=Priority.objects.all(), allow_null=True, required=False, default=None
    )


class PreviewOutSerializer(serializers.Serializer):
    first_response_due_at = serializers.DateTimeField(allow_null=True, default_timezone=UTC)
    resolution_due_at = serializers.DateTimeField(allow_null=True, default_timezone=UTC)


@extend_schema_view(
    list=extend_schema(responses=PlanSerializer(many=True), summary="SLA plans"),
    retrieve=extend_schema(responses=PlanSerializer),
    create=extend_schema(request=PlanSerializer, responses={201: PlanSerializer}),
    update=extend_schema(request=PlanSerializer, responses=PlanSerializer),
    partial_update=extend_schema(request=PlanSerializer(partial=True), responses=PlanSerializer),
    destroy=extend_schema(
        responses={
            204: OpenApiResponse(description="Deleted."),
            200: OpenApiResponse(PlanSerializer, description="In use: deactivated instead."),
            409: OpenApiResponse(description="The default plan cannot be removed."),
        }
    ),
)
class PlanViewSet(viewsets.GenericViewSet):
    permission_classes = [AdminsWriteAgentsRead]
    serializer_class = PlanSerializer
    pagination_class = None

    def get_queryset(self) -> QuerySet[SLAPlan]:
        return SLAPlan.objects.prefetch_related("pause_statuses", "priority_targets__priority").order_by("name")

    def list(self, request: Request) -> Response:
        return Response([plan_out(p) for p in self.get_queryset()])

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(plan_out(self.get_object()))

    def create(self, request: Request) -> Response:
        serializer = PlanSerializer(data=_body(request))
        serializer.is_valid(raise_exception=True)
        try:
            plan = sla_plan_create(fields=serializer.fields_for_service())
        except DjangoValidationError as exc:
            raise _service_errors(exc) from None
        return Response(plan_out(self.get_queryset().get(pk=plan.pk)), status=status.HTTP_201_CREATED)

    def update(self, request: Request, pk: str, partial: bool = False) -> Response:
        plan = self.get_object()
        data = {**plan_out(plan), **_body(request)} if partial else _body(request)
        serializer = PlanSerializer(data=data)
        serializer.is_valid(raise_exception=True)
        try:
            sla_plan_update(plan=plan, fields=serializer.fields_for_service())
        except DjangoValidationError as exc:
            raise _service_errors(exc) from None
        return Response(plan_out(self.get_queryset().get(pk=plan.pk)))

    def partial_update(self, request: Request, pk: str) -> Response:
        return self.update(request, pk, partial=True)

    def destroy(self, request: Request, pk: str) -> Response:
        plan = self.get_object()
        try:
            deleted = sla_plan_delete(plan=plan)
        except InUse as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        if deleted:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(plan_out(self.get_queryset().get(pk=plan.pk)))

    @extend_schema(
        request=PreviewInSerializer,
        responses=PreviewOutSerializer,
        summary="When each target would fall due",
        description="For a ticket opened at `opened_at`, paused as given, at `priority` (the plan's own targets "
        "when null). Instants are answered in UTC; null where the plan has no such target. Admins only.",
    )
    @action(detail=True, methods=["post"])
    def preview(self, request: Request, pk: str) -> Response:
        plan = self.get_object()
        serializer = PreviewInSerializer(data=_body(request))
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        pauses = [deadlines.Pause(p["from"], p["to"]) for p in data["paused"]]
        try:
            due = sla_plan_preview(plan=plan, opened_at=data["opened_at"], pauses=pauses, priority=data["priority"])
        except DjangoValidationError as exc:
            raise _service_errors(exc) from None
        except deadlines.CalendarError as exc:
            raise serializers.ValidationError({"schedule": [str(exc)]}) from None
        first, resolution = due["first_response"], due["resolution"]
        return Response(
            PreviewOutSerializer(
                {
                    "first_response_due_at": first.due_at if first else None,
                    "resolution_due_at": resolution.due_at if resolution else None,
                }
            ).data
        )
