"""A realistic help-desk history for the benchmarks, loaded into PostgreSQL with COPY.

N tickets over three years, about five thread entries each (messages, responses, notes),
their events and SLA clocks, 20 departments, 200 agents and 50,000 end users; every status,
about 5 % of tickets still open. The same seed gives the same data.

Rows are written per model from its concrete fields (defaults for the fields the generator
does not set), so that a new column with a default does not break the loader. Plain indexes
of the big tables are dropped during the load and rebuilt after it, which is several times
faster than maintaining them row by row.
"""

from __future__ import annotations

import io
import json
import random
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import connection, models, transaction

from accounts.models import DepartmentMembership, Role, User
from sla.models import ClockState, ClockTarget, SLAPlan, TicketClock
from tickets.models import (
    Department,
    EntryKind,
    EventKind,
    HelpTopic,
    Priority,
    Status,
    ThreadEntry,
    Ticket,
    TicketEvent,
    TicketSource,
    TicketState,
)

WORDS = [
    "printer",
    "vpn",
    "laptop",
    "password",
    "outlook",
    "excel",
    "server",
    "network",
    "invoice",
    "account",
    "access",
    "badge",
    "monitor",
    "keyboard",
    "license",
    "upgrade",
    "backup",
    "restore",
    "email",
    "calendar",
    "phone",
    "wifi",
    "router",
    "firewall",
    "database",
    "report",
    "payroll",
    "portal",
    "login",
    "screen",
    "crash",
    "slow",
    "error",
    "update",
    "install",
    "permission",
    "folder",
    "share",
    "drive",
    "scanner",
    "meeting",
    "room",
    "projector",
    "camera",
    "headset",
    "mobile",
    "banking",
    "transfer",
    "payment",
    "statement",
    "card",
    "branch",
    "teller",
]
VERBS = ["fails", "stopped", "broken", "locked", "missing", "slow", "needed", "requested", "crashing", "freezing"]
SENTENCES = [
    "Since this morning the {0} {1} for everyone on the third floor.",
    "Could you please look at the {0}? It {1} again after the last {2}.",
    "We restarted the {0} but the {2} still shows an error.",
    "The {0} was replaced and the {2} works again.",
    "Please check whether the {0} and the {2} are configured the same way.",
    "Customer reports that the {0} {1} when they open the {2}.",
]
BENCH_PASSWORD_HASH = "!"  # unusable: bench users never sign in with a password


def _escape(value: Any) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict | list):
        value = json.dumps(value)
    text = str(value)
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


class Table:
    """COPY rows (dicts keyed by attribute name) into one model's table."""

    def __init__(self, model: type[models.Model]) -> None:
        self.model = model
        self.fields = [f for f in model._meta.concrete_fields if not getattr(f, "generated", False)]
        self.defaults = {}
        for field in self.fields:
            if field.has_default():
                default = field.get_default()
                self.defaults[field.attname] = default
            elif field.null:
                self.defaults[field.attname] = None
        self.columns = ", ".join(connection.ops.quote_name(str(f.column)) for f in self.fields)

    def copy(self, rows: Iterable[dict[str, Any]]) -> int:
        buffer = io.StringIO()
        count = 0
        attnames = [f.attname for f in self.fields]
        for row in rows:
            values = []
            for name in attnames:
                value = row[name] if name in row else self.defaults.get(name, "")
                values.append(_escape(value))
            buffer.write("\t".join(values))
            buffer.write("\n")
            count += 1
        buffer.seek(0)
        with connection.cursor() as cursor:
            cursor.cursor.copy_expert(f"COPY {self.model._meta.db_table} ({self.columns}) FROM STDIN", buffer)
        return count


def _drop_plain_indexes(tables: list[str]) -> list[str]:
    """Drop the indexes that back no constraint; return their definitions to rebuild."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT i.indexname, i.indexdef FROM pg_indexes i
            WHERE i.tablename = ANY(%s) AND i.schemaname = current_schema()
              AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)
            """,
            [tables],
        )
        found = cursor.fetchall()
        for name, _ in found:
            cursor.execute(f'DROP INDEX IF EXISTS "{name}"')
    return [definition for _, definition in found]


def _reset_sequences(models_: list[type[models.Model]]) -> None:
    with connection.cursor() as cursor:
        for model in models_:
            table = model._meta.db_table
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), COALESCE((SELECT MAX(id) FROM {table}), 1))"
            )


@dataclass
class Cast:
    departments: list[int]
    agents_by_department: dict[int, list[int]]
    agent_names: dict[int, str]
    end_users: list[int]
    statuses: dict[str, Status]
    priorities: list[Priority]
    plans: list[SLAPlan]
    topics_by_department: dict[int, list[int]]


def _next_id(model: type[models.Model]) -> int:
    last = model._default_manager.aggregate(m=models.Max("id"))["m"]
    return (last or 0) + 1


def build_cast(
    *, rng: random.Random, departments: int, agents: int, end_users: int, log: Callable[[str], None]
) -> Cast:
    """The configuration and the people. Reuses what the seed made; adds the rest."""
    from django.core.management import call_command

    call_command("seed_demo", "--no-tickets", stdout=io.StringIO())
    role = Role.objects.get(name="Agent")
    names = list(Department.objects.values_list("name", flat=True))
    for i in range(len(names), departments):
        Department.objects.get_or_create(name=f"Department {i + 1:02d}")
    department_ids = list(Department.objects.order_by("id").values_list("id", flat=True))[:departments]
    plans = list(SLAPlan.objects.order_by("id"))
    default_plan = next(p for p in plans if p.is_default)
    for dep in department_ids:
        if not HelpTopic.objects.filter(department_id=dep).exists():
            HelpTopic.objects.create(name=f"Requests for department {dep}", department_id=dep, sla_plan=default_plan)

    existing_agents = User.objects.filter(kind=User.Kind.AGENT, email__endswith="@bench.example").count()
    new_users: list[dict[str, Any]] = []
    now = datetime.now(tz=UTC)
    first = _next_id(User)
    for i in range(existing_agents, agents):
        new_users.append(
            {
                "id": first + len(new_users),
                "password": BENCH_PASSWORD_HASH,
                "email": f"agent{i:04d}@bench.example",
                "name": f"Agent {i:04d}",
                "kind": User.Kind.AGENT,
                "date_joined": now,
                "is_active": True,
            }
        )
    existing_users = User.objects.filter(kind=User.Kind.END_USER, email__endswith="@customers.example").count()
    for i in range(existing_users, end_users):
        new_users.append(
            {
                "id": first + len(new_users),
                "password": BENCH_PASSWORD_HASH,
                "email": f"user{i:06d}@customers.example",
                "name": f"Customer {i:06d}",
                "kind": User.Kind.END_USER,
                "date_joined": now,
                "is_active": True,
            }
        )
    if new_users:
        Table(User).copy(new_users)
        _reset_sequences([User])
    agent_ids = list(
        User.objects.filter(kind=User.Kind.AGENT, email__endswith="@bench.example")
        .order_by("id")
        .values_list("id", flat=True)
    )
    members = set(DepartmentMembership.objects.values_list("agent_id", flat=True))
    rows = []
    for index, agent in enumerate(agent_ids):
        if agent not in members:
            rows.append(
                DepartmentMembership(
                    agent_id=agent,
                    department_id=department_ids[index % len(department_ids)],
                    role=role,
                    is_primary=True,
                )
            )
    DepartmentMembership.objects.bulk_create(rows, batch_size=1000)
    by_department: dict[int, list[int]] = {d: [] for d in department_ids}
    for agent, dep in DepartmentMembership.objects.filter(agent_id__in=agent_ids, is_primary=True).values_list(
        "agent_id", "department_id"
    ):
        if dep in by_department:
            by_department[dep].append(agent)
    end_user_ids = list(
        User.objects.filter(kind=User.Kind.END_USER, email__endswith="@customers.example")
        .order_by("id")
        .values_list("id", flat=True)
    )
    log(f"cast: {len(department_ids)} departments, {len(agent_ids)} agents, {len(end_user_ids)} end users")
    topics: dict[int, list[int]] = {}
    for topic_id, dep in HelpTopic.objects.values_list("id", "department_id"):
        topics.setdefault(dep, []).append(topic_id)
    return Cast(
        departments=department_ids,
        agents_by_department=by_department,
        agent_names=dict(User.objects.filter(id__in=agent_ids).values_list("id", "name")),
        end_users=end_user_ids,
        statuses={s.state: s for s in Status.objects.filter(is_default=True)},
        priorities=list(Priority.objects.order_by("urgency")),
        plans=plans,
        topics_by_department=topics,
    )


def _sentence(rng: random.Random) -> str:
    return rng.choice(SENTENCES).format(rng.choice(WORDS), rng.choice(VERBS), rng.choice(WORDS))


def _body(rng: random.Random) -> str:
    return " ".join(_sentence(rng) for _ in range(rng.randint(1, 4)))


def _numbers(rng: random.Random, count: int, taken: set[int]) -> Iterator[int]:
    low, high = 10_000_000, 99_999_999
    while count:
        n = rng.randint(low, high)
        if n not in taken:
            taken.add(n)
            count -= 1
            yield n


def load_tickets(
    *,
    tickets: int,
    seed: int = 42,
    departments: int = 20,
    agents: int = 200,
    end_users: int = 50_000,
    batch: int = 20_000,
    log: Callable[[str], None] = print,
) -> dict[str, float]:
    """Generate and COPY `tickets` tickets with their threads, events and clocks."""
    if connection.vendor != "postgresql":
        raise RuntimeError("bench_data loads with COPY: it needs PostgreSQL (set DATABASE_URL).")
    rng = random.Random(seed)
    started = time.monotonic()
    with transaction.atomic():
        cast = build_cast(
            rng=rng, departments=departments, agents=agents, end_users=min(end_users, max(tickets, 100)), log=log
        )
    big = [Ticket, ThreadEntry, TicketEvent, TicketClock]
    rebuild = _drop_plain_indexes([m._meta.db_table for m in big])
    tables = {m: Table(m) for m in big}
    ids = {m: _next_id(m) for m in big}
    taken = set(Ticket.objects.values_list("number", flat=True))
    numbers = _numbers(rng, tickets, taken)
    now = datetime.now(tz=UTC).replace(microsecond=0)
    span = int(timedelta(days=3 * 365).total_seconds())
    counts = dict.fromkeys(["tickets", "entries", "events", "clocks"], 0)
    plan_weights = [0.8 if p.is_default else 0.1 for p in cast.plans]
    sources = [TicketSource.WEB] * 5 + [TicketSource.EMAIL] * 4 + [TicketSource.API] * 2 + [TicketSource.PHONE]
    done = 0
    while done < tickets:
        size = min(batch, tickets - done)
        rows: dict[type[models.Model], list[dict[str, Any]]] = {m: [] for m in big}
        for _ in range(size):
            # Older tickets are closed; the newest few percent are still being worked.
            age = int(span * (rng.random() ** 1.15))
            created = now - timedelta(seconds=age)
            recent = age < span * 0.06
            roll = rng.random()
            if recent and roll < 0.55:
                state = TicketState.OPEN if roll < 0.40 else TicketState.WAITING
            elif recent and roll < 0.75:
                state = TicketState.RESOLVED
            else:
                state = TicketState.CLOSED
            department = rng.choice(cast.departments)
            agents_here = cast.agents_by_department.get(department) or [
                a for v in cast.agents_by_department.values() for a in v
            ]
            assignee = rng.choice(agents_here) if (state != TicketState.OPEN or rng.random() < 0.7) else None
            requester = rng.choice(cast.end_users)
            priority = rng.choices(cast.priorities, weights=[1, 3, 10, 4])[0]
            plan = rng.choices(cast.plans, weights=plan_weights)[0]
            target = (plan.resolution_minutes or 1080) * 60
            first_response = created + timedelta(seconds=rng.randint(300, 6 * 3600))
            resolved = (
                created + timedelta(seconds=rng.randint(1800, 4 * 86400))
                if state in (TicketState.RESOLVED, TicketState.CLOSED)
                else None
            )
            if resolved and resolved > now:
                resolved = created + (now - created) * rng.uniform(0.5, 0.99)
            closed = min(resolved + timedelta(days=7), now) if state == TicketState.CLOSED and resolved else None
            active = state in (TicketState.OPEN, TicketState.WAITING)
            responded = not (active and rng.random() < 0.3) and first_response < now
            due = created + timedelta(seconds=target) if active else None
            ticket_id = ids[Ticket]
            ids[Ticket] += 1
            status = cast.statuses[state]
            entries: list[tuple[str, int | None, datetime]] = [(EntryKind.MESSAGE.value, requester, created)]
            if responded:
                at = first_response
                entries.append((EntryKind.RESPONSE, assignee or rng.choice(agents_here), at))
                for _ in range(rng.choice((1, 2, 2, 3, 3, 4))):
                    at = at + timedelta(seconds=rng.randint(600, 12 * 3600))
                    if at >= now:
                        break
                    entry_kind = rng.choices(
                        [EntryKind.MESSAGE, EntryKind.RESPONSE, EntryKind.NOTE], weights=[4, 4, 2]
                    )[0]
                    poster = requester if entry_kind == EntryKind.MESSAGE else (assignee or rng.choice(agents_here))
                    entries.append((entry_kind, poster, at))
            last = entries[-1][2]
            updated = max(filter(None, [last, resolved, closed]))
            rows[Ticket].append({
                "id": ticket_id, "number": next(numbers), "subject": _sentence(rng)[:120], "requester_id": requester,
                "department_id": department, "help_topic_id": rng.choice(cast.topics_by_department.get(department, [None])),
                "priority_id": priority.id, "status_id": status.id, "state": state, "assignee_id": assignee,
                "sla_plan_id": plan.id, "source": rng.choice(sources), "due_at": due,
                "first_response_due_at": None, "is_overdue": bool(due and due < now),
                "created_at": created, "updated_at": updated,
                "first_response_at": first_response if responded else None,
                "last_message_at": max(e[2] for e in entries if e[0] == EntryKind.MESSAGE),
                "last_response_at": max((e[2] for e in entries if e[0] == EntryKind.RESPONSE), default=None),
                "resolved_at": resolved, "closed_at": closed, "version": len(entries) + 2,
            })  # fmt: skip
            first_entry = ids[ThreadEntry]
            for row_kind, row_author, row_at in entries:
                rows[ThreadEntry].append({
                    "id": ids[ThreadEntry], "ticket_id": ticket_id, "kind": row_kind, "author_id": row_author,
                    "author_name": cast.agent_names.get(row_author or 0, "Customer"), "body": _body(rng), "body_html": "",
                    "source": TicketSource.WEB, "created_at": row_at,
                })  # fmt: skip
                ids[ThreadEntry] += 1
            events: list[tuple[str, int | None, str, str, datetime, int | None]] = [
                (EventKind.CREATED, requester, "", "", created, first_entry)
            ]
            if assignee:
                events.append(
                    (
                        EventKind.ASSIGNED,
                        assignee,
                        "",
                        cast.agent_names.get(assignee, ""),
                        created + timedelta(seconds=60),
                        None,
                    )
                )
            if resolved:
                events.append((EventKind.STATUS_CHANGED, assignee, "Open", "Resolved", resolved, None))
            if closed:
                events.append((EventKind.STATUS_CHANGED, None, "Resolved", "Closed", closed, None))
            for event_kind, actor, old, new, at, entry in events:
                rows[TicketEvent].append({
                    "id": ids[TicketEvent], "ticket_id": ticket_id, "kind": event_kind, "actor_id": actor, "from_value": old,
                    "to_value": new, "entry_id": entry, "data": {}, "created_at": at,
                })  # fmt: skip
                ids[TicketEvent] += 1
            met = resolved if resolved else None
            rows[TicketClock].append({
                "id": ids[TicketClock], "ticket_id": ticket_id, "target": ClockTarget.RESOLUTION,
                "state": ClockState.RUNNING if state == TicketState.OPEN else (ClockState.PAUSED if state == TicketState.WAITING else ClockState.MET),
                "target_seconds": target, "elapsed_seconds": int(((met or now) - created).total_seconds()) if not active else 0,
                "running_since": created if state == TicketState.OPEN else None, "started_at": created,
                "due_at": due if state == TicketState.OPEN else (created + timedelta(seconds=target)),
                "warn_at": None, "met_at": met, "breached_at": (created + timedelta(seconds=target)) if (met or now) > created + timedelta(seconds=target) else None,
            })  # fmt: skip
            ids[TicketClock] += 1
        with transaction.atomic():
            for model in big:
                counts[
                    {Ticket: "tickets", ThreadEntry: "entries", TicketEvent: "events", TicketClock: "clocks"}[model]
                ] += tables[model].copy(rows[model])
        done += size
        log(f"  {done:,} tickets loaded ({time.monotonic() - started:.0f} s)")
    index_started = time.monotonic()
    with connection.cursor() as cursor:
        for definition in rebuild:
            cursor.execute(definition)
        _reset_sequences(big)
        for model in big:
            cursor.execute(f"ANALYZE {model._meta.db_table}")
    seconds = time.monotonic() - started
    log(f"indexes rebuilt in {time.monotonic() - index_started:.0f} s; total {seconds:.0f} s")
    return {**{k: float(v) for k, v in counts.items()}, "seconds": seconds}
