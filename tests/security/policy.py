"""The declared access policy: for every URL pattern of the project, who gets what.

Each route of the URLconf (its pattern as written, joined with its parents') has one Rule here.
A rule names the methods the route takes, the objects it is tried on, the request bodies, and a
gate: what each role gets. tests/security/test_access_matrix.py fails for a route that is
missing here, so a new route cannot ship without someone deciding who may use it.

Outcomes: "ok" (served: 2xx, a redirect that is not to a sign-in page, or a 400/409 for a form
the caller may submit), "login" (sent to a sign-in page), "401", "403", "404", "405", or an
exact status code. A denial must also leave the database as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from accounts.models import Perm
from tests.security.world import AGENTS, END_USERS, SIGNED_OUT, World

Outcome = str | int
Gate = Callable[[str, str, str], Outcome]  # (role, method, object) -> expected outcome
Kwargs = Callable[[World, str], dict[str, Any]]
Body = Callable[[World, str, str], dict[str, Any]]  # (world, object, role) -> data


@dataclass(frozen=True)
class Rule:
    gate: Gate
    methods: tuple[str, ...] = ("GET",)
    objects: tuple[str, ...] = ("",)
    kwargs: Kwargs = lambda world, obj: {}
    body: Body | None = None
    query: str = ""
    path: str = ""  # the URL itself, for a route without a name
    api: bool = False  # JSON bodies
    signs_out: bool = False  # run after the others; the caller signs in again
    note: str = ""


# ---------------------------------------------------------------- who sees what, declared

# The tickets each role may see (t1 Karen's in Support, t2 Ken's in Online Banking assigned
# to Jane, t3 a guest's in Support).
SEES = {
    "anonymous": set(),
    "guest": set(),  # only through the link pages
    "karen": {"t1"},
    "ken": {"t2"},
    "john": {"t1", "t3"},
    "jane": {"t2"},
    "viewer": {"t1", "t3"},
    "admin": {"t1", "t2", "t3"},
}
# What each agent's role allows on the tickets they see (Vic's "Read only" role: looking).
AGENT_PERMS = {
    "john": set(Perm) - {Perm.DELETE},
    "jane": set(Perm) - {Perm.DELETE},
    "viewer": {Perm.VIEW},
    "admin": set(Perm),
}
# The files each role may download (t1_note is on an internal note of t1).
FILES = {
    "karen": {"t1"},
    "ken": {"t2"},
    "john": {"t1", "t1_note", "t3", "t3_note"},
    "jane": {"t2"},
    "viewer": {"t1", "t1_note", "t3", "t3_note"},
    "admin": {"t1", "t1_note", "t2", "t3", "t3_note"},
}


def _ticket_of(obj: str) -> str:
    return obj.split("_")[0]


# ---------------------------------------------------------------- gates


def everyone(outcome: Outcome = "ok") -> Gate:
    return lambda role, method, obj: outcome


def portal_signed_in(role: str, method: str, obj: str) -> Outcome:
    """The portal's own pages: visitors sign in first; agents are sent on to the staff panel."""
    return "login" if role in SIGNED_OUT else "ok"


def portal_ticket(role: str, method: str, obj: str) -> Outcome:
    if role in SIGNED_OUT:
        return "login"
    if role in AGENTS:
        return "ok"  # sent to the same number in the staff panel, which applies its own rules
    return "ok" if obj in SEES[role] else "404"


def link(role: str, method: str, obj: str) -> Outcome:
    """Secret-link pages: the guest holds t3's link; everyone else tries a link that is not one."""
    if obj in ("cross", "t3_note"):  # the guest's valid link with a file of another ticket, or of a note
        return "404"
    return "ok" if role == "guest" else "404"


def download(role: str, method: str, obj: str) -> Outcome:
    if role in SIGNED_OUT:
        return "login"
    return "ok" if obj in FILES[role] else "404"


def staff(role: str, method: str, obj: str) -> Outcome:
    if role in SIGNED_OUT:
        return "login"
    return "404" if role in END_USERS else "ok"


def staff_ticket(*perms: Perm, **by_method: tuple[Perm, ...]) -> Gate:
    """A ticket's page or action: 404 unless the agent sees the ticket, 403 unless their role
    allows one of `perms` (per method where they differ)."""

    def gate(role: str, method: str, obj: str) -> Outcome:
        if role in SIGNED_OUT:
            return "login"
        if role in END_USERS or _ticket_of(obj) not in SEES[role]:
            return "404"
        needed = by_method.get(method, perms)
        return "ok" if set(needed) & AGENT_PERMS[role] else "403"

    return gate


def staff_file(role: str, method: str, obj: str) -> Outcome:
    if role in SIGNED_OUT:
        return "login"
    if role in END_USERS:
        return "404"
    return "ok" if obj in FILES[role] else "404"


def admin_only(role: str, method: str, obj: str) -> Outcome:
    if role in SIGNED_OUT:
        return "login"
    return "ok" if role == "admin" else "404"


def django_admin(role: str, method: str, obj: str) -> Outcome:
    return "ok" if role == "admin" else "login"


def api_signed_in(role: str, method: str, obj: str) -> Outcome:
    return "401" if role in SIGNED_OUT else "ok"


def api_config(read: str) -> Gate:
    """Configuration endpoints: `read` is who may read ("everyone" signed in, "agents" or
    "admins"); only admins change anything."""

    def gate(role: str, method: str, obj: str) -> Outcome:
        if role in SIGNED_OUT:
            return "401"
        if method == "GET":
            allowed = {"everyone": True, "agents": role in AGENTS, "admins": role == "admin"}[read]
            return "ok" if allowed else "403"
        return "ok" if role == "admin" else "403"

    return gate


def api_ticket(**rights: str) -> Gate:
    """A ticket of the REST API: 404 unless the caller sees it; then, per method, who may:
    "read" (whoever sees it), "requester" (its requester), or a Perm's value (agents whose
    role allows it; end users get a 403)."""

    def gate(role: str, method: str, obj: str) -> Outcome:
        if role in SIGNED_OUT:
            return "401"
        if _ticket_of(obj) not in SEES[role]:
            return "404"
        right = rights[method]
        if right == "read":
            return "ok"
        if right == "requester":
            return "ok" if role in END_USERS else "403"
        return "ok" if role in AGENTS and Perm(right) in AGENT_PERMS[role] else "403"

    return gate


def api_file(role: str, method: str, obj: str) -> Outcome:
    if role in SIGNED_OUT:
        return "401"
    if _ticket_of(obj) not in SEES[role]:
        return "404"
    return "ok" if obj in FILES[role] else "404"


def custom(table: dict[str, Outcome], default: Outcome) -> Gate:
    return lambda role, method, obj: table.get(role, default)


# ---------------------------------------------------------------- URL arguments and bodies


def number(world: World, obj: str) -> dict[str, Any]:
    return {"number": world.ticket(_ticket_of(obj)).number}


def pk(name: str) -> Kwargs:
    return lambda world, obj: {"pk": world.objects[name]}


def _other_department(world: World, obj: str) -> int:
    return world.online_banking.pk if world.ticket(obj).department_id == world.support.pk else world.support.pk


def staff_body(panel: str) -> Body:
    def body(world: World, obj: str, role: str) -> dict[str, Any]:
        ticket = world.ticket(obj)
        v = ticket.version
        values: dict[str, dict[str, Any]] = {
            "reply": {"reply-body": "On it.", "reply-version": v, "reply-seen": 10**9},
            "note": {"note-body": "Looking."},
            "claim": {"version": v},
            "release": {"version": v},
            "assign": {"assign-assignee": world.users["john" if obj == "t1" else "jane"].pk, "assign-version": v},
            "transfer": {"transfer-department": _other_department(world, obj), "transfer-version": v},
            "priority": {"priority-priority": world.objects["priority"], "priority-version": v},
            "sla": {"sla-sla_plan": world.objects["plan"], "sla-version": v},
            "topic": {"topic-help_topic": world.objects["topic"], "topic-version": v},
            "status": {"status-status": world.objects["waiting"], "status-version": v, "status-note": "Waiting"},
            "due": {"due-due_at": f"{date.today().year + 1}-01-01T10:00", "due-reason": "Parts", "due-version": v},
            "cc": {"cc-email": "boss@example.com", "cc-name": "Boss"},
            "merge": {"merge-number": world.t3.number},
            "link": {"link-number": world.t3.number},
        }
        return values.get(panel, {})

    return body


def api_body(values: dict[str, Any] | Callable[[World], dict[str, Any]]) -> Body:
    return lambda world, obj, role: values(world) if callable(values) else dict(values)


TICKETS = ("t1", "t2")
PORTAL_POST = {"reply": {"body": "More detail."}, "close": {}, "rate": {"rating": 5, "comment": "Quick."}}


def _staff_action(panel: str, *perms: Perm) -> Rule:
    return Rule(staff_ticket(*perms), methods=("POST",), objects=TICKETS, kwargs=number, body=staff_body(panel))


def _admin_page(kwargs: Kwargs | None = None, methods: tuple[str, ...] = ("GET", "POST")) -> Rule:
    return Rule(admin_only, methods=methods, kwargs=kwargs or (lambda world, obj: {}))


def _admin_post(kwargs: Kwargs | None = None) -> Rule:
    return Rule(admin_only, methods=("POST",), kwargs=kwargs or (lambda world, obj: {}))


def _config(read: str, name: str, *, writable: bool = True, delete: bool = True) -> dict[str, Rule]:
    """A router's list and detail routes for a configuration endpoint."""
    detail_methods = ("GET", "PATCH", "DELETE") if writable and delete else ("GET", "PATCH") if writable else ("GET",)
    return {
        "list": Rule(api_config(read), methods=("GET", "POST") if writable else ("GET",), api=True, body=api_body({})),
        "detail": Rule(api_config(read), methods=detail_methods, kwargs=pk(name), api=True, body=api_body({})),
    }


def _router(prefix: str, read: str, name: str, **options: bool) -> dict[str, Rule]:
    rules = _config(read, name, **options)
    return {
        f"api/v1/^{prefix}/$": rules["list"],
        f"api/v1/^{prefix}/(?P<pk>[0-9]{{1,18}})/$": rules["detail"],
    }


def _sla_router(prefix: str, name: str) -> dict[str, Rule]:
    rules = _config("agents", name)
    return {
        f"api/v1/^{prefix}/$": rules["list"],
        f"api/v1/^{prefix}/(?P<pk>[^/.]+)/$": rules["detail"],
    }


API_TICKET = "api/v1/^tickets/(?P<number>[0-9]{1,18})/"

# ---------------------------------------------------------------- the table

POLICY: dict[str, Rule] = {
    # The project
    "healthz": Rule(everyone(), note="200, or 503 when the broker is down: it tells nothing of tickets"),
    "favicon.ico": Rule(everyone()),
    # The portal
    "": Rule(everyone()),
    "open/": Rule(everyone(), methods=("GET", "POST")),
    "open/done/": Rule(everyone()),
    "status/": Rule(everyone(), methods=("GET", "POST")),
    "status/sent/": Rule(everyone()),
    "tickets/": Rule(portal_signed_in, query="?status=all&q=MARK"),
    "tickets/<int:number>/": Rule(portal_ticket, objects=TICKETS, kwargs=number),
    **{
        f"tickets/<int:number>/{action}/": Rule(
            portal_ticket, methods=("POST",), objects=TICKETS, kwargs=number, body=api_body(values)
        )
        for action, values in PORTAL_POST.items()
    },
    "t/<str:token>/": Rule(link, objects=("t3",), kwargs=lambda world, obj: {"token": world.token}),
    **{
        f"t/<str:token>/{action}/": Rule(
            link,
            methods=("POST",),
            objects=("t3",),
            kwargs=lambda world, obj: {"token": world.token},
            body=api_body(values),
        )
        for action, values in PORTAL_POST.items()
    },
    "t/<str:token>/attachments/<int:pk>/": Rule(
        link,
        objects=("t3", "t3_note", "cross"),
        kwargs=lambda world, obj: {"token": world.token, "pk": world.files["t1" if obj == "cross" else obj].pk},
    ),
    "attachments/<int:pk>/": Rule(
        download,
        objects=("t1", "t1_note", "t2", "t3", "t3_note"),
        kwargs=lambda world, obj: {"pk": world.files[obj].pk},
    ),
    "login/": Rule(everyone(), methods=("GET", "POST"), query="?next=/tickets/"),
    "logout/": Rule(everyone(), methods=("POST",), signs_out=True),
    "register/": Rule(everyone(), methods=("GET", "POST")),
    "register/sent/": Rule(everyone()),
    "register/<str:token>/": Rule(
        everyone("404"), methods=("GET", "POST"), kwargs=lambda world, obj: {"token": "not-a-registration"}
    ),
    "password/reset/": Rule(everyone(), methods=("GET", "POST")),
    "password/reset/sent/": Rule(everyone()),
    "password/reset/<uidb64>/<token>/": Rule(
        everyone(), methods=("GET", "POST"), kwargs=lambda world, obj: {"uidb64": "MQ", "token": "set-password"}
    ),
    "account/": Rule(portal_signed_in, methods=("GET", "POST")),
    "account/password/": Rule(portal_signed_in, methods=("GET", "POST")),
    # The staff panel
    "staff/": Rule(staff),
    "staff/login/": Rule(everyone(), methods=("GET", "POST"), query="?next=/staff/"),
    "staff/logout/": Rule(everyone("login"), methods=("POST",), signs_out=True, note="then to the staff sign-in"),
    "staff/password-reset/": Rule(everyone(), methods=("GET", "POST")),
    "staff/password-reset/sent/": Rule(everyone()),
    "staff/password-reset/<uidb64>/<token>/": Rule(
        everyone(), methods=("GET", "POST"), kwargs=lambda world, obj: {"uidb64": "MQ", "token": "set-password"}
    ),
    "staff/password-reset/done/": Rule(everyone()),
    "staff/profile/": Rule(staff, methods=("GET", "POST")),
    "staff/profile/password/": Rule(staff, methods=("GET", "POST")),
    "staff/queues/<slug:key>/": Rule(staff, kwargs=lambda world, obj: {"key": "all"}, query="?q=MARK"),
    "staff/queues/<slug:key>/export.csv": Rule(staff, kwargs=lambda world, obj: {"key": "all"}, query="?q=MARK"),
    "staff/saved/": Rule(staff, methods=("POST",), body=api_body({"name": "Mine", "base": "all", "params": ""})),
    "staff/saved/<int:pk>/": Rule(
        custom({"anonymous": "login", "guest": "login", "karen": "404", "ken": "404", "john": "ok"}, "404"),
        objects=("private",),
        kwargs=pk("saved_private"),
        note="John's own saved queue: no one else's",
    ),
    "staff/saved/<int:pk>/export.csv": Rule(
        staff, objects=("shared",), kwargs=pk("saved_shared"), note="Jane's shared queue: every agent's"
    ),
    "staff/saved/<int:pk>/delete/": Rule(
        custom({"anonymous": "login", "guest": "login", "john": "ok"}, "404"),
        methods=("POST",),
        objects=("private",),
        kwargs=pk("saved_private"),
    ),
    "staff/bulk/": Rule(
        staff,
        methods=("POST",),
        body=lambda world, obj, role: {
            "tickets": [world.t1.number, world.t2.number],
            "action": "priority",
            "priority": world.objects["priority"],
        },
        note="a bulk change goes ticket by ticket through the same checks (see the list tests)",
    ),
    "staff/tickets/<int:number>/": Rule(staff_ticket(Perm.VIEW), objects=TICKETS, kwargs=number),
    "staff/tickets/<int:number>/reply/": _staff_action("reply", Perm.REPLY),
    "staff/tickets/<int:number>/note/": _staff_action("note", Perm.VIEW),
    "staff/tickets/<int:number>/assign/": _staff_action("assign", Perm.ASSIGN),
    "staff/tickets/<int:number>/claim/": _staff_action("claim", Perm.REPLY),
    "staff/tickets/<int:number>/release/": _staff_action("release", Perm.REPLY),
    "staff/tickets/<int:number>/transfer/": _staff_action("transfer", Perm.TRANSFER),
    "staff/tickets/<int:number>/priority/": _staff_action("priority", Perm.EDIT),
    "staff/tickets/<int:number>/sla/": _staff_action("sla", Perm.EDIT),
    "staff/tickets/<int:number>/topic/": _staff_action("topic", Perm.EDIT),
    "staff/tickets/<int:number>/status/": _staff_action("status", Perm.EDIT, Perm.CLOSE),
    "staff/tickets/<int:number>/due/": _staff_action("due", Perm.EDIT),
    "staff/tickets/<int:number>/collaborators/": _staff_action("cc", Perm.REPLY),
    "staff/tickets/<int:number>/collaborators/<int:user_id>/remove/": Rule(
        staff_ticket(Perm.REPLY),
        methods=("POST",),
        objects=TICKETS,
        kwargs=lambda world, obj: {**number(world, obj), "user_id": world.collaborators[obj].pk},
    ),
    "staff/tickets/<int:number>/merge/": _staff_action("merge", Perm.CLOSE),
    "staff/tickets/<int:number>/link/": _staff_action("link", Perm.VIEW),
    "staff/tickets/<int:number>/lock/": Rule(
        staff_ticket(Perm.VIEW, POST=(Perm.REPLY,)),
        methods=("GET", "POST"),
        objects=TICKETS,
        kwargs=number,
        note="the reply box's JSON endpoint: who is writing (GET), take the lock (POST)",
    ),
    "staff/tickets/<int:number>/lock/release/": Rule(
        staff_ticket(Perm.VIEW), methods=("POST",), objects=TICKETS, kwargs=number
    ),
    "staff/tickets/<int:number>/files/<int:pk>/": Rule(
        staff_file,
        objects=("t1", "t1_note", "t2"),
        kwargs=lambda world, obj: {**number(world, obj), "pk": world.files[obj].pk},
    ),
    "staff/dashboard/": Rule(staff),
    "staff/dashboard/<slug:table>.csv": Rule(staff, kwargs=lambda world, obj: {"table": "backlog"}),
    "staff/canned/": Rule(staff),
    "staff/canned/new/": Rule(staff, methods=("GET", "POST")),
    "staff/canned/<int:pk>/": Rule(
        custom(
            {
                "anonymous": "login",
                "guest": "login",
                "karen": "404",
                "ken": "404",
                "john": "ok",
                "jane": "404",
                "viewer": "403",
                "admin": "ok",
            },
            "404",
        ),
        methods=("GET", "POST"),
        objects=("support",),
        kwargs=pk("canned_support"),
        note="Support's canned response: Support's agents use it, those whose role edits change it",
    ),
    "staff/canned/<int:pk>/delete/": Rule(
        custom({"anonymous": "login", "guest": "login", "john": "ok"}, "404"),
        methods=("POST",),
        objects=("john",),
        kwargs=pk("canned_john"),
        note="John's personal canned response: his alone",
    ),
    # Admin pages
    "staff/admin/": _admin_page(methods=("GET",)),
    "staff/admin/sla/plans/": _admin_page(methods=("GET",)),
    "staff/admin/sla/plans/new/": _admin_page(),
    "staff/admin/sla/plans/<int:pk>/": _admin_page(pk("plan")),
    "staff/admin/sla/plans/<int:pk>/delete/": _admin_post(pk("plan")),
    "staff/admin/sla/plans/<int:pk>/preview/": _admin_page(pk("plan")),
    "staff/admin/sla/schedules/": _admin_page(methods=("GET",)),
    "staff/admin/sla/schedules/new/": _admin_page(),
    "staff/admin/sla/schedules/<int:pk>/": _admin_page(pk("schedule")),
    "staff/admin/sla/schedules/<int:pk>/delete/": _admin_post(pk("schedule")),
    "staff/admin/sla/compliance/": _admin_page(methods=("GET",)),
    "staff/admin/departments/": _admin_page(methods=("GET",)),
    "staff/admin/departments/new/": _admin_page(),
    "staff/admin/departments/<int:pk>/": _admin_page(pk("department")),
    "staff/admin/help-topics/": _admin_page(methods=("GET",)),
    "staff/admin/help-topics/new/": _admin_page(),
    "staff/admin/help-topics/<int:pk>/": _admin_page(pk("topic")),
    "staff/admin/priorities/": _admin_page(methods=("GET",)),
    "staff/admin/priorities/new/": _admin_page(),
    "staff/admin/priorities/<int:pk>/": _admin_page(pk("priority")),
    "staff/admin/statuses/": _admin_page(methods=("GET",)),
    "staff/admin/statuses/new/": _admin_page(),
    "staff/admin/statuses/<int:pk>/": _admin_page(pk("status")),
    "staff/admin/agents/": _admin_page(methods=("GET",)),
    "staff/admin/agents/new/": _admin_page(),
    "staff/admin/agents/<int:pk>/": _admin_page(pk("agent")),
    "staff/admin/agents/<int:pk>/active/": _admin_post(pk("agent")),
    "staff/admin/api-keys/": _admin_page(methods=("GET",)),
    "staff/admin/api-keys/new/": _admin_page(),
    "staff/admin/api-keys/<int:pk>/": _admin_page(pk("api_key")),
    "staff/admin/api-keys/<int:pk>/revoke/": _admin_post(pk("api_key")),
    "staff/admin/mail/": _admin_page(methods=("GET",)),
    "staff/admin/mail/mailboxes/new/": _admin_page(),
    "staff/admin/mail/mailboxes/<int:pk>/": _admin_page(pk("mailbox")),
    "staff/admin/mail/mailboxes/<int:pk>/fetch/": _admin_post(pk("mailbox")),
    "staff/admin/mail/messages/": _admin_page(methods=("GET",)),
    "staff/admin/mail/messages/<int:pk>/": _admin_page(pk("message"), methods=("GET",)),
    "staff/admin/mail/messages/<int:pk>/<str:action>/": _admin_post(
        lambda world, obj: {"pk": world.objects["message"], "action": "discard"}
    ),
    "staff/admin/mail/outbox/": _admin_page(methods=("GET",)),
    "staff/admin/mail/outbox/<int:pk>/retry/": _admin_post(pk("notification")),
    "staff/admin/mail/notifications/": _admin_page(),
    "staff/admin/mail/templates/": _admin_page(methods=("GET",)),
    "staff/admin/mail/templates/<str:kind>/": _admin_page(lambda world, obj: {"kind": "status_link"}),
    "staff/admin/api/": _admin_page(methods=("GET",)),
    "staff/admin/api/webhooks/new/": _admin_page(),
    "staff/admin/api/webhooks/<int:webhook_id>/": _admin_page(
        lambda world, obj: {"webhook_id": world.objects["webhook"]}
    ),
    "staff/admin/api/webhooks/<int:webhook_id>/delete/": _admin_post(
        lambda world, obj: {"webhook_id": world.objects["webhook"]}
    ),
    "staff/admin/api/webhooks/<int:webhook_id>/deliveries/<int:delivery_id>/redeliver/": _admin_post(
        lambda world, obj: {"webhook_id": world.objects["webhook"], "delivery_id": world.objects["delivery"]}
    ),
    # The REST API
    "api/v1/auth/token/": Rule(
        lambda role, method, obj: "ok" if method == "POST" else "401",
        methods=("POST", "DELETE"),
        api=True,
        body=api_body({"email": "nobody@example.com", "password": "wrong"}),
        note="DELETE revokes the token it is sent with: without one (a session is not one) it is a 401",
    ),
    "api/v1/me/": Rule(api_signed_in),
    "api/v1/schema/": Rule(everyone(), note="the API's description: public, as the docs page"),
    "api/v1/docs/": Rule(everyone()),
    "api/v1/^tickets/$": Rule(
        api_signed_in,
        methods=("GET", "POST"),
        api=True,
        query="?q=MARK",
        body=api_body({"subject": "Another", "message": "Hello"}),
    ),
    f"{API_TICKET}$": Rule(
        api_ticket(GET="read", PATCH=Perm.EDIT.value),
        methods=("GET", "PATCH"),
        objects=TICKETS,
        kwargs=number,
        api=True,
        body=lambda world, obj, role: {"priority": world.objects["priority"]},
    ),
    f"{API_TICKET}attachments/(?P<attachment_id>[0-9]{{1,18}})/$": Rule(
        api_file,
        objects=("t1", "t1_note", "t2"),
        kwargs=lambda world, obj: {**number(world, obj), "attachment_id": world.files[obj].pk},
    ),
    f"{API_TICKET}messages/$": Rule(
        api_ticket(POST="requester"),
        methods=("POST",),
        objects=TICKETS,
        kwargs=number,
        api=True,
        body=api_body({"body": "More detail."}),
    ),
    f"{API_TICKET}notes/$": Rule(
        api_ticket(POST=Perm.VIEW.value),
        methods=("POST",),
        objects=TICKETS,
        kwargs=number,
        api=True,
        body=api_body({"body": "A note."}),
    ),
    f"{API_TICKET}replies/$": Rule(
        api_ticket(POST=Perm.REPLY.value),
        methods=("POST",),
        objects=TICKETS,
        kwargs=number,
        api=True,
        body=api_body({"body": "A reply."}),
    ),
    f"{API_TICKET}thread/$": Rule(api_ticket(GET="read"), objects=TICKETS, kwargs=number),
    **_router("departments", "agents", "department"),
    **_router("help-topics", "everyone", "topic"),
    **_router("priorities", "everyone", "priority"),
    **_router("statuses", "everyone", "status"),
    **_router("roles", "agents", "role", writable=False),
    **_router("agents", "agents", "agent", delete=False),
    **_router("users", "agents", "end_user", delete=False),
    **_router("webhooks", "admins", "webhook"),
    "api/v1/^webhooks/(?P<pk>[0-9]{1,18})/deliveries/$": Rule(api_config("admins"), kwargs=pk("webhook")),
    "api/v1/^webhooks/(?P<pk>[0-9]{1,18})/deliveries/(?P<delivery_id>[0-9]{1,18})/$": Rule(
        api_config("admins"),
        kwargs=lambda world, obj: {"pk": world.objects["webhook"], "delivery_id": world.objects["delivery"]},
    ),
    "api/v1/^webhooks/(?P<pk>[0-9]{1,18})/deliveries/(?P<delivery_id>[0-9]{1,18})/redeliver/$": Rule(
        api_config("admins"),
        methods=("POST",),
        kwargs=lambda world, obj: {"pk": world.objects["webhook"], "delivery_id": world.objects["delivery"]},
        api=True,
    ),
    **_sla_router("schedules", "schedule"),
    **_sla_router("sla-plans", "plan"),
    "api/v1/^sla-plans/(?P<pk>[^/.]+)/preview/$": Rule(
        api_config("admins"), methods=("POST",), kwargs=pk("plan"), api=True, body=api_body({})
    ),
    "api/v1/^.*$": Rule(everyone("404"), methods=("GET", "POST"), path="/api/v1/nothing/"),
    # The osTicket-compatible intake: an API key from an allowed address, or nothing
    r"api/^(?:http\.php/)?tickets\.(?P<data_format>[a-z]+)$": Rule(
        lambda role, method, obj: 401 if method == "POST" else 400,
        methods=("GET", "POST"),
        kwargs=lambda world, obj: {"data_format": "json"},
        api=True,
        body=api_body({"name": "Mon", "email": "mon@example.com", "subject": "Down", "message": "Disk"}),
        note="without a key: 401 for everyone, a session counts for nothing",
    ),
    r"api/^http\.php/(?P<rest>.*)$": Rule(everyone(400), methods=("GET", "POST"), path="/api/http.php/x"),
    r"api/^(?P<rest>tasks/.*)$": Rule(everyone(400), methods=("GET", "POST"), path="/api/tasks/x"),
}

# The Django admin (django-admin/): generated routes, all behind its own admins-only sign-in.
# Each is tried like the others; a model added to it is listed by the walk and needs no entry.
DJANGO_ADMIN_PREFIX = "django-admin/"
DJANGO_ADMIN = Rule(django_admin, note="admins only; everyone else is sent to its sign-in")
DJANGO_ADMIN_SPECIAL: dict[str, Rule] = {
    "django-admin/autocomplete/": Rule(custom({"admin": "403"}, "login"), note="the admin asks for a field"),
    "django-admin/r/<path:content_type_id>/<path:object_id>/": Rule(
        custom({"admin": "404"}, "login"), path="/django-admin/r/999999/1/", note="no such content type"
    ),
    "django-admin/tickets/ticket/add/": Rule(
        custom({"admin": "403"}, "login"), note="tickets are opened through the services, never added here"
    ),
    "django-admin/api/apitoken/add/": Rule(custom({"admin": "403"}, "login"), note="tokens are issued, not typed"),
    "django-admin/login/": Rule(everyone(), methods=("GET", "POST")),
    "django-admin/logout/": Rule(
        lambda role, method, obj: "405" if method == "GET" and role == "admin" else "ok",
        methods=("GET", "POST"),
        signs_out=True,
        note="a GET signs no one out: the admin gets 405, anyone else is sent to the admin's index",
    ),
    "django-admin/(?P<url>.*)$": Rule(
        lambda role, method, obj: "404" if role == "admin" else "login", path="/django-admin/nowhere/"
    ),
}


def rule_for(route: str) -> Rule | None:
    if route in POLICY:
        return POLICY[route]
    if route.startswith(DJANGO_ADMIN_PREFIX):
        return DJANGO_ADMIN_SPECIAL.get(route, DJANGO_ADMIN)
    return None
