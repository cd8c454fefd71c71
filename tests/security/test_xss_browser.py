"""Stored XSS, in a real browser (headless Chromium driven by Playwright).

Classic payloads go in through every input channel: the portal's open-ticket form (a guest's
name, the summary, the description, a file's name), Karen's portal reply, an agent's reply and
internal note (text and HTML), an email (subject, HTML body, From display name, attachment
name), the REST API (requester name, subject, HTML message), a canned response, an admin's
edit of an email template, and the names of a department and a help topic. Then every view
that shows them is loaded (portal, staff panel, search, dashboard, admin pages, Django admin,
the mails as HTML) and nothing may run: no payload's `xss(n)` is called, no dialog opens, and
the DOM holds no handler, javascript: URL, srcdoc or script that came from a payload.

The browser ignores the Content-Security-Policy here (bypass_csp): the CSP is the second line
of defence, and this test proves the first, escaping and sanitising, on its own.
"""

from __future__ import annotations

import json
from email.message import EmailMessage
from email.utils import formataddr
from urllib.parse import quote

import pytest
from django.core import mail
from django.test import Client

from accounts.models import User
from inbound.services import email_ingest
from notifications.models import EmailTemplate, NotificationKind
from tests.conftest import PASSWORD
from tickets import services
from tickets.canned import canned_response_create
from tickets.models import Department, HelpTopic, Ticket
from tickets.queues import saved_queue_create

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# Each payload calls xss(<n>) when it runs; n = channel * 100 + payload number.
PAYLOADS = [
    "<script>xss({n})</script>",
    "<img src=x onerror=xss({n})>",
    "<svg onload=xss({n})>",
    '"><img src=x onerror=xss({n})>',
    "'><svg/onload=xss({n})>",
    '<a href="javascript:xss({n})">click</a>',
    "</textarea><script>xss({n})</script>",
    "</script><script>xss({n})</script>",
    '<iframe srcdoc="<script>parent.xss({n})</script>"></iframe>',
    "<details open ontoggle=xss({n})>",
    "<math><mtext><table><mglyph><style><img src=x onerror=xss({n})>",
    "<input autofocus onfocus=xss({n})>",
    '<body onload="xss({n})">',
    "{{{{ request.user.password }}}}{{% debug %}}<b>{n}</b>",
    "javascript:xss({n})//",
]
SHORT = '"><img src=x onerror=xss({n})>'
# A search that puts a payload in the address (reflected, not stored).
REFLECTED = quote('"><img src=x onerror=xss(9900)><script>xss(9901)</script>')


def every(channel: int, limit: int = 100_000) -> str:
    text = " ".join(p.format(n=channel * 100 + i) for i, p in enumerate(PAYLOADS))
    return text[:limit]


def short(channel: int) -> str:
    return SHORT.format(n=channel * 100)


# Find what the page built from payloads (some need a click or focus to fire).
DOM_SCAN = """() => {
  const found = [];
  for (const el of document.querySelectorAll('*')) {
    for (const a of el.attributes) {
      const n = a.name.toLowerCase(), v = a.value;
      if (n.startsWith('on') && v.includes('xss(')) found.push(`${el.tagName} ${n}=${v}`);
      if (['href', 'src', 'action', 'formaction', 'xlink:href'].includes(n)
          && /^\\s*javascript:/i.test(v)) found.push(`${el.tagName} ${n}=${v}`);
      if (n === 'srcdoc') found.push(`${el.tagName} srcdoc`);
    }
    if (el.tagName === 'SCRIPT' && !el.src && el.type !== 'application/json'
        && el.textContent.includes('xss(')) found.push('inline script ' + el.textContent.slice(0, 60));
  }
  return found;
}"""


# What a person reads on the page: its text and what its form fields hold.
SHOWN_TEXT = """() => document.body.innerText + [...document.querySelectorAll('textarea, input, option')]
  .map((el) => el.value + ' ' + (el.label || '')).join(' ')"""


def _sign_in(context, base: str, email: str, staff: bool) -> None:
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.goto(f"{base}/staff/login/" if staff else f"{base}/login/")
    page.fill("input[name=username]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    page.close()


class Watch:
    """One browser context: every page it loads is checked for payloads that ran."""

    def __init__(self, browser, base: str) -> None:
        self.base = base
        self.context = browser.new_context(bypass_csp=True, java_script_enabled=True)
        self.context.add_init_script("window.__hits = []; window.xss = (n) => window.__hits.push(n);")
        self.dialogs: list[str] = []
        self.pages = 0

    def check(self, page, where: str, expect_payload: bool = True) -> None:
        page.wait_for_timeout(150)  # onload, autofocus and toggle handlers fire after load
        hits = page.evaluate("window.__hits")
        assert hits == [], f"{where}: payloads ran: {hits}"
        assert self.dialogs == [], f"{where}: dialogs opened: {self.dialogs}"
        found = page.evaluate(DOM_SCAN)
        for frame in page.frames[1:]:
            found += [f"frame {frame.url}: {x}" for x in frame.evaluate(DOM_SCAN)]
        assert found == [], f"{where}: markup from payloads: {found}"
        shown = page.evaluate(SHOWN_TEXT)
        # "{{ request.user.password }}" in user text stays text: no template evaluates it.
        assert "md5$" not in shown and "pbkdf2" not in shown, f"{where}: a template ran user text"
        if expect_payload:
            # The view did show the hostile text (as text): the check above was not vacuous.
            assert "xss(" in shown, f"{where}: no payload shown"
        self.pages += 1

    def visit(self, path: str, expect_payload: bool = True, status: int = 200) -> None:
        page = self.context.new_page()
        page.set_default_timeout(20_000)
        page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        response = page.goto(self.base + path)
        assert response is not None and response.status == status, f"{path}: {response and response.status}"
        self.check(page, path, expect_payload)
        page.close()

    def show_html(self, html: str, where: str) -> None:
        page = self.context.new_page()
        page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        page.set_content(html)
        self.check(page, where)
        page.close()


def _seed(karen: User, john: User, admin: User, report_a_problem: HelpTopic) -> dict[str, object]:
    """Payloads into every channel, each through the path a user's input takes."""
    # Channels 1-2: names an admin gives a department and a help topic.
    Department.objects.filter(pk=report_a_problem.department_id).update(name=f"Support {short(1)}")
    HelpTopic.objects.filter(pk=report_a_problem.pk).update(name=f"Problem {short(2)}")

    # Channels 3-5: a guest's open-ticket form: name, summary, description; 6: a file's name.
    guest = Client()
    response = guest.post(
        "/open/",
        {
            "help_topic": report_a_problem.pk,
            "name": short(3),
            "email": "mallory@example.net",
            "subject": every(4, 255),
            "body": every(5),
            "attachments": _file(f"{short(6)}.txt"),
        },
    )
    assert response.status_code == 302, response.content[:2000]
    guest_ticket = Ticket.objects.get(requester__email="mallory@example.net")

    # Channels 7-8: Karen, signed in, opens a ticket and replies to it in the portal.
    portal = Client()
    portal.force_login(karen)
    response = portal.post(
        "/open/",
        {"help_topic": report_a_problem.pk, "subject": every(7, 255), "body": every(7), "attachments": _file("a.txt")},
    )
    assert response.status_code == 302
    karens = Ticket.objects.filter(requester=karen).latest("pk")
    assert portal.post(f"/tickets/{karens.number}/reply/", {"body": every(8)}).status_code == 302

    # Channels 9-10: an agent's reply and internal note, as text and as HTML.
    services.ticket_reply(ticket=karens, actor=admin, body=every(9), body_html=every(9))
    services.ticket_add_note(ticket=karens, actor=admin, body=every(10), body_html=every(10), title=short(10))

    # Channels 11-14: an email: subject, From display name, HTML body, attachment name.
    message = EmailMessage()
    message["From"] = formataddr((f"Eve {short(12)}", "eve@example.net"))
    message["To"] = "support@example.com"
    message["Subject"] = every(11, 200)
    message["Message-ID"] = "<xss-1@example.net>"
    message.set_content(every(13))
    message.add_alternative(f"<html><body>{every(13)}</body></html>", subtype="html")
    message.add_attachment(b"plain words", maintype="text", subtype="plain", filename=f"{short(14)}.txt")
    result = email_ingest(raw=message.as_bytes(), via="pipe")
    assert result.ticket is not None and result.message is not None, result

    # Channels 15-17: the REST API: requester name, subject, HTML message.
    api = Client()
    api.force_login(admin)
    response = api.post(
        "/api/v1/tickets/",
        json.dumps(
            {
                "requester": {"email": "trent@example.net", "name": short(15)},
                "subject": every(16, 255),
                "message_html": every(17),
                "help_topic": report_a_problem.pk,
            }
        ),
        content_type="application/json",
    )
    assert response.status_code == 201, response.content[:2000]

    # Channel 18: a canned response (title and body).
    canned = canned_response_create(actor=admin, title=short(18), body=every(18), personal=False)

    # Channel 19: an admin's edit of the reply mail: ticket values in it, and a text part that
    # tries to break out of the editor's textarea.
    EmailTemplate.objects.create(
        kind=NotificationKind.RESPONSE,
        subject="Re: {{ ticket.subject }}",
        text="{{ entry.body }} " + every(19),
        html="<p>{{ ticket.subject }} {{ recipient.name }}</p>{% include 'emails/_entry.html' %}",
        updated_by=admin,
    )
    services.ticket_reply(ticket=guest_ticket, actor=admin, body=every(20), body_html=every(20))

    # Channel 22: Karen renames herself in the portal (agents see her name on every ticket).
    response = portal.post("/account/", {"name": short(22), "phone": "", "time_zone": ""})
    assert response.status_code in (200, 302)
    karen.refresh_from_db()
    assert "xss(" in karen.name
    # Channel 23: an admin renames an agent, who is then assigned a ticket.
    User.objects.filter(pk=john.pk).update(name=f"John {short(23)}")
    john.refresh_from_db()
    services.ticket_assign(ticket=karens, actor=admin, assignee=john)
    # Channel 24: an agent's shared saved search, listed for every agent.
    saved_queue_create(owner=admin, name=short(24), base="open", params={"q": every(24, 120)}, is_shared=True)
    token = services.access_link_issue(ticket=guest_ticket, recipient=guest_ticket.requester)
    return {
        "guest_ticket": guest_ticket,
        "karens": karens,
        "canned": canned,
        "token": token,
        "inbound_pk": result.message.pk,
    }


def _file(name: str):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, b"plain words", content_type="text/plain")


def test_no_payload_runs_in_any_view(server, browser, karen, john, admin, report_a_problem) -> None:
    seeded = _seed(karen, john, admin, report_a_problem)
    karens: Ticket = seeded["karens"]  # type: ignore[assignment]
    guest_ticket: Ticket = seeded["guest_ticket"]  # type: ignore[assignment]
    tickets = list(Ticket.objects.order_by("pk"))
    assert len(tickets) == 4

    # The portal: Karen's pages, and the guest's secret link.
    portal = Watch(browser, server)
    _sign_in(portal.context, server, karen.email, staff=False)
    for path in (
        "/",
        "/open/",
        "/tickets/",
        f"/tickets/{karens.number}/",
        "/tickets/?q=xss",
        f"/tickets/?q={REFLECTED}",
    ):
        portal.visit(path)
    guest = Watch(browser, server)
    guest.visit(f"/t/{seeded['token']}/")
    guest.visit("/open/")

    # The staff panel and the admin pages, as the admin (who sees every department).
    staff = Watch(browser, server)
    _sign_in(staff.context, server, admin.email, staff=True)
    paths: list[str | tuple[str, bool] | tuple[str, bool, int]] = [
        "/staff/",
        "/staff/queues/open/",
        "/staff/queues/all/",
        "/staff/queues/all/?q=onerror",
        f"/staff/queues/all/?q={REFLECTED}",
        (f"/staff/queues/all/?q=x&sort={REFLECTED}", False, 400),  # refused by the sort allowlist
        f"/staff/dashboard/?department={REFLECTED}",
        "/staff/dashboard/",
        "/staff/canned/",
        f"/staff/canned/{seeded['canned'].pk}/",  # type: ignore[attr-defined]
        *[f"/staff/tickets/{t.number}/" for t in tickets],
        "/staff/admin/departments/",
        f"/staff/admin/departments/{report_a_problem.department_id}/",
        "/staff/admin/help-topics/",
        f"/staff/admin/help-topics/{report_a_problem.pk}/",
        "/staff/admin/agents/",
        "/staff/admin/mail/messages/?outcome=created",
        f"/staff/admin/mail/messages/{seeded['inbound_pk']}/",
        ("/staff/admin/mail/outbox/?state=sent", False),  # kinds and addresses only
        "/staff/admin/mail/templates/response/",
        "/django-admin/tickets/ticket/",
        f"/django-admin/tickets/ticket/{karens.pk}/change/",
        "/django-admin/tickets/threadentry/",
    ]
    for path in paths:
        if isinstance(path, tuple):
            staff.visit(*path)
        else:
            staff.visit(path)

    # The admin previews the edited template: its HTML is shown in the page.
    page = staff.context.new_page()
    page.on("dialog", lambda d: (staff.dialogs.append(d.message), d.dismiss()))
    page.goto(f"{server}/staff/admin/mail/templates/response/")
    page.fill("textarea[name=html]", "<p>{{ ticket.subject }}</p>" + every(21))
    page.click("button[name=preview]")
    page.wait_for_load_state()
    staff.check(page, "template preview")
    page.close()

    # Mail as a reader's browser shows it: every message sent, its HTML part.
    sent = [m for m in mail.outbox if getattr(m, "alternatives", None)]
    assert len(sent) >= 3
    shown = 0
    for message in sent:
        html = message.alternatives[0][0]
        if "xss(" in html or "xss(" in message.body:
            staff.show_html(html, f"mail {message.subject[:40]!r} to {message.to}")
            shown += 1
            assert "\n" not in message.subject and "\r" not in message.subject
    assert shown >= 3

    # The CSV export is a download of text, never a page.
    response = staff.context.request.get(f"{server}/staff/queues/all/export.csv")
    assert response.status == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-disposition"].startswith("attachment;")
    assert "xss(" in response.text()

    total = portal.pages + guest.pages + staff.pages
    assert total >= 30
    assert guest_ticket.pk
