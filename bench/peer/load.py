"""Load the project's generated dataset into django-helpdesk, so that both hold the same data.

Runs in the peer's own virtual environment, with the peer's settings:

    cd bench/peer && PEER_DATABASE_URL=… SECRET_KEY=… .venv/bin/python load.py \
        --source postgres://postgres@127.0.0.1:5432/hd_bench_ours --agent agent0000@bench.example --password …

The rows are read from the project's loaded database and mapped in SQL on the way out
(`COPY (SELECT …) TO STDOUT`), then written with COPY into the peer's tables:

    department            -> Queue (same id; a queue permission, as the peer grants access by queue)
    user                  -> auth User (agents are staff; the name split into first and last)
    ticket                -> Ticket (same id; status open/waiting -> 1 (waiting: on hold), resolved -> 3,
                             closed -> 4; priority = urgency; due date; assignee; first message as description)
    thread entry          -> FollowUp (same id; notes are not public)
    status change, assign -> FollowUp (as the peer records them: a title, and the new status)

Agents get the permission of their department's queue (per-queue staff permissions are on).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

HERE = Path(__file__).resolve().parent
# The project's own package is also named `helpdesk`: only bench/ goes on the path (for
# pgload), never the project's root, or it would shadow django-helpdesk.
sys.path[:0] = [str(HERE)]
sys.path.append(str(HERE.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "peer_site.settings")

import django  # noqa: E402

django.setup()

import pgload  # noqa: E402
import psycopg2  # noqa: E402
from django.contrib.auth.models import Permission, User  # noqa: E402
from django.contrib.contenttypes.models import ContentType  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from helpdesk.models import Queue, UserSettings  # noqa: E402

LOADER_VERSION = 1
TABLES = ["helpdesk_ticket", "helpdesk_followup"]
USER_COLUMNS = [
    "id",
    "password",
    "last_login",
    "is_superuser",
    "username",
    "first_name",
    "last_name",
    "email",
    "is_staff",
    "is_active",
    "date_joined",
]
TICKET_COLUMNS = [
    "id",
    "title",
    "created",
    "modified",
    "submitter_email",
    "status",
    "on_hold",
    "description",
    "resolution",
    "priority",
    "due_date",
    "last_escalation",
    "assigned_to_id",
    "queue_id",
    "secret_key",
    "kbitem_id",
    "merged_to_id",
]
FOLLOWUP_COLUMNS = [
    "id",
    "date",
    "title",
    "comment",
    "public",
    "new_status",
    "ticket_id",
    "user_id",
    "message_id",
    "time_spent",
    "email_recipients",
]
STATUS = "CASE {0} WHEN 'open' THEN 1 WHEN 'waiting' THEN 1 WHEN 'resolved' THEN 3 ELSE 4 END"

USERS_SQL = """
SELECT id, '!', NULL, false, left(email, 150), left(split_part(name, ' ', 1), 150),
       left(CASE WHEN strpos(name, ' ') > 0 THEN substr(name, strpos(name, ' ') + 1) ELSE '' END, 150),
       email, kind <> 'end_user', is_active, date_joined
FROM accounts_user
"""
TICKETS_SQL = f"""
SELECT t.id, left(t.subject, 200), t.created_at, t.updated_at, u.email, {STATUS.format("t.state")},
       t.state = 'waiting',
       (SELECT e.body FROM tickets_threadentry e WHERE e.ticket_id = t.id ORDER BY e.created_at, e.id LIMIT 1),
       NULL, least(p.urgency, 5), t.due_at, NULL, t.assignee_id, t.department_id,
       md5(t.id::text)::uuid::text, NULL, NULL
FROM tickets_ticket t
JOIN accounts_user u ON u.id = t.requester_id
JOIN tickets_priority p ON p.id = t.priority_id
"""
ENTRIES_SQL = """
SELECT e.id, e.created_at, CASE e.kind WHEN 'note' THEN 'Internal note' ELSE 'Comment' END, e.body,
       e.kind <> 'note', NULL, e.ticket_id, e.author_id, NULLIF(e.message_id, ''), NULL, NULL
FROM tickets_threadentry e
"""
EVENTS_SQL = f"""
SELECT ev.id + {{offset}}, ev.created_at,
       CASE ev.kind WHEN 'assigned' THEN left('Assigned to ' || ev.to_value, 200) ELSE left(ev.to_value, 200) END,
       '', true, CASE WHEN ev.kind = 'status_changed' THEN {STATUS.format("s.state")} END,
       ev.ticket_id, ev.actor_id, NULL, NULL, NULL
FROM tickets_ticketevent ev
LEFT JOIN tickets_status s ON ev.kind = 'status_changed' AND s.name = ev.to_value
WHERE ev.kind IN ('status_changed', 'assigned')
"""


def dsn(url: str) -> dict[str, Any]:
    parts = urlsplit(url)
    return {
        "dbname": parts.path.lstrip("/"),
        "user": unquote(parts.username or ""),
        "password": unquote(parts.password or ""),
        "host": parts.hostname or "",
        "port": parts.port or 5432,
    }


def queues_and_access(source: Any, agent_email: str, password: str) -> None:
    """Queues with their permissions, agents' access to their department's queue, settings."""
    with source.cursor() as cursor:
        cursor.execute("SELECT id, name FROM tickets_department ORDER BY id")
        departments = cursor.fetchall()
        cursor.execute("SELECT agent_id, department_id FROM accounts_departmentmembership")
        memberships = cursor.fetchall()
    source.commit()
    content_type = ContentType.objects.get_for_model(Queue)
    permissions: dict[int, Permission] = {}
    with transaction.atomic():
        for dep, name in departments:
            queue = Queue(id=dep, title=name[:100], slug=f"dep-{dep}", allow_public_submission=False)
            codename = queue.prepare_permission_name()
            permissions[dep] = Permission.objects.update_or_create(
                content_type=content_type,
                codename=codename,
                defaults={"name": f"Permission for queue: {queue.title}"[:255]},
            )[0]
            queue.save()
        through = User.user_permissions.through
        through.objects.bulk_create(
            [through(user_id=agent, permission_id=permissions[dep].id) for agent, dep in memberships],
            batch_size=2000,
        )
        agents = list(User.objects.filter(is_staff=True).values_list("id", flat=True))
        UserSettings.objects.bulk_create([UserSettings(user_id=a) for a in agents], batch_size=2000)
        agent = User.objects.get(username=agent_email)
        agent.set_password(password)
        agent.save(update_fields=["password"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", required=True, help="URL of the project's loaded database.")
    parser.add_argument("--agent", required=True, help="The bench agent's email (their username here).")
    parser.add_argument("--password", required=True, help="The bench agent's password here.")
    args = parser.parse_args()
    started = time.monotonic()
    call_command("migrate", verbosity=0)
    source = psycopg2.connect(**dsn(args.source))
    source_marker = pgload.marker_read(source)
    if not source_marker.get("bench_data"):
        sys.exit(f"{args.source} holds no bench_data dataset: load it first.")
    connection.ensure_connection()
    target_dsn = connection.get_connection_params()
    target = psycopg2.connect(**target_dsn)
    with source.cursor() as cursor:
        cursor.execute("SELECT COALESCE(MAX(id), 0) FROM tickets_threadentry")
        offset = cursor.fetchone()[0] + 1
        cursor.execute("SELECT COALESCE(MAX(id), 0) FROM tickets_ticketevent")
        if offset + cursor.fetchone()[0] >= 2**31:
            sys.exit("The dataset's ids do not fit the peer's integer keys.")
    source.commit()

    # One transaction from TRUNCATE to the last COPY: COPY FREEZE then writes the rows
    # already frozen and visible, so that the peer needs no VACUUM before it is measured.
    dropped = pgload.drop_for_load(target, TABLES)
    counts: dict[str, int] = {}
    with target.cursor() as cursor:
        cursor.execute("TRUNCATE auth_user, helpdesk_queue, helpdesk_ticket, helpdesk_followup CASCADE")
    for name, sql, table, columns in [
        ("users", USERS_SQL, "auth_user", USER_COLUMNS),
        ("tickets", TICKETS_SQL, "helpdesk_ticket", TICKET_COLUMNS),
        ("entries", ENTRIES_SQL, "helpdesk_followup", FOLLOWUP_COLUMNS),
        ("changes", EVENTS_SQL.format(offset=offset), "helpdesk_followup", FOLLOWUP_COLUMNS),
    ]:
        step = time.monotonic()
        counts[name] = pgload.copy_between(source, target, sql, table, columns, freeze=True)
        print(f"  {name}: {counts[name]:,} rows ({time.monotonic() - step:.0f} s)", flush=True)
    target.commit()
    source.commit()
    queues_and_access(source, args.agent, args.password)
    rows = {"helpdesk_ticket": counts["tickets"], "helpdesk_followup": counts["entries"] + counts["changes"]}
    pgload.rebuild(target_dsn, dropped, rows=rows)
    pgload.reset_sequences(target, ["auth_user", "helpdesk_queue", *TABLES])
    pgload.vacuum_analyze(target_dsn, ["auth_user", *TABLES], vacuum=False)
    pgload.marker_write(
        target,
        {
            "peer_loader": LOADER_VERSION,
            "source": {k: source_marker.get(k) for k in ("tickets", "seed", "anchor", "migrations")},
            **counts,
            "seconds": round(time.monotonic() - started, 1),
        },
    )
    print(f"peer loaded: {counts} in {time.monotonic() - started:.0f} s", flush=True)


if __name__ == "__main__":
    main()
