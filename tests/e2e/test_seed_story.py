"""The seed story (PRODUCT.md's lifecycle) end to end, with every real component running.

Headless Chromium drives the app served on loopback; the requests publish their tasks to a
private Redis; a real Celery worker (another process, on the same database: PostgreSQL's test
database, or a file copy of SQLite's) sends the outbox's mail to an SMTP server in this process;
a real beat schedules the SLA sweep. Karen answers Jane's mail through the MTA pipe
(`manage.py pipe_email`, another process). A screenshot of every step goes to
artifacts/seed-story/.

Beat runs the sweep every SLA_SWEEP_SECONDS (2 s here, a minute by default): nothing moves the
clock. The unanswered Sev-B ticket was opened five hours ago (the services take the moment a
ticket was opened), so its four hours ran out an hour ago, by the real clock of every process.
"""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any, TypeVar

import pytest
from django.db import DEFAULT_DB_ALIAS, connections
from django.utils import timezone

from accounts.models import User
from notifications.models import Notification, NotificationState
from sla.models import SLAPlan
from tests import mailkit
from tests.conftest import PASSWORD
from tests.e2e.test_staff_story import sign_in
from tests.factories import ticket_open
from tests.support import Redis
from tickets.models import EntryKind, EventKind, Ticket, TicketSource, TicketState

pytestmark = [pytest.mark.e2e, pytest.mark.integration, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "artifacts" / "seed-story"
SUBJECT = "Entire mobile/online banking system is down"
SWEEP_SECONDS = 2
WAIT = 60.0  # the longest any one step may take to show its effect

T = TypeVar("T")


@pytest.fixture
def database_url(transactional_db: None, seed: None, tmp_path: Path) -> Iterator[str]:
    """The test database, for the other processes to share.

    PostgreSQL: the test database itself. SQLite: the test database lives in this process's
    memory, out of other processes' reach; for this test it is copied to a file, and every
    connection (this test's, the live server's) goes to the file instead. The database in
    memory is kept open, untouched, and is back in place for the next test."""
    conn = connections[DEFAULT_DB_ALIAS]
    db = conn.settings_dict
    if conn.vendor == "postgresql":
        yield (
            f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
            f"/{db['NAME']}"
        )
        return
    assert conn.vendor == "sqlite" and conn.is_in_memory_db()
    path = tmp_path / "story.sqlite3"
    conn.ensure_connection()
    memory = conn.connection
    copy = sqlite3.connect(path)
    try:
        memory.backup(copy)
    finally:
        copy.close()
    in_memory = db["NAME"]
    conn.connection = None  # detached, not closed: closing would drop the database in memory
    db["NAME"] = str(path)
    try:
        yield f"sqlite:///{path}"
    finally:
        connections.close_all()
        db["NAME"] = in_memory
        conn.connection = memory


@pytest.fixture
def server(database_url: str, server: str) -> str:
    """The live server, on the database the other processes share."""
    return server


@pytest.fixture
def browser(database_url: str, browser: Any) -> Iterator[Any]:
    """While Playwright's loop runs, this test's queries use connections of their own; one left
    open by an earlier test in this process may still reach the database in memory: close them
    here, so that they open again on the shared database. With workers, beat and browsers
    sharing two cores, assertions on the page wait up to 15 s (5 s by default)."""
    from playwright.sync_api import expect

    connections.close_all()
    expect.set_options(timeout=15_000)
    try:
        yield browser
    finally:
        expect.set_options(timeout=None)


@dataclass
class Processes:
    """The worker and beat of this test, and what they logged."""

    env: dict[str, str]
    logs: Path
    running: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self, name: str, *args: str) -> None:
        with (self.logs / f"{name}.log").open("wb") as log:
            self.running[name] = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "helpdesk", *args],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def log(self, name: str) -> str:
        path = self.logs / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def check(self) -> None:
        for name, process in self.running.items():
            if process.poll() is not None:
                pytest.fail(f"{name} exited with {process.returncode}:\n{self.log(name)[-3000:]}")

    def stop(self) -> None:
        for process in self.running.values():
            process.terminate()
        for process in self.running.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)

    def pipe_email(self, raw: bytes) -> str:
        """What an MTA does with a message for the help desk: `manage.py pipe_email` < message."""
        done = subprocess.run(
            [sys.executable, "manage.py", "pipe_email"],
            cwd=ROOT,
            env=self.env,
            input=raw,
            capture_output=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr.decode(errors="replace")
        return done.stdout.decode()


@pytest.fixture
def sink() -> Iterator[mailkit.SmtpSink]:
    with mailkit.smtp_sink() as server:
        yield server


@pytest.fixture
def processes(
    database_url: str, server: str, broker: None, redis: Redis, sink: mailkit.SmtpSink, settings: Any, tmp_path: Path
) -> Iterator[Processes]:
    """`celery worker` and `celery beat` on this test's database and Redis, mailing to the sink.
    They stop before the test database is flushed (this fixture ends first)."""
    settings.SITE_URL = server  # links in the mail lead to the live server
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST") and k != "TESTING"}
    env.update(
        DATABASE_URL=database_url,
        DATABASE_CONN_MAX_AGE="0",
        REDIS_URL=redis.url,
        EMAIL_URL=f"smtp://127.0.0.1:{sink.port}",
        SITE_URL=server,
        SECRET_KEY=settings.SECRET_KEY,
        MEDIA_ROOT=str(settings.MEDIA_ROOT),
        DEBUG="true",
        CELERY_TASK_ALWAYS_EAGER="false",
        SLA_SWEEP_SECONDS=str(SWEEP_SECONDS),
        LOG_LEVEL="INFO",
    )
    running = Processes(env=env, logs=tmp_path)
    running.start("worker", "worker", "--pool=solo", "--without-gossip", "--without-mingle", "--without-heartbeat",
                  "--loglevel=INFO", "-n", f"seed-story-{os.getpid()}@%h")  # fmt: skip
    running.start("beat", "beat", "--loglevel=INFO", "--schedule", str(tmp_path / "beat-schedule"))
    try:
        yield running
    finally:
        running.stop()


def wait_for(what: str, probe: Callable[[], T | None], processes: Processes, timeout: float = WAIT) -> T:
    """Poll `probe` until it gives something; fail, with the processes' logs, after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found:
            return found
        processes.check()
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {timeout:.0f} s\nworker:\n{processes.log('worker')[-3000:]}")
        time.sleep(0.2)


def shot(page: Any, name: str) -> str:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / name), full_page=True)
    return name


def text_of(message: EmailMessage) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]


def html_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    return part.get_content() if part is not None else f"<pre>{text_of(message)}</pre>"


def mails_to(sink: mailkit.SmtpSink, address: str, subject_start: str = "") -> list[mailkit.Received]:
    with sink.lock:
        received = sink.to(address)
    return [r for r in received if str(r.message["Subject"]).startswith(subject_start)]


def sweeps_done(processes: Processes) -> int:
    return len(re.findall(r"Task sla\.tasks\.sweep\[[^]]+\] succeeded", processes.log("worker")))


def watch(page: Any, problems: list[str]) -> None:
    """Script errors, CSP refusals (console errors) and failed loads; browsers' own favicon request aside."""
    page.route("**/favicon.ico", lambda route: route.fulfill(status=204))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None)


def test_the_seed_story_with_the_real_worker_beat_mail_and_pipe(
    processes: Processes, sink: mailkit.SmtpSink, server: str, browser: Any, karen: User, ken: User,
    john: User, jane: User, admin: User, report_a_problem: Any, tmp_path: Path,
) -> None:  # fmt: skip
    from playwright.sync_api import expect

    shots: list[str] = []
    problems: list[str] = []
    base = server

    # Beside the story: Ken's Sev-B ticket, opened five hours ago and never answered.
    sev_b = SLAPlan.objects.get(name="Sev-B")
    adobe = ticket_open(
        ken,
        "Accounting department needs Adobe upgrade",
        "Accounting needs the new Adobe release on four machines.",
        help_topic=report_a_problem,
        sla_plan=sev_b,
        assignee=john,
        now=timezone.now() - timedelta(hours=5),
    )
    assert adobe.due_at is not None and adobe.due_at < timezone.now() and not adobe.is_overdue

    # 1. Intake: Karen opens the ticket in the portal, with a screenshot attached.
    attachment = tmp_path / "banking-error.png"
    attachment.write_bytes(mailkit.PNG)
    desk = browser.new_context(viewport={"width": 1280, "height": 900})
    portal = desk.new_page()
    portal.set_default_timeout(15_000)
    watch(portal, problems)
    portal.goto(f"{base}/")
    portal.get_by_role("link", name="Sign in").first.click()
    portal.get_by_label("Email").fill(karen.email)
    portal.get_by_label("Password").fill(PASSWORD)
    portal.get_by_role("button", name="Sign in").click()
    expect(portal.get_by_role("heading", name="My tickets")).to_be_visible()
    portal.get_by_role("navigation", name="Portal").get_by_role("link", name="Open a ticket").click()
    portal.get_by_label("Help topic").select_option(label="Report a Problem")
    portal.get_by_label("Summary").fill(SUBJECT)
    portal.get_by_label("Description").fill("Since 9:00 no customer can sign in to mobile or online banking.")
    portal.get_by_label("Attachments").set_input_files(str(attachment))
    shots.append(shot(portal, "01-karen-opens-a-ticket-with-an-attachment.png"))
    portal.get_by_role("button", name="Open the ticket").click()
    expect(portal.get_by_role("heading", name="Your ticket is open")).to_be_visible()
    ticket = Ticket.objects.get(subject=SUBJECT)
    expect(portal.locator(".ticket-number")).to_have_text(f"#{ticket.number}")
    assert (ticket.requester, ticket.department.name, ticket.assignee) == (karen, "Support", None)
    assert (ticket.sla_plan.name, ticket.priority.name) == ("Default SLA", "Normal")
    assert [a.filename for a in ticket.entries.get().attachments.all()] == ["banking-error.png"]
    shots.append(shot(portal, "02-karen-sees-her-ticket-number.png"))

    # The auto-response reaches her mailbox through Redis, the worker and SMTP.
    auto = wait_for(
        "the auto-response to Karen",
        lambda: [m.message for m in mails_to(sink, karen.email) if f"#{ticket.number}" in m.message["Subject"]],
        processes,
    )[0]
    assert f"{base}/t/" in text_of(auto)

    # 2. John finds it in Open / Unassigned, reads its properties, sets Emergency and Sev-A.
    staff = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = staff.new_page()
    page.set_default_timeout(15_000)
    watch(page, problems)
    sign_in(page, base, john.email)
    page.click("a[data-queue=unassigned]")
    row = page.locator("table.ticket-list tbody tr", has_text=SUBJECT)
    row.wait_for()
    shots.append(shot(page, "03-john-finds-it-unassigned.png"))
    row.locator("a.ticket-link").click()
    page.wait_for_url(f"{base}/staff/tickets/{ticket.number}/")
    props = page.locator(".ticket-props").inner_text()
    for value in ("Open", "Normal", "Support", "Unassigned", "Report a Problem", "Default SLA", "Web"):
        assert value in props
    expect(page.locator("article.entry").first).to_contain_text("banking-error.png")
    due_before = page.locator("#ticket-due time").get_attribute("datetime")
    shots.append(shot(page, "04-john-reads-the-properties.png"))
    page.click("details:has(#priority-form) > summary")
    page.select_option("#id_priority-priority", label="Emergency")
    page.click("#priority-form button[type=submit]")
    page.locator(".alert", has_text="Priority: Emergency.").wait_for()
    page.click("details:has(#sla-form) > summary")
    page.select_option("#id_sla-sla_plan", label="Sev-A")
    page.click("#sla-form button[type=submit]")
    page.locator(".alert", has_text="SLA plan: Sev-A.").wait_for()
    assert page.locator("#ticket-due time").get_attribute("datetime") < due_before
    shots.append(shot(page, "05-john-sets-emergency-and-sev-a.png"))

    # He transfers it to Online Banking with a note for them, and assigns Jane.
    handover = "Core banking outage: the load balancer pool is empty. Yours, Jane."
    page.click("details:has(#transfer-form) > summary")
    page.select_option("#id_transfer-department", label="Online Banking")
    page.select_option("#id_transfer-assignee", label="Jane Doe")
    page.fill("#id_transfer-note", handover)
    shots.append(shot(page, "06-john-transfers-to-online-banking-for-jane.png"))
    page.click("#transfer-form button[type=submit]")
    page.locator(".alert", has_text="is no longer in your departments").wait_for()
    page.click("form[action='/staff/logout/'] button")
    page.wait_for_url(f"{base}/staff/login/")
    # Jane is alerted by mail, of the assignment and of the transfer.
    wait_for(
        "the assignment and transfer alerts to Jane",
        lambda: len([m for m in mails_to(sink, jane.email) if f"#{ticket.number}" in m.message["Subject"]]) >= 2,
        processes,
    )

    # 3. Jane finds it under My Tickets, leaves a note for John and replies to Karen.
    note = "Rolled the release back; watching the error rate. John: thanks."
    reply = "We found the cause and rolled the update back; service is coming back now."
    sign_in(page, base, jane.email)
    page.click("a[data-queue=mine]")
    page.locator("table.ticket-list tbody tr", has_text=SUBJECT).wait_for()
    shots.append(shot(page, "07-jane-finds-it-under-my-tickets.png"))
    page.locator("table.ticket-list a.ticket-link", has_text=str(ticket.number)).click()
    page.wait_for_url(f"{base}/staff/tickets/{ticket.number}/")
    assert handover in page.locator("article.entry-note").first.inner_text()
    page.keyboard.press("n")
    page.locator("#id_note-body").fill(note)
    page.click("#note-form button[type=submit]")
    page.locator(".alert", has_text="Internal note added.").wait_for()
    page.keyboard.press("r")
    page.locator("#id_reply-body").fill(reply)
    page.click("#reply-submit")
    page.locator(".alert", has_text="Reply sent to Karen Doe.").wait_for()
    shots.append(shot(page, "08-jane-notes-and-replies.png"))

    # Karen receives the reply by email: the reply, never the notes.
    received = wait_for(
        "Jane's reply in Karen's mailbox",
        lambda: [m for m in mails_to(sink, karen.email) if reply in text_of(m.message)],
        processes,
    )
    assert len(received) == 1
    reply_mail = received[0]
    raw = reply_mail.data.decode(errors="replace")
    for secret in (note, "load balancer pool", "error rate"):
        assert secret not in raw and secret not in text_of(reply_mail.message)
        assert secret not in html_of(reply_mail.message)
    mailbox = desk.new_page()
    mailbox.set_content(html_of(reply_mail.message))
    expect(mailbox.get_by_text(reply)).to_be_visible()
    shots.append(shot(mailbox, "09-karen-receives-the-reply-by-email.png"))
    mailbox.close()

    # She answers the mail; her mail server pipes the answer in. It lands in the same thread.
    answer = "Thank you, Jane: the app works again on my phone and at the branch."
    outcome = processes.pipe_email(mailkit.reply_to(reply_mail.data, "Karen Doe <karen@example.com>", answer))
    assert f"#{ticket.number}" in outcome
    entry = ticket.entries.order_by("created_at", "id").last()
    assert entry is not None
    assert (entry.kind, entry.author, entry.source) == (EntryKind.MESSAGE, karen, TicketSource.EMAIL)
    assert answer in entry.body
    assert Ticket.objects.filter(subject__contains="mobile/online banking").count() == 1
    wait_for(
        "the new-message alert to Jane",
        lambda: mails_to(sink, jane.email, f"New message [#{ticket.number}]"),
        processes,
    )
    page.reload()
    expect(page.locator("article.entry", has_text=answer)).to_be_visible()
    shots.append(shot(page, "10-jane-sees-karens-emailed-answer.png"))

    # 4. Jane resolves it with a final reply; Karen is notified.
    final = "Mobile and online banking are fully restored. Sorry for the trouble."
    page.locator("#id_reply-body").fill(final)
    page.select_option("#id_reply-status", label="Resolved")
    page.click("#reply-submit")
    page.locator(".alert", has_text="Status: Resolved.").wait_for()
    assert page.locator("#ticket-status").inner_text() == "Resolved"
    shots.append(shot(page, "11-jane-resolves-with-a-final-reply.png"))
    resolved = wait_for(
        "the resolution in Karen's mailbox",
        lambda: [m.message for m in mails_to(sink, karen.email, f"Resolved [#{ticket.number}]")],
        processes,
    )
    assert len(resolved) == 1
    rate_link = re.search(rf"{re.escape(base)}/t/\S+", text_of(resolved[0]))
    assert rate_link is not None, text_of(resolved[0])

    # 5. The mail asks Karen to rate the help: she follows its link, confirms the problem is
    # solved (which closes the ticket) and rates the help.
    portal.goto(rate_link.group(0))
    expect(portal.get_by_text(final)).to_be_visible()
    expect(portal.get_by_text(answer)).to_be_visible()
    expect(portal.get_by_text(note)).to_have_count(0)
    portal.get_by_role("button", name="My problem is solved").click()
    expect(portal.get_by_text("Thank you: the ticket is closed.")).to_be_visible()
    portal.get_by_label("5: excellent").check()
    portal.get_by_label("Comment (optional)").fill("Fast, clear, and kept me informed.")
    shots.append(shot(portal, "12-karen-confirms-and-rates-the-help.png"))
    portal.get_by_role("button", name="Send my rating").click()
    expect(portal.get_by_text("Thank you for rating the help.")).to_be_visible()
    expect(portal.get_by_text("5 out of 5")).to_be_visible()
    shots.append(shot(portal, "13-karen-sees-her-rating.png"))
    ticket.refresh_from_db()
    assert (ticket.state, ticket.satisfaction_rating) == (TicketState.CLOSED, 5)
    assert ticket.satisfaction_comment == "Fast, clear, and kept me informed."

    # 6. The Closed queue and the dashboard show it; the ticket shows the rating.
    page.goto(f"{base}/staff/")
    page.click("a[data-queue=closed]")
    page.locator("table.ticket-list tbody tr", has_text=SUBJECT).wait_for()
    shots.append(shot(page, "14-jane-closed-queue.png"))
    page.locator("table.ticket-list a.ticket-link", has_text=str(ticket.number)).click()
    page.wait_for_url(f"{base}/staff/tickets/{ticket.number}/")
    expect(page.locator("#ticket-rating")).to_contain_text("5 out of 5")
    expect(page.locator("#ticket-rating")).to_contain_text("Fast, clear, and kept me informed.")
    shots.append(shot(page, "15-jane-sees-karens-rating-on-the-ticket.png"))
    page.goto(f"{base}/staff/dashboard/")
    jane_row = page.locator("#workload-table tbody tr", has_text="Jane Doe")
    expect(jane_row.locator("td").nth(3)).to_have_text("1")  # resolved in the last 30 days
    # Online Banking's one ticket: its resolution clock (Sev-A) met, none missed.
    expect(page.locator("#sla-table tbody tr td").nth(0)).to_have_text("Resolution")
    assert page.locator("#sla-table tbody tr").first.locator("td").all_inner_texts()[1:4] == ["1", "0", "0"]
    shots.append(shot(page, "16-dashboard-resolved-and-sla-compliance.png"))

    # The sweep, from beat: Ken's unanswered Sev-B ticket is overdue, and its assignee and the
    # department's manager were alerted once each.
    def overdue_alerts() -> dict[str, int]:
        alerts = [r for r in sink.received if str(r.message["Subject"]).startswith(f"Overdue [#{adobe.number}]")]
        return {address: sum(address in r.recipients for r in alerts) for address in (john.email, admin.email)}

    wait_for("the overdue alerts", lambda: all(overdue_alerts().values()), processes)
    adobe.refresh_from_db()
    assert adobe.is_overdue
    swept = sweeps_done(processes)
    wait_for("two more sweeps", lambda: sweeps_done(processes) >= swept + 2, processes, timeout=6 * SWEEP_SECONDS + 20)
    assert overdue_alerts() == {john.email: 1, admin.email: 1}
    assert adobe.events.filter(kind=EventKind.OVERDUE).count() == 1
    assert not Notification.objects.exclude(state=NotificationState.SENT).filter(ticket=adobe).exists()
    assert not any(admin.email in r.recipients or john.email in r.recipients for r in [
        r for r in sink.received if str(r.message["Subject"]).startswith(f"Overdue [#{ticket.number}]")
    ])  # fmt: skip

    page.goto(f"{base}/staff/")
    page.click("form[action='/staff/logout/'] button")
    page.wait_for_url(f"{base}/staff/login/")
    sign_in(page, base, john.email)
    page.click("a[data-queue=overdue]")
    overdue_row = page.locator("table.ticket-list tbody tr.ticket-overdue", has_text=adobe.subject)
    expect(overdue_row.locator(".badge", has_text="Overdue")).to_be_visible()
    shots.append(shot(page, "17-john-overdue-queue-after-the-sweep.png"))
    page.goto(f"{base}/staff/dashboard/")
    expect(page.locator("#fig-my-overdue")).to_have_text("1")
    shots.append(shot(page, "18-john-dashboard-counts-it-overdue.png"))
    alert = next(r for r in sink.received if john.email in r.recipients and "Overdue" in str(r.message["Subject"]))
    mailbox = staff.new_page()
    mailbox.set_content(html_of(alert.message))
    shots.append(shot(mailbox, "19-john-overdue-alert-by-email.png"))

    assert [p for p in problems if "favicon" not in p] == []
    print("\nscreenshots:", *shots, sep="\n  ")
    print("mail:", *(f"{r.recipients} {r.message['Subject']}" for r in sink.received), sep="\n  ")
    desk.close()
    staff.close()
