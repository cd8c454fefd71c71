"""The figures of BENCH.md, each a small function registered in FIGURES.

A figure gets the running benchmark (servers, clients, the picked agent and tickets, the
configured URLs) and returns what it measured, or why it could not: an endpoint missing
on this branch is reported as "not measured: <why>", never guessed at.
"""

from __future__ import annotations

import json
import random
import statistics
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg2

from bench.client import Client, Response
from bench.servers import Process, rss_mb, rss_report

ROOT = Path(__file__).resolve().parent.parent


class NotMeasured(Exception):
    """The figure cannot be measured here; the message says why."""


@dataclass
class Site:
    name: str
    base: str
    db: dict[str, Any]
    process: Process
    capture_dir: Path
    client: Client = field(init=False)

    def __post_init__(self) -> None:
        self.client = Client(self.base)


@dataclass
class Picks:
    """What the figures work on, chosen once from the loaded data."""

    agent_email: str
    agent_password: str
    department_id: int
    long_ticket: tuple[int, int, int]  # (number, id, entries)
    short_ticket: tuple[int, int, int]
    tickets: list[tuple[int, int]]  # (number, id) of the agent's department, for the memory and load runs
    api_key: str
    portal_email: str
    portal_password: str


@dataclass
class Bench:
    config: Any  # run.Config
    ours: Site
    peer: Site | None
    peer_why: str
    picks: Picks
    celery: Process | None
    start_gunicorn: Callable[..., Process]
    notes: list[str] = field(default_factory=list)


@dataclass
class Figure:
    name: str
    title: str
    target: str
    run: Callable[[Bench], dict[str, Any]]


FIGURES: dict[str, Figure] = {}


def figure(name: str, title: str, target: str) -> Callable[[Callable[[Bench], dict[str, Any]]], Callable[..., Any]]:
    def register(fn: Callable[[Bench], dict[str, Any]]) -> Callable[[Bench], dict[str, Any]]:
        FIGURES[name] = Figure(name=name, title=title, target=target, run=fn)
        return fn

    return register


# ------------------------------------------------------------------------------------ measuring


def stats(seconds: list[float]) -> dict[str, Any]:
    ms = sorted(s * 1000 for s in seconds)
    return {
        "median_ms": round(statistics.median(ms), 2),
        "min_ms": round(ms[0], 2),
        "max_ms": round(ms[-1], 2),
        "p95_ms": round(ms[min(len(ms) - 1, int(len(ms) * 0.95))], 2),
        "runs": len(ms),
    }


BUDGET_SECONDS = 90.0
MIN_RUNS = 5


def repeat(fn: Callable[[], float], *, warmup: int, runs: int, budget: float = BUDGET_SECONDS) -> dict[str, Any]:
    """`runs` timed calls after `warmup` untimed ones; a slow page (the peer's take up to a
    minute at 1,000,000 tickets) stops after `budget` seconds and at least MIN_RUNS runs."""
    started = time.monotonic()
    for _ in range(warmup):
        fn()
        if time.monotonic() - started > budget / 4:
            break
    times: list[float] = []
    started = time.monotonic()
    while len(times) < runs:
        times.append(fn())
        if len(times) >= MIN_RUNS and time.monotonic() - started > budget:
            break
    return stats(times)


def ok(response: Response, what: str) -> Response:
    if response.status != 200:
        raise NotMeasured(f"GET {what} answered {response.status}")
    return response


def floor(site: Site, capture: str, *, warmup: int, runs: int) -> dict[str, Any]:
    """The page's own SQL (as captured from one request), run raw through psycopg2."""
    path = site.capture_dir / f"{capture}.json"
    statements: list[str] = json.loads(path.read_text())
    conn = psycopg2.connect(**site.db)
    conn.autocommit = True
    try:
        cursor = conn.cursor()

        def once() -> float:
            started = time.perf_counter()
            for statement in statements:
                cursor.execute(statement)
                if cursor.description is not None:
                    cursor.fetchall()
            return time.perf_counter() - started

        result = repeat(once, warmup=warmup, runs=runs)
    finally:
        conn.close()
    slowest = _slowest(site, statements)
    return {**result, "statements": len(statements), "slowest_statement": slowest}


def _slowest(site: Site, statements: list[str]) -> dict[str, Any] | None:
    """The statement that costs most, with its plan: where a target is missed, this says why."""
    if not statements:
        return None
    conn = psycopg2.connect(**site.db)
    conn.autocommit = True
    try:
        cursor = conn.cursor()
        timed = []
        for statement in statements:
            started = time.perf_counter()
            for _ in range(3):
                cursor.execute(statement)
                if cursor.description is not None:
                    cursor.fetchall()
            timed.append(((time.perf_counter() - started) / 3, statement))
        seconds, statement = max(timed)
        plan = None
        if statement.lstrip().upper().startswith("SELECT"):
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement)
            plan = [row[0] for row in cursor.fetchall()]
        return {"ms": round(seconds * 1000, 2), "sql": statement[:2000], "plan": plan}
    finally:
        conn.close()


def captured(site: Site, path: str, name: str) -> Response:
    return site.client.get(path, headers={"X-Bench-Capture": name})


def page_figure(bench: Bench, site: Site, path: str, capture: str) -> dict[str, Any]:
    """A page's time (median of repeated runs), its query count, its floor and the ratio."""
    cfg = bench.config
    first = ok(site.client.get(path), path)
    result: dict[str, Any] = {"url": path, "bytes": len(first.body)}
    result.update(repeat(lambda: ok(site.client.get(path), path).seconds, warmup=cfg.warmup, runs=cfg.runs))
    sample = ok(captured(site, path, capture), path)
    result["queries"] = sample.queries
    result["db_ms_in_request"] = sample.db_ms
    result["floor"] = floor(site, capture, warmup=cfg.warmup, runs=cfg.runs)
    result["ratio_to_floor"] = round(result["median_ms"] / max(result["floor"]["median_ms"], 0.001), 2)
    return result


def with_peer(bench: Bench, result: dict[str, Any], measure_peer: Callable[[Site], dict[str, Any]]) -> None:
    if bench.peer is None:
        result["peer"] = {"status": "not measured", "why": bench.peer_why}
        return
    try:
        peer = measure_peer(bench.peer)
    except NotMeasured as why:
        result["peer"] = {"status": "not measured", "why": str(why)}
        return
    result["peer"] = {"status": "measured", **peer}
    result["peer_over_ours"] = round(peer["median_ms"] / max(result["median_ms"], 0.001), 2)


# ------------------------------------------------------------------------------------ pages


def peer_queue_path(bench: Bench) -> str:
    return f"/tickets/?queue={bench.picks.department_id}&status=1&status=2&sort=due_date"


def peer_queue(bench: Bench, peer: Site) -> dict[str, Any]:
    """The peer's ticket list: the page, then the JSON its table fetches (50 rows by due date)."""
    cfg = bench.config
    path = peer_queue_path(bench)
    page = ok(peer.client.get(path), path)
    found = _datatables_url(page.text)
    if found is None:
        raise NotMeasured("the peer's ticket list names no datatables URL")
    json_path = f"{found}?draw=1&start=0&length=50&order%5B0%5D%5Bcolumn%5D=6&order%5B0%5D%5Bdir%5D=asc"
    rows = json.loads(ok(peer.client.get(json_path), json_path).body)

    def once() -> float:
        return ok(peer.client.get(path), path).seconds + ok(peer.client.get(json_path), json_path).seconds

    result: dict[str, Any] = {"url": path, "json_url": json_path, "rows": len(rows.get("data", []))}
    result["open_in_queue"] = rows.get("recordsTotal")
    result.update(repeat(once, warmup=cfg.warmup, runs=cfg.runs))
    page_sample = ok(captured(peer, path, "peer-queue-page"), path)
    json_sample = ok(captured(peer, json_path, "peer-queue-json"), json_path)
    result["queries"] = (page_sample.queries or 0) + (json_sample.queries or 0)
    result["queries_page"], result["queries_json"] = page_sample.queries, json_sample.queries
    page_floor = floor(peer, "peer-queue-page", warmup=cfg.warmup, runs=cfg.runs)
    json_floor = floor(peer, "peer-queue-json", warmup=cfg.warmup, runs=cfg.runs)
    result["floor"] = {
        "median_ms": round(page_floor["median_ms"] + json_floor["median_ms"], 2),
        "page": page_floor,
        "json": json_floor,
    }
    return result


def _datatables_url(html: str) -> str | None:
    marker = "/datatables_ticket_list/"
    at = html.find(marker)
    if at < 0:
        return None
    end = at + len(marker)
    while end < len(html) and html[end] not in "\"' ":
        end += 1
    return html[at:end]


@figure(
    "staff_queue",
    "Staff queue page (open tickets of the agent's departments, 50 rows by due date, queue counts)",
    "median ≤ 50 ms; ≤ 10 queries, the same at 10 or 100 rows; peer ≥ 10x slower",
)
def staff_queue(bench: Bench) -> dict[str, Any]:
    cfg = bench.config
    result = page_figure(bench, bench.ours, cfg.queue_url, "ours-queue")
    if cfg.queue_rows_url:
        counts = {}
        for rows in (10, 100):
            path = cfg.queue_rows_url.format(rows=rows)
            counts[str(rows)] = ok(bench.ours.client.get(path), path).queries
        result["queries_by_rows"] = counts
    else:
        result["queries_by_rows"] = "not measured: no page-size parameter given (--queue-rows-url)"
    with_peer(bench, result, lambda peer: peer_queue(bench, peer))
    queries_ok = result["queries"] is not None and result["queries"] <= 10
    if isinstance(result["queries_by_rows"], dict):
        queries_ok = queries_ok and len(set(result["queries_by_rows"].values())) == 1
    result["met"] = result["median_ms"] <= 50 and queries_ok and _peer_ok(result)
    return result


def _peer_ok(result: dict[str, Any]) -> bool | None:
    ratio = result.get("peer_over_ours")
    return None if ratio is None else ratio >= 10


@figure(
    "ticket_page",
    "Ticket page with a 50-entry thread and its events",
    "median ≤ 40 ms; ≤ 12 queries, independent of thread length; peer ≥ 10x slower",
)
def ticket_page(bench: Bench) -> dict[str, Any]:
    cfg = bench.config
    number, ticket_id, entries = bench.picks.long_ticket
    result = page_figure(bench, bench.ours, cfg.ticket_url.format(number=number, id=ticket_id), "ours-ticket")
    result["thread_entries"] = entries
    short_number, short_id, short_entries = bench.picks.short_ticket
    short_path = cfg.ticket_url.format(number=short_number, id=short_id)
    result["queries_short_thread"] = {
        "entries": short_entries,
        "queries": ok(bench.ours.client.get(short_path), short_path).queries,
    }

    def peer_ticket(peer: Site) -> dict[str, Any]:
        return page_figure(bench, peer, f"/tickets/{ticket_id}/", "peer-ticket")

    with_peer(bench, result, peer_ticket)
    queries_ok = (
        result["queries"] is not None
        and result["queries"] <= 12
        and result["queries"] == result["queries_short_thread"]["queries"]
    )
    result["met"] = result["median_ms"] <= 40 and queries_ok and _peer_ok(result)
    return result


SEARCH_TERMS = ["printer", "vpn", "docking-station", "payroll report", "mailbox", "Asset"]


@figure("search", "Full-text search over subjects and thread bodies, 50 results", "median ≤ 100 ms")
def search(bench: Bench) -> dict[str, Any]:
    cfg = bench.config
    if not cfg.search_url:
        raise NotMeasured("no search URL given (--search-url, e.g. '/staff/search/?q={q}')")
    site = bench.ours
    paths = [cfg.search_url.format(q=term.replace(" ", "+")) for term in SEARCH_TERMS]
    for path in paths:
        ok(site.client.get(path), path)
    cycle = iter(paths * (cfg.runs + cfg.warmup + 1))
    result: dict[str, Any] = {"url": cfg.search_url, "terms": SEARCH_TERMS}
    result.update(repeat(lambda: ok(site.client.get(p := next(cycle)), p).seconds, warmup=cfg.warmup, runs=cfg.runs))
    result["queries"] = ok(site.client.get(paths[0]), paths[0]).queries
    result["met"] = result["median_ms"] <= 100
    return result


@figure(
    "dashboard",
    "Dashboard (backlog, created vs resolved per day for 30 days, SLA compliance, first-response times)",
    "median ≤ 150 ms",
)
def dashboard(bench: Bench) -> dict[str, Any]:
    cfg = bench.config
    if not cfg.dashboard_url:
        raise NotMeasured("no dashboard URL given (--dashboard-url)")
    result = page_figure(bench, bench.ours, cfg.dashboard_url, "ours-dashboard")
    result["met"] = result["median_ms"] <= 150
    return result


# ------------------------------------------------------------------------------------ SLA, mail


def _manage(
    bench: Bench, *args: str, env: dict[str, str] | None = None, timeout: float = 1800
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ROOT / ".venv" / "bin" / "python"), "manage.py", *args],
        cwd=ROOT,
        env=env or bench.config.env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@figure(
    "sla_sweep",
    "SLA sweep with 50,000 open tickets of which 10,000 just fell due",
    "≤ 2 s to mark all 10,000 and plan their alerts; nothing due ≤ 20 ms",
)
def sla_sweep(bench: Bench) -> dict[str, Any]:
    cfg = bench.config
    if _manage(bench, "help", "sla_sweep_bench").returncode != 0:
        raise NotMeasured("no sla_sweep_bench command on this branch")
    # It loads its own tickets and refuses a database holding others: a scratch database.
    env = cfg.scratch_env("sla")
    migrate = _manage(bench, "migrate", "--noinput", env=env)
    if migrate.returncode != 0:
        raise RuntimeError(migrate.stderr[-1000:])
    opened = cfg.sla_open
    due = max(1, opened // 5)
    run = _manage(bench, "sla_sweep_bench", "--open", str(opened), "--due", str(due), "--json", env=env)
    if run.returncode != 0:
        raise RuntimeError(run.stderr[-1000:] or run.stdout[-1000:])
    figures = _last_json(run.stdout)
    result: dict[str, Any] = {"open_tickets": opened, "due_tickets": due, "command": "sla_sweep_bench", **figures}
    due_s = (figures.get("sweep_due_seconds") or {}).get("median")
    idle_ms = (figures.get("sweep_nothing_due_ms") or {}).get("median")
    at_spec = opened == 50_000
    result["met"] = (due_s is not None and due_s <= 2 and idle_ms is not None and idle_ms <= 20) if at_spec else None
    return result


def _last_json(text: str) -> dict[str, Any]:
    start = text.find("{")
    if start < 0:
        raise RuntimeError(f"no JSON in the output: {text[-500:]!r}")
    found = json.loads(text[start:])
    if not isinstance(found, dict):
        raise RuntimeError("the output is not a JSON object")
    return found


INBOUND_MESSAGES = 1000


@figure(
    "inbound_email",
    "Inbound email (batch import of 1,000 messages: new tickets and replies)",
    "≥ 200 messages/s",
)
def inbound_email(bench: Bench) -> dict[str, Any]:
    cfg = bench.config
    command = cfg.inbound_command
    # It loads its own tickets and refuses a database holding others: a scratch database.
    env = {**cfg.scratch_env("inbound"), "HELPDESK_BENCH": "1", "INBOUND_BENCH_COUNT": str(INBOUND_MESSAGES)}
    if command == "auto":
        if _manage(bench, "help", "inbound_bench").returncode != 0:
            raise NotMeasured("no inbound_bench command on this branch (or give --inbound-command)")
        migrate = _manage(bench, "migrate", "--noinput", env=env)
        if migrate.returncode != 0:
            raise RuntimeError(migrate.stderr[-1000:])
        run = _manage(bench, "inbound_bench", "--messages", str(INBOUND_MESSAGES), "--json", env=env)
        if run.returncode != 0:
            raise RuntimeError(f"inbound_bench failed: {(run.stdout + run.stderr)[-1000:]}")
        figures = _last_json(run.stdout)
        command = f"manage.py inbound_bench --messages {INBOUND_MESSAGES} --json"
    else:
        out = ROOT / "artifacts" / "inbound-bench.json"
        out.unlink(missing_ok=True)
        run = subprocess.run(command, shell=True, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
        if run.returncode != 0:
            raise RuntimeError(f"{command!r} failed: {(run.stdout + run.stderr)[-1000:]}")
        figures = json.loads(out.read_text()) if out.exists() else _last_json(run.stdout)
    rate = figures.get("messages_per_second")
    return {"command": command, **figures, "met": (rate >= 200) if rate is not None else None}


# ------------------------------------------------------------------------------------ intake


def _api_body(n: int) -> bytes:
    return json.dumps(
        {
            "name": f"Monitor {n % 13}",
            "email": f"monitor{n % 13}@customers.example",
            "subject": f"Outage alert {n}: payment gateway not answering",
            "message": "The health check of the payment gateway failed three times in a row.",
            "ip": "127.0.0.1",
        }
    ).encode()


def _post_ticket(client: Client, path: str, key: str, n: int) -> Response:
    return client.request(
        "POST", path, body=_api_body(n), headers={"X-API-Key": key, "Content-Type": "application/json"}
    )


@figure(
    "api_create",
    "Ticket creation through the osTicket-compatible API, 8 concurrent clients, gunicorn",
    "≥ 300 tickets/s on 2 cores, no errors",
)
def api_create(bench: Bench) -> dict[str, Any]:
    cfg = bench.config
    site, key, path = bench.ours, bench.picks.api_key, cfg.api_url
    probe = _post_ticket(site.client, path, key, 0)
    if probe.status != 201:
        raise NotMeasured(f"POST {path} answered {probe.status}: {probe.text[:200]!r}")
    with _db(site) as cursor:
        cursor.execute("SELECT COALESCE(MAX(id), 0) FROM tickets_ticket")
        before = cursor.fetchone()[0]
    total = cfg.api_tickets
    clients = cfg.api_clients
    errors: list[str] = []
    latencies: list[float] = []
    lock = threading.Lock()
    counter = iter(range(1, total + 1))

    def work() -> None:
        client = Client(site.base)
        while True:
            with lock:
                n = next(counter, None)
            if n is None:
                return
            answer = _post_ticket(client, path, key, n)
            with lock:
                latencies.append(answer.seconds)
                if answer.status != 201:
                    errors.append(f"{answer.status} {answer.text[:100]}")

    threads = [threading.Thread(target=work) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    rate = total / elapsed
    result: dict[str, Any] = {
        "url": path,
        "clients": clients,
        "tickets": total,
        "seconds": round(elapsed, 2),
        "tickets_per_second": round(rate, 1),
        "errors": len(errors),
        "error_samples": errors[:5],
        "latency": stats(latencies),
    }
    rows = _rows_of_one_ticket(site, before)
    result["rows_per_ticket"] = {table: len(found) for table, found in rows.items()}
    result["floor"] = _insert_floor(site, rows, total=total, clients=clients)
    result["floor_over_ours"] = round(result["floor"]["tickets_per_second"] / max(rate, 0.001), 2)
    result["met"] = rate >= 300 and not errors
    return result


class _db:
    def __init__(self, site: Site) -> None:
        self.conn = psycopg2.connect(**site.db)
        self.conn.autocommit = True

    def __enter__(self) -> Any:
        return self.conn.cursor()

    def __exit__(self, *exc: object) -> None:
        self.conn.close()


INTAKE_TABLES = [
    ("tickets_ticket", "id"),
    ("tickets_threadentry", "ticket_id"),
    ("tickets_ticketevent", "ticket_id"),
    ("sla_ticketclock", "ticket_id"),
    ("notifications_notification", "ticket_id"),
]


def _rows_of_one_ticket(site: Site, after_id: int) -> dict[str, list[dict[str, Any]]]:
    """Every row the API wrote for one of the tickets it created: the floor inserts the same."""
    with _db(site) as cursor:
        cursor.execute("SELECT id FROM tickets_ticket WHERE id > %s ORDER BY id LIMIT 1", [after_id])
        ticket_id = cursor.fetchone()[0]
        found: dict[str, list[dict[str, Any]]] = {}
        for table, key in INTAKE_TABLES:
            cursor.execute(f"SELECT * FROM {table} WHERE {key} = %s ORDER BY id", [ticket_id])
            names = [d[0] for d in cursor.description]
            found[table] = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    return found


FLOOR_NUMBER_BASE = 900_000_000_000  # outside any real ticket number: the floor's rows are removed after


def _insert_floor(site: Site, rows: dict[str, list[dict[str, Any]]], *, total: int, clients: int) -> dict[str, Any]:
    """The same rows as the API wrote per ticket, INSERTed raw through psycopg2, one transaction
    per ticket, by as many concurrent connections as the API had clients."""
    from psycopg2.extras import Json

    def values(row: dict[str, Any]) -> dict[str, Any]:
        return {k: Json(v) if isinstance(v, dict | list) else v for k, v in row.items() if k != "id"}

    def insert(cursor: Any, table: str, row: dict[str, Any]) -> int:
        names = list(row)
        cursor.execute(
            f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join(['%s'] * len(names))}) RETURNING id",
            [row[n] for n in names],
        )
        return int(cursor.fetchone()[0])

    counter = iter(range(total))
    lock = threading.Lock()

    def work() -> None:
        conn = psycopg2.connect(**site.db)
        try:
            cursor = conn.cursor()
            while True:
                with lock:
                    n = next(counter, None)
                if n is None:
                    return
                ticket = values(rows["tickets_ticket"][0]) | {"number": FLOOR_NUMBER_BASE + n}
                ticket_id = insert(cursor, "tickets_ticket", ticket)
                entry_ids = {}
                for entry in rows["tickets_threadentry"]:
                    entry_ids[entry["id"]] = insert(
                        cursor, "tickets_threadentry", values(entry) | {"ticket_id": ticket_id}
                    )
                event_ids = {}
                for event in rows["tickets_ticketevent"]:
                    row = values(event) | {"ticket_id": ticket_id, "entry_id": entry_ids.get(event["entry_id"])}
                    event_ids[event["id"]] = insert(cursor, "tickets_ticketevent", row)
                for clock in rows["sla_ticketclock"]:
                    insert(cursor, "sla_ticketclock", values(clock) | {"ticket_id": ticket_id})
                notifications = rows["notifications_notification"]
                if notifications:
                    batch = [
                        values(x) | {"ticket_id": ticket_id, "event_id": event_ids.get(x["event_id"])}
                        for x in notifications
                    ]
                    names = list(batch[0])
                    cursor.execute(
                        f"INSERT INTO notifications_notification ({', '.join(names)}) VALUES "
                        + ", ".join(["(" + ", ".join(["%s"] * len(names)) + ")"] * len(batch)),
                        [row[name] for row in batch for name in names],
                    )
                conn.commit()
        finally:
            conn.close()

    threads = [threading.Thread(target=work) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return {"tickets": total, "seconds": round(elapsed, 2), "tickets_per_second": round(total / elapsed, 1)}


# ------------------------------------------------------------------------------------ memory


@figure(
    "memory",
    "Memory: a web worker after 10,000 requests; a Celery worker",
    "web worker ≤ 150 MB RSS; Celery worker ≤ 200 MB",
)
def memory(bench: Bench) -> dict[str, Any]:
    cfg = bench.config
    server = bench.start_gunicorn(name="memory", workers=1)
    try:
        worker = server.children()[0]
        client = Client(f"http://127.0.0.1:{server.port}", cookies=dict(bench.ours.client.cookies))
        paths = [cfg.queue_url] + [cfg.ticket_url.format(number=n, id=i) for n, i in bench.picks.tickets[:200]]
        paths += ["/healthz"]
        rng = random.Random(7)
        started_mb = rss_mb(worker)
        statuses: dict[int, int] = {}
        began = time.perf_counter()
        for i in range(cfg.memory_requests):
            path = paths[0] if i % 4 == 0 else rng.choice(paths)
            status = client.get(path).status
            statuses[status] = statuses.get(status, 0) + 1
        seconds = time.perf_counter() - began
        web = {
            "requests": cfg.memory_requests,
            "seconds": round(seconds, 1),
            "statuses": statuses,
            "rss_start_mb": started_mb,
            "rss_after_mb": rss_mb(worker),
        }
    finally:
        server.stop()
    celery: dict[str, Any] = (
        {"status": "not measured", "why": "no Celery worker running"}
        if bench.celery is None
        else rss_report(bench.celery)
    )
    web_ok = web["rss_after_mb"] is not None and web["rss_after_mb"] <= 150
    celery_max = max(
        [celery.get("parent_mb") or 0.0, *[m or 0.0 for m in celery.get("children_mb", [])]]
        if "parent_mb" in celery
        else [0.0]
    )
    return {"web_worker": web, "celery_worker": celery, "met": web_ok and 0 < celery_max <= 200}
