"""The REST API, /api/v1/. Thin views: read with the selectors (404 for what the caller may
not see), validate with the serializers, change with the services."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib.auth import authenticate
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import Model, Prefetch, QuerySet
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema, extend_schema_view
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import (
    action,
    api_view,
    authentication_classes,
    permission_classes,
    throttle_classes,
)
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import DepartmentMembership, Role, User
from accounts.services import end_user_get_or_create
from api import serializers as s
from api import services
from api.authentication import TokenAuthentication
from api.models import ApiToken, Webhook, WebhookAttempt, WebhookDelivery
from api.permissions import AgentsReadAdminsWrite, EveryoneReadsAdminsWrite, IsAdmin
from api.selectors import TICKET_RELATED, tickets_for_api
from api.throttles import LoginAddressThrottle, LoginEmailThrottle
from helpdesk.network import client_ip
from tickets import services as ticket_services
from tickets.attachments import files_removed_on_error
from tickets.exceptions import StaleTicket
from tickets.models import Attachment, Department, EntryKind, HelpTopic, Priority, Status, Ticket
from tickets.selectors import thread_entries_for_user, ticket_events_for_agent, ticket_get_for_user
from tickets.views.files import attachment_response


def _user(request: Request) -> User:
    return request.user  # type: ignore[return-value]


@extend_schema(exclude=True)
@api_view(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
@authentication_classes([])
@permission_classes([AllowAny])
@throttle_classes([])
def not_found(request: Request) -> Response:
    return Response({"detail": "Not found."}, status=status.HTTP_404_NOT_FOUND)


# ---------------------------------------------------------------- signing in


class TokenView(APIView):
    """Exchange an email and password for a token; DELETE revokes the token in use."""

    authentication_classes = [TokenAuthentication]
    permission_classes = [AllowAny]

    def get_throttles(self) -> list[Any]:
        if self.request.method == "POST":
            return [LoginAddressThrottle(), LoginEmailThrottle()]
        return super().get_throttles()

    @extend_schema(request=s.TokenIn, responses={200: s.TokenOut}, auth=[])
    def post(self, request: Request) -> Response:
        data = s.TokenIn(data=request.data)
        data.is_valid(raise_exception=True)
        user = authenticate(
            request._request, username=data.validated_data["email"], password=data.validated_data["password"]
        )
        if user is None:
            # One answer whether the address exists or not.
            raise serializers.ValidationError({"non_field_errors": ["The email or the password is not right."]})
        _, key = services.api_token_issue(user=user)  # type: ignore[arg-type]
        return Response(s.TokenOut({"token": key, "user": user}).data)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request: Request) -> Response:
        if not isinstance(request.auth, ApiToken):
            self.permission_denied(request, message="Send the token to revoke: Authorization: Token <token>.")
        services.api_token_revoke(token=request.auth)  # type: ignore[arg-type]
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(APIView):
    @extend_schema(responses={200: s.MeOut})
    def get(self, request: Request) -> Response:
        return Response(s.MeOut(request.user).data)


# ---------------------------------------------------------------- tickets


def _ticket_for_output(pk: int) -> Ticket:
    return Ticket.objects.select_related(*TICKET_RELATED).get(pk=pk)


def _created_ticket_out(pk: int) -> dict[str, Any]:
    """The answer for a ticket just committed. Reading it back is tried again on a fresh
    connection if the first one was lost: a client told 503 would send the ticket again and
    open it twice."""
    try:
        return dict(s.TicketOut(_ticket_for_output(pk)).data)
    except (OperationalError, InterfaceError):
        connection.close()
        return dict(s.TicketOut(_ticket_for_output(pk)).data)


ThreadItem = PolymorphicProxySerializer(
    component_name="ThreadItem",
    serializers={"entry": s.EntryOut, "event": s.EventOut},
    resource_type_field_name="type",
    many=True,
)


@extend_schema_view(
    list=extend_schema(parameters=[s.TicketFilterIn], responses={200: s.TicketOut(many=True)}),
    create=extend_schema(
        request={"application/json": s.TicketCreateIn, "multipart/form-data": s.TicketCreateIn},
        responses={201: s.TicketOut},
    ),
    retrieve=extend_schema(responses={200: s.TicketOut}),
    partial_update=extend_schema(request=s.TicketUpdateIn, responses={200: s.TicketOut}),
)
class TicketViewSet(viewsets.GenericViewSet):
    """Tickets: agents see their departments' and their own; end users their own."""

    lookup_field = "number"
    lookup_value_regex = "[0-9]{1,18}"
    serializer_class = s.TicketOut
    queryset = Ticket.objects.none()

    def _ticket(self) -> Ticket:
        return ticket_get_for_user(user=_user(self.request), number=self.kwargs["number"])

    def list(self, request: Request) -> Response:
        filters = s.TicketFilterIn(data=request.query_params)
        filters.is_valid(raise_exception=True)
        tickets = tickets_for_api(user=_user(request), filters=filters.validated_data)
        page = self.paginate_queryset(tickets)
        return self.get_paginated_response(s.TicketOut(page, many=True).data)

    def create(self, request: Request) -> Response:
        user = _user(request)
        data = s.TicketCreateIn(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        v = data.validated_data
        uploads = s.uploads_from(v.get("attachments", []))
        with files_removed_on_error(), transaction.atomic():
            if user.is_agent:
                requester = end_user_get_or_create(email=v["requester"]["email"], name=v["requester"]["name"])
                actor: User | None = user
            else:
                requester, actor = user, user
            ticket = ticket_services.ticket_create(
                requester=requester,
                actor=actor,
                subject=v["subject"],
                body=v.get("message", ""),
                body_html=v.get("message_html", ""),
                source=v.get("source", "api") if user.is_agent else "api",
                help_topic=v.get("help_topic"),
                department=v.get("department"),
                priority=v.get("priority"),
                sla_plan=v.get("sla_plan"),
                assignee=v.get("assignee"),
                uploads=uploads,
                ip_address=client_ip(request),
            )
        return Response(_created_ticket_out(ticket.pk), status=status.HTTP_201_CREATED)

    def retrieve(self, request: Request, number: str) -> Response:
        return Response(s.TicketOut(self._ticket()).data)

    def partial_update(self, request: Request, number: str) -> Response:
        ticket = self._ticket()
        data = s.TicketUpdateIn(data=request.data)
        data.is_valid(raise_exception=True)
        ticket = ticket_change(ticket=ticket, actor=_user(request), changes=data.validated_data)
        return Response(s.TicketOut(_ticket_for_output(ticket.pk)).data)

    @extend_schema(responses={200: ThreadItem})
    @action(detail=True, methods=["get"])
    def thread(self, request: Request, number: str) -> Response:
        user = _user(request)
        ticket = self._ticket()
        context = {"ticket_number": ticket.number}
        items: list[tuple[datetime, int, int, Any]] = [
            (entry.created_at, 0, entry.pk, s.EntryOut(entry, context=context).data)
            for entry in thread_entries_for_user(ticket=ticket, user=user)
        ]
        if user.is_agent:
            items += [
                (event.created_at, 1, event.pk, s.EventOut(event).data)
                for event in ticket_events_for_agent(ticket=ticket)
            ]
        # An entry comes before the events it caused at the same instant.
        items.sort(key=lambda item: item[:3])
        return Response([item[3] for item in items])

    def _post(self, request: Request, form: type[s.PostIn], write: Any) -> Response:
        ticket = self._ticket()
        data = form(data=request.data)
        data.is_valid(raise_exception=True)
        v = dict(data.validated_data)
        v["attachments"] = s.uploads_from(v.get("attachments", []))
        entry = write(ticket, _user(request), v)
        entry = thread_entries_for_user(ticket=ticket, user=_user(request)).get(pk=entry.pk)
        return Response(
            s.EntryOut(entry, context={"ticket_number": ticket.number}).data, status=status.HTTP_201_CREATED
        )

    @extend_schema(
        request={"multipart/form-data": s.ReplyIn, "application/json": s.ReplyIn},
        responses={201: s.EntryOut},
    )
    @action(detail=True, methods=["post"])
    def replies(self, request: Request, number: str) -> Response:
        """An agent's response to the requester (emailed to them); optionally sets a status."""
        return self._post(
            request,
            s.ReplyIn,
            lambda ticket, user, v: ticket_services.ticket_reply(
                ticket=ticket,
                actor=user,
                body=v.get("body", ""),
                body_html=v.get("body_html", ""),
                uploads=v["attachments"],
                status=v.get("status"),
                source="api",
                expected_version=v.get("version"),
            ),
        )

    @extend_schema(
        request={"multipart/form-data": s.NoteIn, "application/json": s.NoteIn},
        responses={201: s.EntryOut},
    )
    @action(detail=True, methods=["post"])
    def notes(self, request: Request, number: str) -> Response:
        """An internal note: agents only, never shown to end users."""
        return self._post(
            request,
            s.NoteIn,
            lambda ticket, user, v: ticket_services.ticket_add_note(
                ticket=ticket,
                actor=user,
                body=v.get("body", ""),
                body_html=v.get("body_html", ""),
                title=v.get("title", ""),
                uploads=v["attachments"],
                source="api",
            ),
        )

    @extend_schema(
        request={"multipart/form-data": s.PostIn, "application/json": s.PostIn},
        responses={201: s.EntryOut},
    )
    @action(detail=True, methods=["post"])
    def messages(self, request: Request, number: str) -> Response:
        """A message from the requester or a collaborator; it reopens a resolved ticket."""
        return self._post(
            request,
            s.PostIn,
            lambda ticket, user, v: ticket_services.ticket_add_message(
                ticket=ticket,
                author=user,
                body=v.get("body", ""),
                body_html=v.get("body_html", ""),
                uploads=v["attachments"],
                source="api",
                ip_address=client_ip(request),
            ),
        )

    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
    @action(detail=True, methods=["get"], url_path=r"attachments/(?P<attachment_id>[0-9]{1,18})", url_name="attachment")
    def attachment(self, request: Request, number: str, attachment_id: str) -> FileResponse:
        """Download a file of the thread (always as a download, never shown inline)."""
        ticket = self._ticket()
        attachments = Attachment.objects.filter(pk=int(attachment_id), entry__ticket=ticket)
        if not _user(request).is_agent:
            attachments = attachments.exclude(entry__kind=EntryKind.NOTE)
        attachment = attachments.first()
        if attachment is None:
            raise Http404
        return attachment_response(attachment)


def ticket_change(*, ticket: Ticket, actor: User, changes: dict[str, Any]) -> Ticket:
    """Apply a PATCH: each field through its service, all in one transaction (one refusal
    undoes the rest). The note goes with the first change that keeps one (status,
    transfer, assignment; the reason of a due-date override), else it is a note of its own."""
    note = changes.get("note", "") or ""
    note_used = False

    def take_note() -> str:
        nonlocal note_used
        if note_used:
            return ""
        note_used = True
        return note

    with transaction.atomic():
        if changes.get("version") is not None:
            # The row lock is held to the end of the transaction: no one changes the ticket
            # between this check and the last service below.
            current = Ticket.objects.select_for_update().filter(pk=ticket.pk).values_list("version", flat=True).get()
            if current != changes["version"]:
                raise StaleTicket(f"Ticket #{ticket.number} was changed by someone else; reload it and try again.")
        if "priority" in changes:
            ticket = ticket_services.ticket_set_priority(ticket=ticket, actor=actor, priority=changes["priority"])
        if "sla_plan" in changes:
            ticket = ticket_services.ticket_set_sla_plan(ticket=ticket, actor=actor, sla_plan=changes["sla_plan"])
        if "help_topic" in changes:
            ticket = ticket_services.ticket_set_help_topic(ticket=ticket, actor=actor, help_topic=changes["help_topic"])
        if "due_at" in changes:
            note_used = True
            ticket = ticket_services.ticket_set_due(ticket=ticket, actor=actor, due_at=changes["due_at"], reason=note)
        if "status" in changes and changes["status"].pk != ticket.status_id:
            ticket = ticket_services.ticket_change_status(
                ticket=ticket, actor=actor, status=changes["status"], note=take_note()
            )
        if "department" in changes and changes["department"].pk != ticket.department_id:
            ticket = ticket_services.ticket_transfer(
                ticket=ticket, actor=actor, department=changes["department"], note=take_note()
            )
        if "assignee" in changes:
            ticket = ticket_services.ticket_assign(
                ticket=ticket, actor=actor, assignee=changes["assignee"], note=take_note()
            )
        if note.strip() and not note_used:
            ticket_services.ticket_add_note(ticket=ticket, actor=actor, body=note, source="api")
    return ticket


# ---------------------------------------------------------------- configuration


class ConfigViewSet(viewsets.ModelViewSet):
    """Configuration lists: read by agents, changed by admins, each save through a service."""

    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    permission_classes = [IsAuthenticated, AgentsReadAdminsWrite]
    lookup_value_regex = "[0-9]{1,18}"

    def perform_create(self, serializer: serializers.BaseSerializer) -> None:
        model = serializer.Meta.model  # type: ignore[attr-defined]
        serializer.instance = services.config_save(instance=model(), values=dict(serializer.validated_data))

    def perform_update(self, serializer: serializers.BaseSerializer) -> None:
        instance = serializer.instance
        assert isinstance(instance, Model)  # nosec B101 (narrows the type for mypy; DRF sets the instance before perform_update)
        serializer.instance = services.config_save(instance=instance, values=dict(serializer.validated_data))

    def perform_destroy(self, instance: Any) -> None:
        services.config_delete(instance=instance)


def _config_schema(serializer: type[serializers.BaseSerializer]) -> Any:
    return extend_schema_view(
        list=extend_schema(responses={200: serializer(many=True)}),
        create=extend_schema(responses={201: serializer}),
        retrieve=extend_schema(responses={200: serializer}),
        partial_update=extend_schema(responses={200: serializer}),
        destroy=extend_schema(responses={204: None}),
    )


@_config_schema(s.DepartmentSerializer)
class DepartmentViewSet(ConfigViewSet):
    queryset = Department.objects.all()
    serializer_class = s.DepartmentSerializer


@_config_schema(s.HelpTopicSerializer)
class HelpTopicViewSet(ConfigViewSet):
    """End users read the public, active topics (to open a ticket with one)."""

    queryset = HelpTopic.objects.all()
    serializer_class = s.HelpTopicSerializer
    permission_classes = [IsAuthenticated, EveryoneReadsAdminsWrite]

    def get_queryset(self) -> QuerySet[HelpTopic]:
        topics = HelpTopic.objects.all()
        if not _user(self.request).is_agent:
            topics = topics.filter(is_public=True, is_active=True)
        return topics


@_config_schema(s.PrioritySerializer)
class PriorityViewSet(ConfigViewSet):
    queryset = Priority.objects.all()
    serializer_class = s.PrioritySerializer
    permission_classes = [IsAuthenticated, EveryoneReadsAdminsWrite]


@_config_schema(s.StatusSerializer)
class StatusViewSet(ConfigViewSet):
    queryset = Status.objects.all()
    serializer_class = s.StatusSerializer
    permission_classes = [IsAuthenticated, EveryoneReadsAdminsWrite]


@extend_schema_view(
    list=extend_schema(responses={200: s.RoleSerializer(many=True)}),
    retrieve=extend_schema(responses={200: s.RoleSerializer}),
)
class RoleViewSet(viewsets.ReadOnlyModelViewSet):
    lookup_value_regex = "[0-9]{1,18}"
    queryset = Role.objects.all()
    serializer_class = s.RoleSerializer
    permission_classes = [IsAuthenticated, AgentsReadAdminsWrite]


def _agents() -> QuerySet[User]:
    memberships = DepartmentMembership.objects.select_related("department", "role")
    return (
        User.objects.filter(kind__in=[User.Kind.AGENT, User.Kind.ADMIN])
        .prefetch_related(Prefetch("memberships", queryset=memberships))
        .order_by("name", "id")
    )


@extend_schema_view(
    list=extend_schema(responses={200: s.AgentOut(many=True)}),
    create=extend_schema(request=s.AgentCreateIn, responses={201: s.AgentOut}),
    retrieve=extend_schema(responses={200: s.AgentOut}),
    partial_update=extend_schema(request=s.AgentUpdateIn, responses={200: s.AgentOut}),
)
class AgentViewSet(viewsets.GenericViewSet):
    """Agents and admins, with their departments and roles. Deactivate rather than delete."""

    permission_classes = [IsAuthenticated, AgentsReadAdminsWrite]
    serializer_class = s.AgentOut
    queryset = User.objects.none()
    lookup_value_regex = "[0-9]{1,18}"

    def get_queryset(self) -> QuerySet[User]:
        return _agents()

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(s.AgentOut(page, many=True).data)

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(s.AgentOut(self.get_object()).data)

    def create(self, request: Request) -> Response:
        data = s.AgentCreateIn(data=request.data)
        data.is_valid(raise_exception=True)
        agent = services.agent_add(**data.validated_data)
        return Response(s.AgentOut(_agents().get(pk=agent.pk)).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, pk: str) -> Response:
        agent = self.get_object()
        data = s.AgentUpdateIn(data=request.data)
        data.is_valid(raise_exception=True)
        services.agent_update(agent=agent, actor=_user(request), values=data.validated_data)
        return Response(s.AgentOut(_agents().get(pk=agent.pk)).data)


@extend_schema_view(
    list=extend_schema(parameters=[s.UserFilterIn], responses={200: s.EndUserSerializer(many=True)}),
    create=extend_schema(responses={201: s.EndUserSerializer}),
    retrieve=extend_schema(responses={200: s.EndUserSerializer}),
    partial_update=extend_schema(responses={200: s.EndUserSerializer}),
)
class EndUserViewSet(ConfigViewSet):
    """End users (requesters). Deactivate rather than delete: their tickets stay theirs."""

    http_method_names = ["get", "post", "patch", "head", "options"]
    serializer_class = s.EndUserSerializer

    def get_queryset(self) -> QuerySet[User]:
        users = User.objects.filter(kind=User.Kind.END_USER).order_by("name", "id")
        if self.action == "list":
            filters = s.UserFilterIn(data=self.request.query_params)
            filters.is_valid(raise_exception=True)
            q = (filters.validated_data.get("q") or "").strip()
            if q:
                users = users.filter(email__icontains=q) | users.filter(name__icontains=q)
        return users

    def perform_create(self, serializer: serializers.BaseSerializer) -> None:
        person = User(kind=User.Kind.END_USER)
        # They set a password by registering or resetting; until then they reach tickets by link.
        person.set_unusable_password()
        serializer.instance = services.config_save(instance=person, values=dict(serializer.validated_data))


# ---------------------------------------------------------------- webhooks


@extend_schema_view(
    list=extend_schema(responses={200: s.WebhookSerializer(many=True)}),
    create=extend_schema(request=s.WebhookSerializer, responses={201: s.WebhookCreateOut}),
    retrieve=extend_schema(responses={200: s.WebhookSerializer}),
    partial_update=extend_schema(request=s.WebhookUpdateIn, responses={200: s.WebhookCreateOut}),
    destroy=extend_schema(responses={204: None}),
)
class WebhookViewSet(viewsets.GenericViewSet):
    """Endpoints that hear of ticket events (admins only); signed with a secret of their own."""

    permission_classes = [IsAuthenticated, IsAdmin]
    serializer_class = s.WebhookSerializer
    queryset = Webhook.objects.all()
    lookup_value_regex = "[0-9]{1,18}"

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(s.WebhookSerializer(page, many=True).data)

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(s.WebhookSerializer(self.get_object()).data)

    def create(self, request: Request) -> Response:
        data = s.WebhookSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        webhook = services.webhook_create(actor=_user(request), **data.validated_data)
        return Response(s.WebhookCreateOut(webhook).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, pk: str) -> Response:
        webhook = self.get_object()
        data = s.WebhookUpdateIn(webhook, data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        rotate = values.pop("rotate_secret", False)
        webhook = services.webhook_update(webhook=webhook, values=values, rotate_secret=rotate)
        out = s.WebhookCreateOut(webhook).data if rotate else s.WebhookSerializer(webhook).data
        return Response(out)

    def destroy(self, request: Request, pk: str) -> Response:
        services.webhook_delete(webhook=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(responses={200: s.WebhookDeliveryOut(many=True)})
    @action(detail=True, methods=["get"])
    def deliveries(self, request: Request, pk: str) -> Response:
        """The delivery log, newest first."""
        webhook = self.get_object()
        page = self.paginate_queryset(WebhookDelivery.objects.filter(webhook=webhook).order_by("-created_at", "-id"))
        return self.get_paginated_response(s.WebhookDeliveryOut(page, many=True).data)

    def _delivery(self, pk: str, delivery_id: str) -> WebhookDelivery:
        return get_object_or_404(
            WebhookDelivery.objects.prefetch_related(
                Prefetch("attempt_log", queryset=WebhookAttempt.objects.order_by("-attempted_at", "-id"))
            ),
            pk=int(delivery_id),
            webhook_id=self.get_object().pk,
        )

    @extend_schema(responses={200: s.WebhookDeliveryDetailOut})
    @action(detail=True, methods=["get"], url_path=r"deliveries/(?P<delivery_id>[0-9]{1,18})", url_name="delivery")
    def delivery(self, request: Request, pk: str, delivery_id: str) -> Response:
        """One delivery, with its payload and every try."""
        return Response(s.WebhookDeliveryDetailOut(self._delivery(pk, delivery_id)).data)

    @extend_schema(request=None, responses={201: s.WebhookDeliveryOut})
    @action(
        detail=True,
        methods=["post"],
        url_path=r"deliveries/(?P<delivery_id>[0-9]{1,18})/redeliver",
        url_name="redeliver",
    )
    def redeliver(self, request: Request, pk: str, delivery_id: str) -> Response:
        """Send a delivery's payload again, now."""
        again = services.webhook_delivery_redeliver(delivery=self._delivery(pk, delivery_id))
        again.refresh_from_db()
        return Response(s.WebhookDeliveryOut(again).data, status=status.HTTP_201_CREATED)
