"""Rendering mail: the one helper every notification goes through.

Each kind has three parts (subject, text, HTML). An admin's edit stored in EmailTemplate wins;
otherwise the files templates/emails/<kind>.subject.txt, .txt and .html are used. A stored
template that no longer renders (a typo saved before the form checked it, a removed variable
used in a filter) falls back to the files, so that a bad edit never stops the mail.

Admins edit these templates, so a template is not trusted with the application: it renders in
an engine of its own (the built-in tags and filters, no `{% load %}`, no `{% debug %}`), and
its context holds plain values only (strings, numbers, dates, and dicts and lists of them).
Model objects are copied into dicts of the fields a mail may show: no template can reach a
password hash, a related manager or a method that writes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import cache
from typing import Any

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.template import Context, Engine, Template, TemplateSyntaxError
from django.template.defaulttags import DebugNode
from django.utils import timezone

from tickets.sanitize import single_line

logger = logging.getLogger(__name__)

PARTS = ("subject", "text", "html")
SUFFIX = {"subject": ".subject.txt", "text": ".txt", "html": ".html"}


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


@cache
def _engine() -> Engine:
    """The mail templates' engine: the files under templates/ (for `extends` and `include`),
    the built-in tags and filters, and no tag library to load."""
    return Engine(dirs=[str(settings.BASE_DIR / "templates")], libraries={}, autoescape=True)


PLAIN = (str, int, float, bool, Decimal, datetime, date, time, timedelta, type(None))


def _related(obj: Any, name: str) -> Any:
    try:
        return getattr(obj, name)
    except ObjectDoesNotExist:  # an unsaved sample, or a row deleted since
        return None


def _named(obj: Any) -> dict[str, Any] | None:
    return None if obj is None else {"name": str(obj.name)}


def _person(user: Any) -> dict[str, Any] | None:
    if user is None:
        return None
    short = user.get_short_name()
    # `get_short_name` is kept as a key: templates written before the context was plain used it.
    return {"name": user.name, "email": user.email, "short_name": short, "get_short_name": short}


def _plain_model(obj: Any) -> Any:
    """The fields of a model object a mail may show, as a dict; other objects as text."""
    from accounts.models import User
    from notifications.models import Notification
    from tickets.models import Department, HelpTopic, Priority, Status, ThreadEntry, Ticket, TicketEvent

    if isinstance(obj, User):
        return _person(obj)
    if isinstance(obj, Ticket):
        status = _related(obj, "status")
        return {
            "number": obj.number,
            "subject": obj.subject,
            "state": obj.state,
            "status": None if status is None else str(status.name),
            "department": _named(_related(obj, "department")),
            "help_topic": _named(_related(obj, "help_topic")),
            "priority": _named(_related(obj, "priority")),
            "requester": _person(_related(obj, "requester")),
            "assignee": _person(_related(obj, "assignee")),
            "created_at": obj.created_at,
            "due_at": obj.due_at,
        }
    if isinstance(obj, ThreadEntry):
        return {
            "kind": obj.kind,
            "author": _person(_related(obj, "author")),
            "author_name": obj.author_name,
            "body": obj.body,
            "body_html": obj.body_html,
            "created_at": obj.created_at,
        }
    if isinstance(obj, TicketEvent):
        return {
            "kind": obj.kind,
            "actor": _person(_related(obj, "actor")),
            "from_value": obj.from_value,
            "to_value": obj.to_value,
            "data": email_context_plain(obj.data or {}),
            "created_at": obj.created_at,
        }
    if isinstance(obj, Notification):
        return {"kind": obj.kind}
    if isinstance(obj, Department | HelpTopic | Priority | Status):
        return _named(obj)
    return str(obj)


def _plain(value: Any, depth: int = 0) -> Any:
    if isinstance(value, PLAIN):
        return value
    if depth > 5:
        return str(value)
    if isinstance(value, dict):
        return {str(key): _plain(item, depth + 1) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(item, depth + 1) for item in value]
    return _plain_model(value)


def email_context_plain(context: dict[str, Any]) -> dict[str, Any]:
    """The context a mail template sees: plain values only (see the module's docstring)."""
    return {str(key): _plain(value) for key, value in context.items()}


def email_template_defaults(kind: str) -> dict[str, str]:
    """The file templates' sources of a kind: what an admin's edit starts from and resets to."""
    engine = _engine()
    sources = {}
    for part in PARTS:
        template = engine.get_template(f"emails/{kind}{SUFFIX[part]}")
        sources[part] = template.source
    return sources


def email_template_compile(source: str) -> Template:
    """A template from an admin's text; TemplateSyntaxError when it is not valid."""
    template = Template(source, engine=_engine())
    if template.nodelist.get_nodes_by_type(DebugNode):
        raise TemplateSyntaxError("{% debug %} is not available in mail templates.")
    return template


def _render_parts(templates: dict[str, Template], context: dict[str, Any]) -> RenderedEmail:
    context = email_context_plain(context)
    # Subjects and text are not HTML: nothing in them is escaped (a subject "Q&A" stays so).
    subject = templates["subject"].render(Context(context, autoescape=False))
    text = templates["text"].render(Context(context, autoescape=False))
    html = templates["html"].render(Context(context, autoescape=True))
    # A subject is one line, whatever a user put in the ticket's summary or their name.
    return RenderedEmail(subject=single_line(subject, 998), text=text, html=html)


def _file_templates(kind: str) -> dict[str, Template]:
    engine = _engine()
    return {part: engine.get_template(f"emails/{kind}{SUFFIX[part]}") for part in PARTS}


def email_render(name: str, context: dict[str, Any]) -> RenderedEmail:
    from notifications.models import EmailTemplate

    stored = EmailTemplate.objects.filter(kind=name).first()
    if stored is not None:
        try:
            compiled = {part: email_template_compile(getattr(stored, part)) for part in PARTS}
            return _render_parts(compiled, context)
        except Exception:
            logger.exception("the stored %s template failed; using the default", name)
    return _render_parts(_file_templates(name), context)


def email_render_source(sources: dict[str, str], context: dict[str, Any]) -> RenderedEmail:
    """Render unsaved sources (the admin's preview). TemplateSyntaxError names the bad part."""
    compiled = {}
    for part in PARTS:
        try:
            compiled[part] = email_template_compile(sources[part])
        except TemplateSyntaxError as exc:
            raise TemplateSyntaxError(f"{part}: {exc}") from exc
    return _render_parts(compiled, context)


def email_sample_context(kind: str) -> dict[str, Any]:
    """Made-up values for a preview: nothing is read from or written to the database."""
    from accounts.models import User
    from tickets.models import Department, EntryKind, EventKind, Priority, ThreadEntry, Ticket, TicketEvent

    now = timezone.now()
    department = Department(name="Support")
    karen = User(email="karen@example.com", name="Karen Doe")
    jane = User(email="jane@example.com", name="Jane Doe", kind=User.Kind.AGENT)
    ticket = Ticket(
        number=48151623,
        subject="Entire mobile/online banking system is down",
        department=department,
        priority=Priority(name="Emergency", urgency=1),
        requester=karen,
        assignee=jane,
        created_at=now,
        due_at=now + timedelta(hours=1),
    )
    from notifications.models import REQUESTER_KINDS

    is_requester_kind = kind in REQUESTER_KINDS
    entry = ThreadEntry(
        ticket=ticket,
        kind=EntryKind.RESPONSE if kind == "response" else EntryKind.MESSAGE,
        author=jane if kind in ("response", "note_alert") else karen,
        author_name="Jane Doe" if kind in ("response", "note_alert") else "Karen Doe",
        body="We found the cause and are restarting the service now.",
        created_at=now,
    )
    event = TicketEvent(
        ticket=ticket,
        kind=EventKind.TRANSFERRED if kind == "transfer_alert" else EventKind.CREATED,
        actor=User(email="john@example.com", name="John Doe", kind=User.Kind.AGENT),
        from_value="Support",
        to_value="Resolution",
        data={"due_at": (now + timedelta(hours=1)).isoformat()},
        created_at=now,
    )
    return {
        "recipient": karen if is_requester_kind else jane,
        "ticket": ticket,
        "event": event,
        "entry": entry,
        "site_url": "https://helpdesk.example.com",
        "staff_url": "https://helpdesk.example.com/staff/tickets/48151623/",
        "link_url": "https://helpdesk.example.com/t/sample-link/",
        "mailbox": {"name": "Support inbox", "last_error": "LOGIN failed", "consecutive_failures": 5},
    }
