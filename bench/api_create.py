"""Ticket creation through the osTicket-compatible API, as a monitoring storm sends it.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/hd_bench_api REDIS_URL=redis://127.0.0.1:6379/5 \\
        .venv/bin/python bench/api_create.py [--clients 8] [--seconds 15] [--runs 3] [--workers 4]

Starts gunicorn with production settings (DEBUG off, PostgreSQL, Redis) on 127.0.0.1, and
has N clients POST /api/tickets.json as fast as they are answered, each ticket from one of
500 monitoring senders. Each run reports tickets per second and every answer that is not a
201 (an error). The floor beside it is the same rows written by raw INSERTs through psycopg2
with the same number of clients: the ticket, its first thread entry, its events, its SLA
clocks and its notification rows, one transaction per ticket.

The database is created when missing, migrated and seeded; tickets of earlier runs stay.
No Celery worker runs: delivery tasks wait in Redis (the intake's work is to accept).
Results: bench/results/api_create.json and .md (median, min, max over the runs).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import random
import secrets
import socket
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
KEY = "BENCHKEY" * 4
SENDERS = 500


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_env(database_url: str, redis_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "helpdesk.settings",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "DEBUG": "false",
        "SECRET_KEY": "bench-" + secrets.token_urlsafe(40),
        "ALLOWED_HOSTS": "127.0.0.1",
        # Plain HTTP on loopback: no redirect to HTTPS.
        "SECURE_SSL_REDIRECT": "false",
        "LOG_LEVEL": "WARNING",
        # The per-key limit stays on (its counter in Redis is part of the cost) but does not bind.
        "API_INTAKE_THROTTLE": "100000000/minute",
    }


def database_prepare(env: dict[str, str]) -> None:
    import psycopg2

    parts = urlsplit(env["DATABASE_URL"])
    name = parts.path.lstrip("/")
    admin = psycopg2.connect(
        host=parts.hostname, port=parts.port or 5432, user=parts.username, password=parts.password, dbname="postgres"
    )
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if cursor.fetchone() is None:
            cursor.execute(f'CREATE DATABASE "{name}"')
    admin.close()
    python = sys.executable
    subprocess.run([python, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
    subprocess.run(
        [python, "manage.py", "seed_demo", "--no-tickets", "--api-key", KEY, "--password", "bench-password-1"],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )


def gunicorn_start(env: dict[str, str], port: int, workers: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "helpdesk.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--worker-class",
            "sync",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("gunicorn did not start")


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes so far (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def database_backends(env: dict[str, str]) -> list[int]:
    """The PostgreSQL server processes serving the benchmark's database (same machine)."""
    import psycopg2

    parts = urlsplit(env["DATABASE_URL"])
    conn = psycopg2.connect(
        host=parts.hostname, port=parts.port or 5432, user=parts.username, password=parts.password, dbname="postgres"
    )
    with conn.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", [parts.path.lstrip("/")])
        pids = [row[0] for row in cursor.fetchall()]
    conn.close()
    return pids


def alert(i: int) -> bytes:
    sender = i % SENDERS
    return json.dumps(
        {
            "name": f"Monitor {sender}",
            "email": f"monitor{sender}@bench.example",
            "subject": f"CRITICAL: host{i % 97} check {i} failed",
            "message": f"PING CRITICAL - Packet loss = 100% (alert {i})",
            "ip": "192.0.2.10",
        }
    ).encode()


def load(port: int, clients: int, seconds: float, start_index: int) -> dict[str, Any]:
    """`clients` threads posting alerts until the time is up."""
    counts: dict[str, int] = {}
    latencies: list[float] = []
    lock = threading.Lock()
    counter = iter(range(start_index, start_index + 10**9))
    stop_at = time.monotonic() + seconds

    def client() -> None:
        mine: dict[str, int] = {}
        times: list[float] = []
        while time.monotonic() < stop_at:
            with lock:
                i = next(counter)
            began = time.monotonic()
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                # curl's default type, as monitoring scripts send it.
                conn.request(
                    "POST",
                    "/api/tickets.json",
                    body=alert(i),
                    headers={"X-API-Key": KEY, "Content-Type": "application/x-www-form-urlencoded"},
                )
                response = conn.getresponse()
                body = response.read()
                conn.close()
                key = str(response.status)
                if response.status == 201 and not body.isdigit():
                    key = "201-bad-body"
            except OSError as exc:
                key = type(exc).__name__
            times.append(time.monotonic() - began)
            mine[key] = mine.get(key, 0) + 1
        with lock:
            for k, v in mine.items():
                counts[k] = counts.get(k, 0) + v
            latencies.extend(times)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    began = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - began
    created = counts.get("201", 0)
    latencies.sort()
    return {
        "seconds": round(elapsed, 2),
        "created": created,
        "errors": sum(v for k, v in counts.items() if k != "201"),
        "answers": counts,
        "tickets_per_second": round(created / elapsed, 1),
        "latency_ms_p50": round(1000 * latencies[len(latencies) // 2], 1) if latencies else None,
        "latency_ms_p95": round(1000 * latencies[int(len(latencies) * 0.95)], 1) if latencies else None,
    }


def floor(env: dict[str, str], clients: int, seconds: float) -> dict[str, Any]:
    """The same rows as one API ticket, by raw INSERTs: the least the database must do."""
    os.environ.update({k: v for k, v in env.items() if k in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE", "SECRET_KEY")})
    os.environ["DEBUG"] = "true"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    import psycopg2

    from accounts.models import User
    from tickets.models import Department, Priority, Status

    department = Department.objects.get(name="Support")
    priority = Priority.objects.get(is_default=True)
    status = Status.objects.get(state="open", is_default=True)
    agents = list(User.objects.filter(memberships__department=department).values_list("pk", "email"))
    requesters = list(User.objects.filter(kind="end_user").values_list("pk", flat=True)[:SENDERS])
    parts = urlsplit(env["DATABASE_URL"])
    stop_at = time.monotonic() + seconds
    made = [0]
    lock = threading.Lock()

    def writer(seed: int) -> None:
        rng = random.Random(secrets.randbits(64) ^ seed)
        conn = psycopg2.connect(
            host=parts.hostname, port=parts.port or 5432, user=parts.username, password=parts.password,
            dbname=parts.path.lstrip("/"),
        )  # fmt: skip
        mine = 0
        with conn.cursor() as cursor:
            while time.monotonic() < stop_at:
                now = datetime.now(UTC)
                due = now + timedelta(hours=18)
                requester = rng.choice(requesters)
                cursor.execute(
                    "INSERT INTO tickets_ticket (number, subject, requester_id, department_id, priority_id,"
                    " status_id, state, source, ip_address, due_at, is_overdue, created_at, updated_at,"
                    " last_message_at, satisfaction_comment, version)"
                    " VALUES (%s,%s,%s,%s,%s,%s,'open','api','192.0.2.10',%s,false,%s,%s,%s,'',2) RETURNING id",
                    [rng.randrange(10**17, 10**18), "CRITICAL: floor", requester,
                     department.pk, priority.pk, status.pk, due, now, now, now],
                )  # fmt: skip
                ticket_id = cursor.fetchone()[0]
                cursor.execute(
                    "INSERT INTO tickets_threadentry (ticket_id, kind, author_id, author_name, title, body, body_html,"
                    " source, message_id, ip_address, created_at)"
                    " VALUES (%s,'message',%s,'Monitor','', 'PING CRITICAL','', 'api','', '192.0.2.10', %s) RETURNING id",
                    [ticket_id, requester, now],
                )
                entry_id = cursor.fetchone()[0]
                for kind, entry in (("created", entry_id), ("sla_started", None)):
                    cursor.execute(
                        "INSERT INTO tickets_ticketevent (ticket_id, kind, actor_id, from_value, to_value, entry_id,"
                        " data, created_at) VALUES (%s,%s,%s,'','',%s,'{}',%s) RETURNING id",
                        [ticket_id, kind, requester, entry, now],
                    )
                    event_id = cursor.fetchone()[0]
                    if kind == "created":
                        created_event = event_id
                cursor.execute(
                    "INSERT INTO sla_ticketclock (ticket_id, target, state, target_seconds, elapsed_seconds,"
                    " running_since, started_at, due_at, warn_at, is_overridden, cycle) VALUES"
                    " (%s,'resolution','running',64800,0,%s,%s,%s,%s,false,1)",
                    [ticket_id, now, now, due, now + timedelta(hours=13)],
                )
                for agent_id, email in agents:
                    cursor.execute(
                        "INSERT INTO notifications_notification (kind, ticket_id, event_id, recipient_id,"
                        " recipient_email, state, attempts, last_error, context, message_id, created_at,"
                        " next_attempt_at) VALUES ('new_ticket_alert',%s,%s,%s,%s,'pending',0,'','{}','',%s,%s)",
                        [ticket_id, created_event, agent_id, email, now, now],
                    )
                conn.commit()
                mine += 1
        conn.close()
        with lock:
            made[0] += mine

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(clients)]
    began = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - began
    return {"seconds": round(elapsed, 2), "created": made[0], "tickets_per_second": round(made[0] / elapsed, 1)}


def summary(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=(os.cpu_count() or 1) * 2)
    parser.add_argument("--warmup", type=float, default=3)
    parser.add_argument("--no-floor", action="store_true")
    args = parser.parse_args()
    database_url = os.environ.get("DATABASE_URL", "")
    redis_url = os.environ.get("REDIS_URL", "")
    if not database_url.startswith("postgres") or not redis_url:
        raise SystemExit("Set DATABASE_URL (PostgreSQL) and REDIS_URL: the figure is for the production stack.")
    env = server_env(database_url, redis_url)
    database_prepare(env)
    load_before = os.getloadavg()
    port = free_port()
    server = gunicorn_start(env, port, args.workers)
    try:
        load(port, args.clients, args.warmup, start_index=10**8)
        workers = children(server.pid)
        runs = []
        for r in range(args.runs):
            backends = database_backends(env)
            web_before, db_before = cpu_seconds(workers), cpu_seconds(backends)
            run = load(port, args.clients, args.seconds, start_index=(r + 1) * 10**7)
            # CPU time per ticket does not depend on what else the machine runs: it says what
            # two cores of our own would give (cores / CPU time per ticket).
            if run["created"]:
                run["web_cpu_ms_per_ticket"] = round(1000 * (cpu_seconds(workers) - web_before) / run["created"], 2)
                run["db_cpu_ms_per_ticket"] = round(1000 * (cpu_seconds(backends) - db_before) / run["created"], 2)
            runs.append(run)
    finally:
        server.terminate()
        server.wait(timeout=30)
    floors = [] if args.no_floor else [floor(env, args.clients, args.seconds) for _ in range(args.runs)]
    rates = [r["tickets_per_second"] for r in runs]
    result: dict[str, Any] = {
        "figure": "ticket creation through POST /api/tickets.json",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cores": os.cpu_count(),
            "memory_mb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        # Other work on the machine skews absolute figures; the floor, run beside, gives the ratio.
        "load_average_before": [round(x, 2) for x in load_before],
        "settings": {
            "clients": args.clients,
            "gunicorn_workers": args.workers,
            "seconds_per_run": args.seconds,
            "runs": args.runs,
            "target_tickets_per_second": 300,
        },
        "tickets_per_second": summary(rates),
        "web_cpu_ms_per_ticket": summary([r.get("web_cpu_ms_per_ticket", 0.0) for r in runs]),
        "db_cpu_ms_per_ticket": summary([r.get("db_cpu_ms_per_ticket", 0.0) for r in runs]),
        "errors": sum(r["errors"] for r in runs),
        "runs": runs,
    }
    if floors:
        floor_rates = [f["tickets_per_second"] for f in floors]
        result["floor_raw_insert_tickets_per_second"] = summary(floor_rates)
        result["floor_runs"] = floors
        result["ratio_to_floor"] = round(statistics.median(rates) / statistics.median(floor_rates), 3)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "api_create.json").write_text(json.dumps(result, indent=2) + "\n")
    rate = result["tickets_per_second"]
    lines = [
        "# Ticket creation through /api/tickets.json",
        "",
        f"{result['date']}, {result['machine']['cores']} cores, {result['machine']['memory_mb']} MB, "
        f"gunicorn {args.workers} sync workers, {args.clients} clients, {args.runs} runs of {args.seconds:g} s; "
        f"load average before: {result['load_average_before'][0]}.",
        "",
        "| figure | median | min | max | target |",
        "|---|---|---|---|---|",
        f"| tickets/s through the API | {rate['median']} | {rate['min']} | {rate['max']} | ≥ 300, no errors |",
    ]
    web, db = result["web_cpu_ms_per_ticket"]["median"], result["db_cpu_ms_per_ticket"]["median"]
    cores = os.cpu_count() or 1
    result["tickets_per_second_on_idle_cores_estimate"] = round(cores * 1000 / (web + db), 1) if web + db else None
    lines.append(f"| CPU ms per ticket: web workers + PostgreSQL | {web} + {db} | | | |")
    lines.append(
        f"| tickets/s {cores} idle cores would give (cores / CPU per ticket) | "
        f"{result['tickets_per_second_on_idle_cores_estimate']} | | | ≥ 300 |"
    )
    if floors:
        f = result["floor_raw_insert_tickets_per_second"]
        lines.append(f"| tickets/s by raw INSERTs (floor) | {f['median']} | {f['min']} | {f['max']} | — |")
    lines += [
        "",
        f"Errors (answers other than 201 with a number): {result['errors']}. "
        f"Latency p50/p95 of the last run: {runs[-1]['latency_ms_p50']} / {runs[-1]['latency_ms_p95']} ms.",
    ]
    if floors:
        lines.append(f"API rate / floor rate: {result['ratio_to_floor']}.")
    (RESULTS / "api_create.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
