"""The dataset the security suite walks: the seed cast, three tickets and one of everything an
admin page or API route can be pointed at.

Every ticket's subject and every internal note carries a marker (`MARK…`): a page that shows a
marker to someone who may not see its ticket (or, for a note, to an end user) leaks it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from accounts.models import User
from api import services as api_services
from api.models import ApiKey, Webhook, WebhookDelivery, WebhookEvent
from inbound.models import InboundMessage, Mailbox, Outcome
from notifications.models import Notification, NotificationKind, NotificationState
from sla.models import Schedule, SLAPlan
from tests.factories import EndUserFactory, ticket_open
from tickets import services
from tickets.attachments import Upload
from tickets.models import (
    Attachment,
    CannedResponse,
    Department,
    EntryKind,
    HelpTopic,
    Priority,
    SavedQueue,
    Status,
    Ticket,
)

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
    b"\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82"
)

# Markers: the subject of each ticket, and the body of the internal note on it.
MARK_T1 = "MARKt1karensupport"
MARK_T2 = "MARKt2kenbanking"
MARK_T3 = "MARKt3guestsupport"
MARK_NOTE = "MARKnoteinternal"

ROLES = ("anonymous", "guest", "karen", "ken", "john", "jane", "viewer", "admin")
AGENTS = ("john", "jane", "viewer", "admin")
END_USERS = ("karen", "ken")
SIGNED_OUT = ("anonymous", "guest")


@dataclass
class World:
    users: dict[str, User]
    t1: Ticket  # Karen's, in Support, unassigned; a public file and a note with a file
    t2: Ticket  # Ken's, in Online Banking, assigned to Jane; a public file
    t3: Ticket  # a guest's (Gus, no account), in Support; reached by his secret link; a note with a file
    token: str  # Gus's secret link to t3
    files: dict[str, Attachment]  # t1, t1_note, t2, t3, t3_note
    collaborators: dict[str, User]  # a collaborator on t1 and one on t2
    support: Department
    online_banking: Department
    objects: dict[str, int] = field(default_factory=dict)  # name -> pk of configuration rows

    def ticket(self, name: str) -> Ticket:
        return {"t1": self.t1, "t2": self.t2, "t3": self.t3}[name]

    def visible_markers(self, role: str) -> set[str]:
        """The ticket markers `role` may see anywhere (notes are agents' only)."""
        every = {MARK_T1, MARK_T2, MARK_T3, MARK_NOTE}
        return {
            "anonymous": set(),
            "guest": {MARK_T3},
            "karen": {MARK_T1},
            "ken": {MARK_T2},
            "john": {MARK_T1, MARK_T3, MARK_NOTE},
            "jane": {MARK_T2},
            "viewer": {MARK_T1, MARK_T3, MARK_NOTE},
            "admin": every,
        }[role]


def world_build(*, karen: User, ken: User, john: User, jane: User, viewer: User, admin: User) -> World:
    support = Department.objects.get(name="Support")
    online_banking = Department.objects.get(name="Online Banking")
    gus = EndUserFactory(email="gus@example.net", name="Gus Guest")
    t1 = ticket_open(karen, f"{MARK_T1} printer", department=support, uploads=[Upload("karen.png", PNG)])
    services.ticket_add_note(
        ticket=t1, actor=john, body=f"{MARK_NOTE} the CFO's account", uploads=[Upload("note.png", PNG)]
    )
    t2 = ticket_open(ken, f"{MARK_T2} card payments", department=online_banking, uploads=[Upload("ken.png", PNG)])
    services.ticket_assign(ticket=t2, actor=jane, assignee=jane)
    t3 = ticket_open(gus, f"{MARK_T3} laptop", department=support)
    token = services.access_link_issue(ticket=t3, recipient=gus)
    carl = EndUserFactory(email="carl@example.net", name="Carl Copied")
    cora = EndUserFactory(email="cora@example.net", name="Cora Copied")
    services.ticket_add_collaborator(ticket=t1, actor=john, user=carl)
    services.ticket_add_collaborator(ticket=t2, actor=jane, user=cora)
    for ticket in (t1, t2, t3):
        ticket.refresh_from_db()

    def file_of(ticket: Ticket, kind: str) -> Attachment:
        return Attachment.objects.get(entry__ticket=ticket, entry__kind=kind)

    files = {
        "t1": file_of(t1, EntryKind.MESSAGE),
        "t1_note": file_of(t1, EntryKind.NOTE),
        "t2": file_of(t2, EntryKind.MESSAGE),
    }
    t3_upload = services.ticket_add_message(ticket=t3, author=gus, body="Photo", uploads=[Upload("gus.png", PNG)])
    files["t3"] = t3_upload.attachments.get()
    t3_note = services.ticket_add_note(
        ticket=t3, actor=john, body=f"{MARK_NOTE} do not tell Gus", uploads=[Upload("gus-note.png", PNG)]
    )
    files["t3_note"] = t3_note.attachments.get()
    t3.refresh_from_db()

    api_key, _ = api_services.api_key_create(name="Monitoring", allowed_addresses="192.0.2.0/24")
    webhook = api_services.webhook_create(
        name="Chat", url="http://127.0.0.1:9/hook", events=[WebhookEvent.TICKET_CREATED], actor=admin
    )
    delivery = WebhookDelivery.objects.create(
        webhook=webhook, event_type=WebhookEvent.TICKET_CREATED, payload={"ticket": t1.number}
    )
    mailbox = Mailbox.objects.create(
        name="Help", host="127.0.0.1", port=9, username="help", password="pw", department=support
    )
    message = InboundMessage.objects.create(
        message_id="<held@example.net>", raw=b"Subject: held\r\n\r\nbody", outcome=Outcome.QUARANTINED
    )
    notification = Notification.objects.create(
        kind=NotificationKind.STATUS_LINK,
        ticket=t1,
        recipient=karen,
        recipient_email=karen.email,
        state=NotificationState.FAILED,
    )
    objects = {
        "plan": SLAPlan.objects.get(name="Sev-B").pk,
        "schedule": Schedule.objects.order_by("pk").first().pk,  # type: ignore[union-attr]
        "department": support.pk,
        "topic": HelpTopic.objects.order_by("pk").first().pk,  # type: ignore[union-attr]
        "priority": Priority.objects.get(name="High").pk,
        "status": Status.objects.order_by("pk").first().pk,  # type: ignore[union-attr]
        "waiting": Status.objects.get(state="waiting", is_default=True).pk,
        "agent": john.pk,
        "end_user": ken.pk,
        "role": john.memberships.get().role_id,
        "api_key": api_key.pk,
        "webhook": webhook.pk,
        "delivery": delivery.pk,
        "mailbox": mailbox.pk,
        "message": message.pk,
        "notification": notification.pk,
        "saved_private": SavedQueue.objects.create(name="John's own", owner=john, base="all").pk,
        "saved_shared": SavedQueue.objects.create(name="Jane's shared", owner=jane, base="all", is_shared=True).pk,
        "canned_john": CannedResponse.objects.create(title="John's", body="Hello", owner=john).pk,
        "canned_support": CannedResponse.objects.create(title="Support's", body="Hi", department=support).pk,
        "canned_banking": CannedResponse.objects.create(title="Banking's", body="Hi", department=online_banking).pk,
    }
    assert ApiKey.objects.filter(pk=api_key.pk).exists() and Webhook.objects.filter(pk=webhook.pk).exists()
    users = {"karen": karen, "ken": ken, "john": john, "jane": jane, "viewer": viewer, "admin": admin, "gus": gus}
    return World(
        users=users,
        t1=t1,
        t2=t2,
        t3=t3,
        token=token,
        files=files,
        collaborators={"t1": carl, "t2": cora},
        support=support,
        online_banking=online_banking,
        objects=objects,
    )
