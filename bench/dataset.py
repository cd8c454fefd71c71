"""A realistic help-desk history for the benchmarks, loaded into PostgreSQL with COPY.

N tickets over three years, about five thread entries each (messages, responses, notes),
the event trail the services would have written for them, their SLA clocks, 20 departments,
200 agents and 50,000 end users; every state, about 5 % of tickets still open or waiting.
The same seed (and anchor instant) gives the same rows, whatever the number of workers.

How it stays fast (1,000,000 tickets, ~20 million rows, in a few minutes on two cores):
- tickets are cut into fixed blocks; each block has its own random generator seeded from
  (seed, block), and its own id ranges, so that blocks are generated and copied by several
  processes at once and still come out identical;
- a block is written as COPY text lines straight from tuples through one `str.format`
  template per table, built from the model's concrete fields (defaults for the columns the
  generator does not set, so that a new column with a default needs no change here);
  timestamps come from precomputed day and time-of-day strings, bodies from a seeded pool;
- plain indexes and foreign keys of the big tables are dropped during the load and rebuilt
  after it (with a large maintenance_work_mem), which is several times faster than
  checking and maintaining them row by row; primary keys and unique constraints stay.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import multiprocessing
import os
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, models, transaction

from accounts.models import DepartmentMembership, Role, User
from bench import pgload
from sla.models import SLAPlan, TicketClock
from tickets.models import (
    Department,
    EntryKind,
    HelpTopic,
    Priority,
    Status,
    ThreadEntry,
    Ticket,
    TicketEvent,
    TicketState,
)

BLOCK = 10_000  # tickets per block: the unit of work of one process, one transaction
ENTRY_STRIDE = 128  # ids reserved per ticket for its entries, and for its events
SPAN_DAYS = 3 * 365
LONG_THREAD_EVERY = 2_000  # about one ticket in this many has a long thread (40 to 60 entries)
BENCH_PASSWORD_HASH = "!"  # unusable: bench users sign in only after the harness sets a password
BIG_MODELS: list[type[models.Model]] = [Ticket, ThreadEntry, TicketEvent, TicketClock]

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
    "driver",
    "certificate",
    "token",
    "mailbox",
    "shared-drive",
    "folder",
    "scanner",
    "meeting-room",
    "projector",
    "camera",
    "headset",
    "mobile-app",
    "banking",
    "transfer",
    "payment",
    "statement",
    "card",
    "branch",
    "teller",
    "dashboard",
    "spreadsheet",
    "timesheet",
    "invoice-run",
    "domain",
    "proxy",
    "docking-station",
    "webcam",
    "teams-call",
    "voicemail",
    "fax",
    "kiosk",
    "terminal",
    "atm",
    "ledger",
]
VERBS = [
    "fails",
    "stopped",
    "broken",
    "locked",
    "missing",
    "slow",
    "needed",
    "requested",
    "crashing",
    "freezing",
    "disconnects",
    "times-out",
    "rejects",
    "hangs",
    "flickers",
    "overheats",
]
SENTENCES = [
    "Since this morning the {0} {1} for everyone on the third floor.",
    "Could you please look at the {0}? It {1} again after the last {2}.",
    "We restarted the {0} but the {2} still shows an error.",
    "The {0} was replaced and the {2} works again.",
    "Please check whether the {0} and the {2} are configured the same way.",
    "Customer reports that the {0} {1} when they open the {2}.",
    "I tried the steps from the knowledge base for the {0} but the {2} {1}.",
    "The error appears only on the {0} in branch {3}, not on the {2}.",
    "Ticket escalated: the {0} {1} and the {2} team is waiting for a fix.",
    "After the {2} update the {0} {1} every few minutes.",
]
GREETINGS = ["Hello,", "Hi team,", "Good morning,", "Dear support,", "Hi,", ""]
CLOSINGS = ["Thanks,", "Best regards,", "Kind regards,", "Thank you,", ""]
SUBJECTS = [
    "{0} {1}",
    "{0} {1} since this morning",
    "Cannot use the {0}",
    "Request: new {0}",
    "{0} and {2} not working",
    "Urgent: {0} {1} in branch {3}",
    "Question about the {0}",
    "{0} {1} after {2} update",
]
POOL = 8192  # distinct bodies and subjects; tags and names make the text vary further


def _escape(value: Any) -> str:
    """A value in PostgreSQL's COPY text format."""
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


N = "\\N"


@dataclass(frozen=True)
class Layout:
    """How one model's rows are written: its columns, and a template of one COPY line.

    The generator gives values for `provided` attnames, in that order, already in COPY text
    form; every other concrete column gets its default.
    """

    table: str
    columns: str
    template: str

    @classmethod
    def of(cls, model: type[models.Model], provided: list[str]) -> Layout:
        fields = [f for f in model._meta.concrete_fields if not getattr(f, "generated", False)]
        names = {f.attname for f in fields}
        unknown = [p for p in provided if p not in names]
        if unknown:
            raise RuntimeError(f"bench/dataset.py writes {unknown} that {model.__name__} no longer has.")
        parts = []
        for f in fields:
            if f.attname in provided:
                parts.append(f"{{{provided.index(f.attname)}}}")
            elif f.has_default():
                parts.append(_escape(f.get_default()).replace("{", "{{").replace("}", "}}"))
            elif f.null:
                parts.append(N)
            elif isinstance(f, models.CharField | models.TextField):
                parts.append("")
            else:
                raise RuntimeError(
                    f"{model.__name__}.{f.attname} has no default: teach bench/dataset.py what to write there."
                )
        columns = ", ".join(connection.ops.quote_name(str(f.column)) for f in fields)
        return cls(table=model._meta.db_table, columns=columns, template="\t".join(parts) + "\n")


TICKET_COLUMNS = [
    "id",
    "number",
    "subject",
    "requester_id",
    "department_id",
    "help_topic_id",
    "priority_id",
    "status_id",
    "state",
    "assignee_id",
    "sla_plan_id",
    "source",
    "due_at",
    "first_response_due_at",
    "is_overdue",
    "created_at",
    "updated_at",
    "first_response_at",
    "last_message_at",
    "last_response_at",
    "resolved_at",
    "closed_at",
    "version",
]
ENTRY_COLUMNS = [
    "id",
    "ticket_id",
    "kind",
    "author_id",
    "author_name",
    "body",
    "body_html",
    "source",
    "message_id",
    "created_at",
]
EVENT_COLUMNS = ["id", "ticket_id", "kind", "actor_id", "from_value", "to_value", "entry_id", "data", "created_at"]
CLOCK_COLUMNS = [
    "id",
    "ticket_id",
    "target",
    "state",
    "target_seconds",
    "elapsed_seconds",
    "running_since",
    "started_at",
    "due_at",
    "warn_at",
    "warned_at",
    "breached_at",
    "met_at",
]


@dataclass(frozen=True)
class PlanInfo:
    id: int
    name: str
    resolution: int | None  # seconds
    first_response: int | None
    warn_percent: int | None
    weight: float


@dataclass
class Plan:
    """Everything a worker needs to generate and copy any block, identically."""

    tickets: int
    seed: int
    anchor: int  # epoch seconds of "now" in the generated history
    db: dict[str, Any]
    layouts: dict[str, Layout]
    ticket_base: int
    entry_base: int
    event_base: int
    clock_base: int
    number_low: int
    number_space: int
    number_step: int
    number_swaps: dict[int, int]
    departments: list[tuple[int, str]]
    agents: list[list[int]]  # per department, in the order of `departments`
    names: dict[int, str]  # user id -> escaped name (agents and end users)
    end_users: list[int]
    statuses: dict[str, tuple[int, str]]  # state -> (id, name)
    priorities: list[int]  # weighted: pick one at random
    plans: list[PlanInfo]  # weighted by PlanInfo.weight
    topics: list[list[int]]  # per department
    block: int = BLOCK


# ------------------------------------------------------------------------------------ the cast


def _next_id(model: type[models.Model]) -> int:
    last = model._default_manager.aggregate(m=models.Max("id"))["m"]
    return (last or 0) + 1


def _copy_rows(layout: Layout, lines: Iterable[str]) -> None:
    buffer = io.StringIO("".join(lines))
    with connection.cursor() as cursor:
        cursor.cursor.copy_expert(f"COPY {layout.table} ({layout.columns}) FROM STDIN", buffer)


def build_cast(*, departments: int, agents: int, end_users: int, log: Callable[[str], None]) -> None:
    """The configuration and the people. Reuses what the seed made; adds the rest."""
    from django.core.management import call_command

    call_command("seed_demo", "--no-tickets", stdout=io.StringIO())
    role = Role.objects.get(name="Agent")
    default_plan = SLAPlan.objects.get(is_default=True)
    for i in range(Department.objects.count(), departments):
        Department.objects.get_or_create(name=f"Department {i + 1:02d}", defaults={"default_sla_plan": default_plan})
    department_ids = list(Department.objects.order_by("id").values_list("id", flat=True))[:departments]
    for dep in department_ids:
        if not HelpTopic.objects.filter(department_id=dep).exists():
            HelpTopic.objects.create(name=f"Requests for department {dep}", department_id=dep, sla_plan=default_plan)

    layout = Layout.of(User, ["id", "password", "email", "name", "kind", "date_joined", "is_active"])
    joined = _escape(datetime.now(tz=UTC).replace(microsecond=0) - timedelta(days=SPAN_DAYS + 30))
    lines: list[str] = []
    next_id = _next_id(User)
    have = User.objects.filter(kind=User.Kind.AGENT, email__endswith="@bench.example").count()
    for i in range(have, agents):
        lines.append(
            layout.template.format(
                next_id, BENCH_PASSWORD_HASH, f"agent{i:04d}@bench.example", f"Agent {i:04d}", "agent", joined, "t"
            )
        )
        next_id += 1
    have = User.objects.filter(kind=User.Kind.END_USER, email__endswith="@customers.example").count()
    for i in range(have, end_users):
        lines.append(
            layout.template.format(
                next_id,
                BENCH_PASSWORD_HASH,
                f"user{i:06d}@customers.example",
                f"Customer {i:06d}",
                "end_user",
                joined,
                "t",
            )
        )
        next_id += 1
    if lines:
        _copy_rows(layout, lines)
        _reset_sequences([User])
    agent_ids = list(
        User.objects.filter(kind=User.Kind.AGENT, email__endswith="@bench.example")
        .order_by("id")
        .values_list("id", flat=True)
    )
    members = set(DepartmentMembership.objects.values_list("agent_id", flat=True))
    DepartmentMembership.objects.bulk_create(
        [
            DepartmentMembership(
                agent_id=agent, department_id=department_ids[index % len(department_ids)], role=role, is_primary=True
            )
            for index, agent in enumerate(agent_ids)
            if agent not in members
        ],
        batch_size=1000,
    )
    log(f"cast: {len(department_ids)} departments, {len(agent_ids)} agents, {end_users:,} end users")


def _plan(*, tickets: int, seed: int, anchor: datetime, departments: int, end_users: int, block: int) -> Plan:
    department_rows = list(Department.objects.order_by("id").values_list("id", "name"))[:departments]
    agents: list[list[int]] = []
    for dep, _ in department_rows:
        here = list(
            DepartmentMembership.objects.filter(
                department_id=dep, agent__email__endswith="@bench.example", is_primary=True
            )
            .order_by("agent_id")
            .values_list("agent_id", flat=True)
        )
        agents.append(here)
    every_agent = [a for here in agents for a in here]
    agents = [here or every_agent for here in agents]
    end_user_ids = list(
        User.objects.filter(kind=User.Kind.END_USER, email__endswith="@customers.example")
        .order_by("id")
        .values_list("id", flat=True)[:end_users]
    )
    names = {
        uid: _escape(name)
        for uid, name in User.objects.filter(id__in=[*every_agent, *end_user_ids]).values_list("id", "name")
    }
    topics: list[list[int]] = []
    for dep, _ in department_rows:
        topics.append(list(HelpTopic.objects.filter(department_id=dep).order_by("id").values_list("id", flat=True)))
    # Urgency 1 is rare, the default priority is most common.
    priorities: list[int] = []
    for p in Priority.objects.order_by("urgency"):
        priorities += [p.id] * (10 if p.is_default else {1: 1, 2: 3}.get(p.urgency, 4))
    plans = []
    for plan in SLAPlan.objects.filter(is_active=True).order_by("id"):
        plans.append(
            PlanInfo(
                id=plan.id,
                name=_escape(plan.name),
                resolution=plan.resolution_minutes * 60 if plan.resolution_minutes else None,
                first_response=plan.first_response_minutes * 60 if plan.first_response_minutes else None,
                warn_percent=plan.warn_at_percent,
                weight=0.8 if plan.is_default else 0.1,
            )
        )
    digits = settings.TICKET_NUMBER_DIGITS
    low, space = 10 ** (digits - 1), 9 * 10 ** (digits - 1)
    if tickets + Ticket.objects.count() > space // 2:
        raise RuntimeError(f"{tickets:,} tickets do not fit in {digits}-digit numbers; raise TICKET_NUMBER_DIGITS.")
    step = int(space * 0.6180339887) | 1
    while math.gcd(step, space) != 1:
        step += 2
    ticket_base = _next_id(Ticket)
    swaps = _number_swaps(
        taken=set(Ticket.objects.values_list("number", flat=True)),
        low=low,
        space=space,
        step=step,
        seed=seed,
        first=ticket_base,
        count=tickets,
    )
    layouts = {
        "tickets": Layout.of(Ticket, TICKET_COLUMNS),
        "entries": Layout.of(ThreadEntry, ENTRY_COLUMNS),
        "events": Layout.of(TicketEvent, EVENT_COLUMNS),
        "clocks": Layout.of(TicketClock, CLOCK_COLUMNS),
    }
    return Plan(
        tickets=tickets,
        seed=seed,
        anchor=int(anchor.timestamp()),
        db=connection.get_connection_params(),
        layouts=layouts,
        ticket_base=ticket_base,
        entry_base=_next_id(ThreadEntry),
        event_base=_next_id(TicketEvent),
        clock_base=_next_id(TicketClock),
        number_low=low,
        number_space=space,
        number_step=step,
        number_swaps=swaps,
        departments=[(d, _escape(n)) for d, n in department_rows],
        agents=agents,
        names=names,
        end_users=end_user_ids,
        statuses={s.state: (s.id, _escape(s.name)) for s in Status.objects.filter(is_default=True)},
        priorities=priorities,
        plans=plans,
        topics=topics,
        block=block,
    )


def _number(index: int, *, low: int, space: int, step: int, seed: int) -> int:
    # A bijection of ticket indexes onto the number space: distinct without coordination
    # between the processes, and scattered like the service's random numbers.
    return low + (index * step + seed * 7_919) % space


def _number_swaps(
    *, taken: set[int], low: int, space: int, step: int, seed: int, first: int, count: int
) -> dict[int, int]:
    """New ticket indexes whose number an existing ticket holds, each mapped to a free index."""
    if not taken:
        return {}
    inverse = pow(step, -1, space)
    clash = []
    for number in taken:
        index = ((number - low - seed * 7_919) * inverse) % space
        if first <= index < first + count:
            clash.append(index)
    swaps: dict[int, int] = {}
    spare = space - 1
    for index in sorted(clash):
        while (
            first <= spare < first + count
            or _number(spare, low=low, space=space, step=step, seed=seed) in taken
            or spare in swaps.values()
        ):
            spare -= 1
        swaps[index] = spare
        spare -= 1
    return swaps


# ------------------------------------------------------------------------------------ generation


class _Text:
    """Seeded pools of subjects and bodies, already in COPY text form."""

    def __init__(self, seed: int) -> None:
        rng = random.Random(f"text:{seed}")
        pick = rng.choice

        def fill(template: str) -> str:
            return template.format(pick(WORDS), pick(VERBS), pick(WORDS), f"{rng.randint(1, 400):03d}")

        self.subjects = [_escape(fill(pick(SUBJECTS)).capitalize()[:120]) for _ in range(POOL)]
        bodies = []
        for _ in range(POOL):
            paragraphs = [" ".join(fill(pick(SENTENCES)) for _ in range(rng.randint(1, 3)))]
            for _ in range(rng.choice((0, 0, 1, 1, 2))):
                paragraphs.append(" ".join(fill(pick(SENTENCES)) for _ in range(rng.randint(1, 3))))
            greeting, closing = pick(GREETINGS), pick(CLOSINGS)
            text = "\n\n".join(p for p in [greeting, *paragraphs, closing] if p)
            bodies.append(_escape(text))
        self.bodies = bodies
        # Asset tags and host names: rare words, so that a search can be selective.
        self.tags = [
            f" Asset {pick('ABCDEFGHJKLMNPRSTUVWXYZ')}{pick('ABCDEFGHJKLMNPRSTUVWXYZ')}-{rng.randint(1000, 9999)}."
            for _ in range(POOL)
        ]


class _Clock:
    """Timestamps in COPY text form from epoch seconds, through two lookup tables."""

    def __init__(self, first_day: int, days: int) -> None:
        self.first_day = first_day
        start = datetime.fromtimestamp(first_day * 86400, tz=UTC)
        self.days = [(start + timedelta(days=d)).strftime("%Y-%m-%d ") for d in range(days)]
        self.times = [f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}+00" for s in range(86400)]

    def __call__(self, seconds: int) -> str:
        return self.days[seconds // 86400 - self.first_day] + self.times[seconds % 86400]


_TEXTS: dict[int, _Text] = {}
_CLOCKS: dict[int, _Clock] = {}


def generate_block(plan: Plan, block: int) -> dict[str, list[str]]:
    """The COPY lines of one block of tickets: `tickets`, `entries`, `events` and `clocks`.

    The loop is written for speed (it makes ~20 rows per ticket, millions of times): locals
    instead of attributes, timestamps from lookup tables, one format call per row.
    """
    # Built once per process (and per seed and anchor): a few hundred milliseconds each.
    text = _TEXTS.get(plan.seed) or _TEXTS.setdefault(plan.seed, _Text(plan.seed))
    first_day = (plan.anchor - (SPAN_DAYS + 2) * 86400) // 86400
    clock = _CLOCKS.get(first_day) or _CLOCKS.setdefault(first_day, _Clock(first_day, SPAN_DAYS + 120))
    days, times, day0 = clock.days, clock.times, clock.first_day
    rng = random.Random(f"block:{plan.seed}:{block}")
    r = rng.random
    ticket_line = plan.layouts["tickets"].template.format
    entry_line = plan.layouts["entries"].template.format
    event_line = plan.layouts["events"].template.format
    clock_line = plan.layouts["clocks"].template.format
    tickets_out: list[str] = []
    entries_out: list[str] = []
    events_out: list[str] = []
    clocks_out: list[str] = []
    add_ticket, add_entry, add_event, add_clock = (
        tickets_out.append,
        entries_out.append,
        events_out.append,
        clocks_out.append,
    )
    now = plan.anchor
    span = SPAN_DAYS * 86400
    recent_span = span * 0.06
    deps, agents_by_dep, topics = plan.departments, plan.agents, plan.topics
    ndep, users, nusers = len(deps), plan.end_users, len(plan.end_users)
    names, priorities, npri = plan.names, plan.priorities, len(plan.priorities)
    # SLA plans by weight, as a list to index at random; each with its event data ready.
    weighted_plans: list[tuple[PlanInfo, str]] = []
    for info in plan.plans:
        weighted_plans += [(info, f'{{"target": "resolution", "plan": "{info.name}"}}')] * round(info.weight * 20)
    nplans = len(weighted_plans)
    subjects, bodies, tags = text.subjects, text.bodies, text.tags
    npool = len(bodies)
    open_id, open_name = plan.statuses[TicketState.OPEN]
    waiting_id, waiting_name = plan.statuses[TicketState.WAITING]
    resolved_id, resolved_name = plan.statuses[TicketState.RESOLVED]
    closed_id, closed_name = plan.statuses[TicketState.CLOSED]
    sources = ["web"] * 5 + ["email"] * 4 + ["api"] * 2 + ["phone"]
    source_data = {s: f'{{"source": "{s}"}}' for s in sources}
    extra_choices = (1, 2, 3, 3, 4, 4, 5)
    msg, rsp, note = EntryKind.MESSAGE.value, EntryKind.RESPONSE.value, EntryKind.NOTE.value
    low, space, step, seed = plan.number_low, plan.number_space, plan.number_step, plan.seed
    swaps = plan.number_swaps
    first_index = block * plan.block
    count = min(plan.block, plan.tickets - first_index)
    for local in range(count):
        offset = first_index + local
        tid = plan.ticket_base + offset
        number = low + (swaps.get(tid, tid) * step + seed * 7_919) % space
        entry_id = plan.entry_base + offset * ENTRY_STRIDE
        event_id = plan.event_base + offset * ENTRY_STRIDE

        # Older tickets are closed; the newest few percent are still being worked.
        age = int(span * r() ** 1.15) + 600
        created = now - age
        created_ts = days[created // 86400 - day0] + times[created % 86400]
        roll = r()
        if age < recent_span and roll < 0.58:
            state = "open" if roll < 0.44 else "waiting"
        elif age < recent_span and roll < 0.8:
            state = "resolved"
        else:
            state = "closed"
        active = state == "open" or state == "waiting"
        d = int(r() * ndep)
        dep, dep_name = deps[d]
        here = agents_by_dep[d]
        assignee = here[int(r() * len(here))] if (state != "open" or r() < 0.7) else None
        worker = assignee or here[int(r() * len(here))]
        requester = users[int(r() * nusers)]
        priority = priorities[int(r() * npri)]
        sla, sla_data = weighted_plans[int(r() * nplans)] if nplans else (None, "")
        target = (sla.resolution if sla else None) or 0
        source = sources[int(r() * 12)]
        topic_list = topics[d]
        topic = topic_list[int(r() * len(topic_list))] if topic_list else N

        # The thread: the requester's message, then answers, messages and notes.
        first_response = created + 300 + int(r() * 6 * 3600)
        responded = first_response < now and not (active and r() < 0.3)
        kinds = [msg]
        authors = [requester]
        stamps = [created]
        last_message = created
        last_response = 0
        if responded:
            at = last_response = first_response
            kinds.append(rsp)
            authors.append(worker)
            stamps.append(at)
            extra = 40 + int(r() * 21) if r() * LONG_THREAD_EVERY < 1 else extra_choices[int(r() * 7)]
            for _ in range(extra):
                at += 600 + int(r() * 12 * 3600)
                if at >= now:
                    break
                y = r()
                if y < 0.42:
                    kinds.append(msg)
                    authors.append(requester)
                    last_message = at
                else:
                    kinds.append(rsp if y < 0.84 else note)
                    authors.append(worker)
                    if y < 0.84:
                        last_response = at
                stamps.append(at)
        last = stamps[-1]
        resolved = closed = 0
        if not active:
            resolved = max(last, created + 1800 + int(r() * 4 * 86400))
            if resolved >= now:
                resolved = last + (now - last) // 2
            if state == "closed":
                closed = min(resolved + 7 * 86400, now - 1)

        first_entry = entry_id
        email_message = source == "email"
        entry_stamps = []
        for kind, author, at in zip(kinds, authors, stamps, strict=True):
            body = bodies[int(r() * npool)]
            if r() < 0.3:
                body += tags[int(r() * npool)]
            at_ts = days[at // 86400 - day0] + times[at % 86400]
            entry_stamps.append(at_ts)
            add_entry(
                entry_line(
                    entry_id,
                    tid,
                    kind,
                    author,
                    names[author],
                    body,
                    "",
                    "web" if kind == note else source,
                    f"<bench.{entry_id}@customers.example>" if email_message and kind == msg else "",
                    at_ts,
                )
            )
            entry_id += 1

        # The event trail the services write along the way.
        add_event(
            event_line(event_id, tid, "created", requester, "", dep_name, first_entry, source_data[source], created_ts)
        )
        event_id += 1
        if target:
            add_event(event_line(event_id, tid, "sla_started", N, "", "Resolution", N, sla_data, created_ts))
            event_id += 1
        if assignee:
            at = created + 60
            add_event(
                event_line(
                    event_id,
                    tid,
                    "assigned",
                    assignee,
                    "",
                    names[assignee],
                    N,
                    f'{{"assignee_id": {assignee}}}',
                    days[at // 86400 - day0] + times[at % 86400],
                )
            )
            event_id += 1
        for i in range(1, len(kinds)):
            add_event(event_line(event_id, tid, kinds[i], authors[i], "", "", first_entry + i, "{}", entry_stamps[i]))
            event_id += 1
        if state == "waiting":
            at = last + 5
            at_ts = days[at // 86400 - day0] + times[at % 86400]
            add_event(event_line(event_id, tid, "status_changed", worker, open_name, waiting_name, N, "{}", at_ts))
            event_id += 1
            if target:
                add_event(event_line(event_id, tid, "sla_paused", N, "", "Resolution", N, PAUSED_DATA, at_ts))
                event_id += 1
        resolved_ts = closed_ts = N
        if resolved:
            resolved_ts = days[resolved // 86400 - day0] + times[resolved % 86400]
            add_event(
                event_line(event_id, tid, "status_changed", worker, open_name, resolved_name, N, "{}", resolved_ts)
            )
            event_id += 1
            if target:
                data = LATE_DATA if resolved > created + target else ON_TIME_DATA
                add_event(event_line(event_id, tid, "sla_met", N, "", "Resolution", N, data, resolved_ts))
                event_id += 1
        if closed:
            closed_ts = days[closed // 86400 - day0] + times[closed % 86400]
            add_event(
                event_line(event_id, tid, "status_changed", N, resolved_name, closed_name, N, AUTO_DATA, closed_ts)
            )
            event_id += 1

        due_ts = N
        if target and sla is not None:
            due = created + target
            ended = resolved or now
            warn = created + target * sla.warn_percent // 100 if sla.warn_percent else 0
            warn_ts = days[warn // 86400 - day0] + times[warn % 86400] if warn else N
            if state == "waiting":
                # Paused: no due instant while the customer has the ball.
                add_clock(
                    clock_line(
                        plan.clock_base + offset, tid, "resolution", "paused", target,
                        min(last + 5 - created, target - 1), N, created_ts, N, warn_ts, N, N, N,
                    )
                )  # fmt: skip
            else:
                due_ts = days[due // 86400 - day0] + times[due % 86400]
                add_clock(
                    clock_line(
                        plan.clock_base + offset, tid, "resolution", "running" if state == "open" else "met", target,
                        0 if state == "open" else ended - created, created_ts if state == "open" else N, created_ts,
                        due_ts, warn_ts, warn_ts if warn and warn < ended else N, due_ts if ended > due else N,
                        resolved_ts,
                    )
                )  # fmt: skip
            if state != "open":
                due_ts = N

        add_ticket(
            ticket_line(
                tid,
                number,
                subjects[int(r() * npool)],
                requester,
                dep,
                topic,
                priority,
                (open_id if state == "open" else waiting_id)
                if active
                else (resolved_id if state == "resolved" else closed_id),
                state,
                assignee or N,
                sla.id if sla else N,
                source,
                due_ts,
                N,
                "t" if (due_ts is not N and created + target < now) else "f",
                created_ts,
                closed_ts if closed else (resolved_ts if resolved else entry_stamps[-1]),
                entry_stamps[1] if responded else N,
                days[last_message // 86400 - day0] + times[last_message % 86400],
                days[last_response // 86400 - day0] + times[last_response % 86400] if last_response else N,
                resolved_ts,
                closed_ts,
                len(kinds) + 2,
            )
        )
    return {"tickets": tickets_out, "entries": entries_out, "events": events_out, "clocks": clocks_out}


PAUSED_DATA = '{"target": "resolution"}'
LATE_DATA = '{"target": "resolution", "late": true}'
ON_TIME_DATA = '{"target": "resolution", "late": false}'
AUTO_DATA = '{"automatic": true}'


# ------------------------------------------------------------------------------------ loading

_WORKER: dict[str, Any] = {}


def _worker_start(plan: Plan) -> None:
    import psycopg2

    conn = psycopg2.connect(**plan.db)
    with conn.cursor() as cursor:
        # Losing the last blocks in a crash costs nothing here: the load is simply rerun.
        cursor.execute("SET synchronous_commit TO off")
    conn.commit()
    _WORKER["plan"], _WORKER["conn"] = plan, conn


def _worker_block(block: int) -> dict[str, int]:
    plan, conn = _WORKER["plan"], _WORKER["conn"]
    lines = generate_block(plan, block)
    with conn.cursor() as cursor:
        for name in ("tickets", "entries", "events", "clocks"):
            layout = plan.layouts[name]
            cursor.copy_expert(f"COPY {layout.table} ({layout.columns}) FROM STDIN", io.StringIO("".join(lines[name])))
    conn.commit()
    return {name: len(rows) for name, rows in lines.items()}


def _reset_sequences(models_: list[type[models.Model]]) -> None:
    with connection.cursor() as cursor:
        for model in models_:
            table = model._meta.db_table
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), COALESCE((SELECT MAX(id) FROM {table}), 1))"
            )


def dataset_marker() -> dict[str, Any]:
    """What bench_data loaded into this database (empty if nothing)."""
    with connection.cursor() as cursor:
        found = pgload.marker_read(cursor.connection)
    return found if found.get("bench_data") else {}


def migrations_fingerprint() -> str:
    """The project's migrations, as a short hash: a loaded dataset is reused only on the same schema."""
    from django.db.migrations.loader import MigrationLoader

    nodes = sorted(f"{app}.{name}" for app, name in MigrationLoader(None, ignore_no_migrations=True).disk_migrations)
    return hashlib.sha256("\n".join(nodes).encode()).hexdigest()[:16]


def load_tickets(
    *,
    tickets: int,
    seed: int = 42,
    departments: int = 20,
    agents: int = 200,
    end_users: int = 50_000,
    workers: int = 2,
    anchor: datetime | None = None,
    vacuum: bool = True,
    block: int = BLOCK,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Generate and COPY `tickets` tickets with their threads, events and clocks.

    The same seed, anchor and block size give the same rows, whatever the number of workers.
    """
    if connection.vendor != "postgresql":
        raise RuntimeError("bench_data loads with COPY: it needs PostgreSQL (set DATABASE_URL).")
    started = time.monotonic()
    anchor = (anchor or datetime.now(tz=UTC)).replace(minute=0, second=0, microsecond=0)
    people = min(end_users, max(tickets, 100))
    with transaction.atomic():
        build_cast(departments=departments, agents=agents, end_users=people, log=log)
    plan = _plan(tickets=tickets, seed=seed, anchor=anchor, departments=departments, end_users=people, block=block)
    previous = dataset_marker()
    tables = [m._meta.db_table for m in BIG_MODELS]
    connection.ensure_connection()
    dropped = pgload.drop_for_load(connection.connection, tables)
    log(f"cast and plan ready ({time.monotonic() - started:.1f} s)")
    blocks = list(range(math.ceil(tickets / block)))
    counts = dict.fromkeys(["tickets", "entries", "events", "clocks"], 0)
    try:
        if workers <= 1 or len(blocks) == 1:
            _worker_start(plan)
            results: Iterable[dict[str, int]] = map(_worker_block, blocks)
            pool = None
        else:
            # The workers open their own connections: the parent's must not cross the fork.
            connection.close()
            pool = multiprocessing.get_context("fork").Pool(workers, _worker_start, (plan,))
            results = pool.imap_unordered(_worker_block, blocks)
        for done, block_counts in enumerate(results, 1):
            for key, value in block_counts.items():
                counts[key] += value
            if done % 10 == 0 or done == len(blocks):
                log(f"  {counts['tickets']:,} tickets loaded ({time.monotonic() - started:.0f} s)")
        if pool is not None:
            pool.close()
            pool.join()
    finally:
        if _WORKER.get("conn") is not None:
            _WORKER.pop("conn").close()
        loaded = time.monotonic()
        # Rebuilt even when the load failed half-way, so that the schema is whole again.
        rows = {plan.layouts[name].table: value for name, value in counts.items()}
        pgload.rebuild(plan.db, dropped, rows=rows, workers=max(2, workers), log=log)
    connection.ensure_connection()
    pgload.reset_sequences(connection.connection, tables)
    indexed = time.monotonic()
    by_size = sorted(tables, key=lambda t: -rows.get(t, 0))  # the biggest first, over two connections
    pgload.vacuum_analyze(plan.db, by_size, vacuum=vacuum, workers=max(2, workers))
    seconds = time.monotonic() - started
    figures: dict[str, Any] = {
        **counts,
        "seed": seed,
        "anchor": anchor.isoformat(),
        "seconds": round(seconds, 1),
        "load_seconds": round(loaded - started, 1),
        "index_seconds": round(indexed - loaded, 1),
        "vacuum_seconds": round(time.monotonic() - indexed, 1),
        "workers": workers,
        # The machine is shared: how busy it was says how much the time above means.
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "cores": os.cpu_count(),
    }
    total = counts["tickets"] + int(previous.get("tickets", 0))
    connection.ensure_connection()
    pgload.marker_write(
        connection.connection,
        {
            "bench_data": 1,
            **figures,
            "tickets": total,
            # A second load on top makes a dataset no single seed reproduces.
            "seed": seed if not previous else None,
            "migrations": migrations_fingerprint(),
        },
    )
    log(
        f"loaded in {figures['load_seconds']:.0f} s, indexes and keys in {figures['index_seconds']:.0f} s, "
        f"{'vacuum' if vacuum else 'analyze'} in {figures['vacuum_seconds']:.0f} s; total {seconds:.0f} s"
    )
    return figures
