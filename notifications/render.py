"""Rendering mail: the one helper every notification goes through.

Each kind has three parts (subject, text, HTML). An admin's edit stored in EmailTemplate wins;
otherwise the files templates/emails/<kind>.subject.txt, .txt and .html are used. A stored
template that no longer renders (a typo saved before the form checked it, a removed variable
used in a filter) falls back to the files, so that a bad edit never stops the mail.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.template import Context, Engine, Template, TemplateSyntaxError, engines
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


def _engine() -> Engine:
    return engines["django"].engine  # type: ignore[attr-defined,no-any-return]


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
    return Template(source, engine=_engine())


def _render_parts(templates: dict[str, Template], context: dict[str, Any]) -> RenderedEmail:
    # Subjects and text are not HTML: nothing in them is escaped (a subject "Q&A" stays so).
    # Django marks what a template renders as safe HTML; these two are plain text, so they are
    # made plain strings again (a page that shows them, the admin's preview, escapes them).
    subject = str.__str__(templates["subject"].render(Context(context, autoescape=False)))
    text = str.__str__(templates["text"].render(Context(context, autoescape=False)))
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
