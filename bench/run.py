"""`make bench SIZE=N`: the benchmark of BENCH.md, side by side with django-helpdesk.

    .venv/bin/python bench/run.py --size 1000000 [--seed 42] [--queue-url /staff/] [...]

It loads (or reuses) the project's dataset (hd_bench_ours, with bench_data) and the peer's
copy of it (hd_bench_peer, with bench/peer/load.py), starts gunicorn with the production
settings for both, a Celery worker and an SMTP sink on loopback, signs in as the same agent
on both, times each figure of bench/figures.py, runs the load run (bench/locustfile.py),
and writes bench/results/<date>-<size>.json and .md. Everything it starts, it stops.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import traceback
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg2  # noqa: E402

from bench import pgload, report  # noqa: E402
from bench.figures import FIGURES, Bench, NotMeasured, Picks, Site  # noqa: E402
from bench.servers import Process, free_port, rss_report  # noqa: E402

BENCH = ROOT / "bench"
PEER = BENCH / "peer"
VAR = BENCH / "var"
BIN = ROOT / ".venv" / "bin"
AGENT = "agent0000@bench.example"
PORTAL_USER = "user000000@customers.example"
PEER_LOADER_VERSION = 1


@dataclass
class Config:
    size: int
    seed: int = 42
    profile: str = "full"
    postgres: str = "postgres://postgres@127.0.0.1:5432"
    ours_db: str = "hd_bench_ours"
    peer_db: str = "hd_bench_peer"
    redis_url: str = "redis://127.0.0.1:6379/6"
    password: str = "bench-agent-password-9f3c"
    runs: int = 30
    warmup: int = 5
    workers: int = 4
    queue_url: str = "/staff/"
    queue_rows_url: str = ""
    ticket_url: str = "/staff/tickets/{number}/"
    search_url: str = "/staff/queues/all/?q={q}"
    dashboard_url: str = "/staff/dashboard/"
    api_url: str = "/api/tickets.json"
    api_clients: int = 8
    api_tickets: int = 2000
    portal_paths: list[str] = field(default_factory=lambda: ["/"])
    sla_open: int = 50_000
    inbound_command: str = "auto"
    memory_requests: int = 10_000
    load_steps: list[int] = field(default_factory=lambda: [2, 4, 8, 16])
    load_step_seconds: int = 30
    peer: bool = True
    only: list[str] = field(default_factory=list)
    results: str = str(BENCH / "results")
    ours_port: int = 0
    smtp_port: int = 0

    def url(self, db: str) -> str:
        return f"{self.postgres}/{db}"

    def dsn(self, db: str) -> dict[str, Any]:
        parts = urlsplit(self.url(db))
        return {
            "dbname": db,
            "user": parts.username or "",
            "password": parts.password or "",
            "host": parts.hostname or "",
            "port": parts.port or 5432,
        }

    @property
    def env(self) -> dict[str, str]:
        """The production settings, on loopback: DEBUG off, a bench key, no TLS redirect."""
        base = f"http://127.0.0.1:{self.ours_port}"
        return {
            **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTEST"))},
            "DEBUG": "false",
            "SECRET_KEY": "bench-only-" + hashlib.sha256(b"helpdesk-bench").hexdigest(),
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "SITE_URL": base,
            "CSRF_TRUSTED_ORIGINS": base,
            "SECURE_SSL_REDIRECT": "false",
            "DATABASE_URL": self.url(self.ours_db),
            "REDIS_URL": self.redis_url,
            "EMAIL_URL": f"smtp://127.0.0.1:{self.smtp_port}",
            "LOG_LEVEL": "WARNING",
            "CELERY_TASK_ALWAYS_EAGER": "false",
        }

    def scratch_env(self, name: str) -> dict[str, str]:
        """The environment of a fresh scratch database hd_bench_<name>, for the figures that
        load data of their own."""
        db = f"{self.ours_db}_{name}"
        database_recreate(self, db)
        return {**self.env, "DATABASE_URL": self.url(db)}


def log(message: str) -> None:
    print(f"[bench {datetime.now():%H:%M:%S}] {message}", flush=True)


# ------------------------------------------------------------------------------------ databases


def admin_connection(cfg: Config) -> Any:
    conn = psycopg2.connect(**cfg.dsn("postgres"))
    conn.autocommit = True
    return conn


def database_exists(cfg: Config, db: str) -> bool:
    conn = admin_connection(cfg)
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db])
            return cursor.fetchone() is not None
    finally:
        conn.close()


def database_recreate(cfg: Config, db: str) -> None:
    conn = admin_connection(cfg)
    try:
        with conn.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
            cursor.execute(f'CREATE DATABASE "{db}"')
    finally:
        conn.close()


def marker(cfg: Config, db: str) -> dict[str, Any]:
    if not database_exists(cfg, db):
        return {}
    conn = psycopg2.connect(**cfg.dsn(db))
    try:
        return pgload.marker_read(conn)
    finally:
        conn.close()


def manage(cfg: Config, *args: str, stream: bool = False) -> None:
    run = subprocess.run(
        [str(BIN / "python"), "manage.py", *args],
        cwd=ROOT,
        env=cfg.env,
        capture_output=not stream,
        text=True,
        check=False,
    )
    if run.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed: {(run.stderr or '')[-2000:]}")


def prepare_ours(cfg: Config) -> dict[str, Any]:
    """The project's dataset at this size and seed on the current migrations, loaded or reused."""
    import django

    os.environ.update(cfg.env)
    os.environ["DJANGO_SETTINGS_MODULE"] = "helpdesk.settings"
    django.setup()
    from bench.dataset import migrations_fingerprint

    found = marker(cfg, cfg.ours_db)
    wanted = {"tickets": cfg.size, "seed": cfg.seed, "migrations": migrations_fingerprint()}
    if found.get("bench_data") and all(found.get(k) == wanted[k] for k in ("tickets", "seed")):
        # The same data: reused, with any migration not yet applied to it applied now, as it
        # would be to a live desk (nothing to do when the schema is current; a migration that
        # cannot be applied fails the run).
        log(f"reusing {cfg.ours_db}: {found['tickets']:,} tickets, seed {found['seed']}, loaded {found['anchor']}")
        from django.db import connections

        connections.close_all()
        started = time.monotonic()
        applied = _migrate_forward(cfg)
        if applied or found.get("migrations") != wanted["migrations"]:
            log(f"  migrated forward: {', '.join(applied) or 'nothing to apply'}")
            found.setdefault("migrated_forward", []).append(
                {"applied": applied, "seconds": round(time.monotonic() - started, 1)}
            )
            found["migrations"] = wanted["migrations"]
            conn = psycopg2.connect(**cfg.dsn(cfg.ours_db))
            try:
                pgload.marker_write(conn, found)
            finally:
                conn.close()
        return found
    log(f"loading {cfg.ours_db} with {cfg.size:,} tickets (seed {cfg.seed})")
    from django.db import connections

    connections.close_all()
    database_recreate(cfg, cfg.ours_db)
    manage(cfg, "migrate", "--noinput")
    manage(cfg, "bench_data", "--tickets", str(cfg.size), "--seed", str(cfg.seed), stream=True)
    return marker(cfg, cfg.ours_db)


def _migrate_forward(cfg: Config) -> list[str]:
    """Apply the migrations the dataset lacks; the names of those applied."""
    run = subprocess.run(
        [str(BIN / "python"), "manage.py", "migrate", "--noinput", "--plan"],
        cwd=ROOT,
        env=cfg.env,
        capture_output=True,
        text=True,
        check=False,
    )
    if run.returncode != 0:
        raise RuntimeError(f"manage.py migrate --plan failed: {run.stderr[-2000:]}")
    # "Planned operations:", then each migration's name unindented and its operations indented.
    lines = run.stdout.splitlines()[1:]
    pending = [line.strip() for line in lines if line.strip() and not line.startswith(" ")]
    if pending:
        manage(cfg, "migrate", "--noinput")
    return pending


def choose(cfg: Config) -> Picks:
    """The bench agent (with a known password), the tickets the figures open, an API key."""
    from django.db import connection

    from accounts.models import DepartmentMembership, User
    from api.models import ApiKey
    from api.services import api_key_create

    agent = User.objects.get(email=AGENT)
    agent.set_password(cfg.password)
    agent.save(update_fields=["password"])
    requester = User.objects.get(email=PORTAL_USER)
    requester.set_password(cfg.password)
    requester.save(update_fields=["password"])
    department = DepartmentMembership.objects.get(agent=agent, is_primary=True).department_id
    with connection.cursor() as cursor:
        # bench_data writes version = entries + 2: a cheap way to the long threads.
        long_sql = """
            SELECT t.number, t.id, count(e.id) FROM tickets_ticket t
            JOIN tickets_threadentry e ON e.ticket_id = t.id
            WHERE t.department_id = %s {extra}
            GROUP BY t.id ORDER BY abs(count(e.id) - {want}), t.id LIMIT 1
        """
        picked = []
        for want, extra in [(50, "AND t.version BETWEEN 30 AND 80"), (5, "AND t.version BETWEEN 6 AND 8")]:
            cursor.execute(long_sql.format(extra=extra, want=want), [department])
            row = cursor.fetchone()
            if row is None:
                cursor.execute(long_sql.format(extra="", want=want), [department])
                row = cursor.fetchone()
            picked.append(tuple(row))
        cursor.execute(
            "SELECT number, id FROM tickets_ticket WHERE department_id = %s ORDER BY id DESC LIMIT 500", [department]
        )
        tickets = [(n, i) for n, i in cursor.fetchall()]
    ApiKey.objects.filter(name="Benchmark").delete()
    _, key = api_key_create(name="Benchmark", allowed_addresses="127.0.0.1 ::1")
    return Picks(
        agent_email=AGENT,
        agent_password=cfg.password,
        department_id=department,
        long_ticket=picked[0],  # type: ignore[arg-type]
        short_ticket=picked[1],  # type: ignore[arg-type]
        tickets=tickets,
        api_key=key,
        portal_email=PORTAL_USER,
        portal_password=cfg.password,
    )


def high_water(cfg: Config) -> dict[str, int]:
    """The last id of each table the benchmark writes to, to remove its rows afterwards."""
    conn = psycopg2.connect(**cfg.dsn(cfg.ours_db))
    try:
        with conn.cursor() as cursor:
            found = {}
            for table in CLEANED:
                cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}")
                found[table] = cursor.fetchone()[0]
        return found
    finally:
        conn.close()


CLEANED = [
    "accounts_user",
    "tickets_ticket",
    "tickets_threadentry",
    "tickets_ticketevent",
    "notifications_notification",
]


def clean_up(cfg: Config, marks: dict[str, int]) -> None:
    """Remove every row the run wrote (API tickets, floors, outbox), so that the dataset stays
    the one its marker names. One transaction: the keys, deferred, are checked at its end."""
    conn = psycopg2.connect(**cfg.dsn(cfg.ours_db))
    try:
        with conn.cursor() as cursor:
            for parent, last in marks.items():
                cursor.execute(
                    """
                    SELECT c.conrelid::regclass::text, a.attname FROM pg_constraint c
                    JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
                    WHERE c.contype = 'f' AND c.confrelid = %s::regclass
                    """,
                    [parent],
                )
                for child, column in cursor.fetchall():
                    cursor.execute(f'DELETE FROM {child} WHERE "{column}" > %s', [last])
            for parent, last in marks.items():
                cursor.execute(f"DELETE FROM {parent} WHERE id > %s", [last])
        conn.commit()
    finally:
        conn.close()


# ------------------------------------------------------------------------------------ the peer


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def venv(folder: Path, requirements: Path) -> Path:
    """A virtual environment with exactly these requirements (rebuilt when they change)."""
    python = folder / "bin" / "python"
    stamp = folder / ".requirements-sha256"
    if python.exists() and stamp.exists() and stamp.read_text() == sha(requirements):
        return python
    log(f"installing {requirements.relative_to(ROOT)} into {folder.relative_to(ROOT)}")
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(folder)], check=True)
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", "-r", str(requirements)],
        check=True,
    )
    stamp.write_text(sha(requirements))
    return python


def prepare_peer(cfg: Config, ours: dict[str, Any]) -> tuple[bool, str]:
    if not cfg.peer:
        return False, "the peer was turned off (--no-peer)"
    try:
        python = venv(PEER / ".venv", PEER / "requirements.txt")
    except subprocess.CalledProcessError as exc:
        return False, f"django-helpdesk could not be installed: {exc}"
    # The peer is loaded from the project's rows, which a later migration of ours does not change.
    same = ("tickets", "seed", "anchor")
    wanted = {k: ours.get(k) for k in (*same, "migrations")}
    found = marker(cfg, cfg.peer_db)
    source = found.get("source") or {}
    if found.get("peer_loader") == PEER_LOADER_VERSION and all(source.get(k) == wanted[k] for k in same):
        log(f"reusing {cfg.peer_db}: {found.get('tickets', 0):,} tickets")
        return True, ""
    log(f"loading {cfg.peer_db} from {cfg.ours_db}")
    database_recreate(cfg, cfg.peer_db)
    run = subprocess.run(
        [
            str(python),
            "load.py",
            "--source",
            cfg.url(cfg.ours_db),
            "--agent",
            AGENT,
            "--password",
            cfg.password,
        ],
        cwd=PEER,
        env=peer_env(cfg),
        check=False,
    )
    if run.returncode != 0:
        return False, f"the peer's loader failed (exit {run.returncode})"
    return True, ""


def peer_env(cfg: Config) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTEST"))},
        "PEER_DATABASE_URL": cfg.url(cfg.peer_db),
        "SECRET_KEY": "bench-only-peer-" + hashlib.sha256(b"helpdesk-peer").hexdigest(),
        "BENCH_QUERY_COUNT": "1",
        "BENCH_CAPTURE_DIR": str(VAR / "capture" / "peer"),
    }


# ------------------------------------------------------------------------------------ servers


def gunicorn_ours(cfg: Config, *, name: str, workers: int, port: int | None = None) -> Process:
    port = port or free_port()
    env = {
        **cfg.env,
        "DJANGO_SETTINGS_MODULE": "bench.server_settings",
        "BENCH_CAPTURE_DIR": str(VAR / "capture" / "ours"),
    }
    args = [str(BIN / "gunicorn"), "helpdesk.wsgi:application", "--bind", f"127.0.0.1:{port}"]
    args += ["--workers", str(workers), "--timeout", "120", "--log-level", "warning"]
    return Process(name=name, args=args, env=env, cwd=ROOT, port=port).start()


def gunicorn_peer(cfg: Config) -> Process:
    port = free_port()
    args = [str(PEER / ".venv" / "bin" / "gunicorn"), "peer_site.wsgi:application", "--chdir", str(PEER)]
    args += ["--pythonpath", str(BENCH), "--bind", f"127.0.0.1:{port}", "--workers", str(cfg.workers)]
    args += ["--timeout", "120", "--log-level", "warning"]
    return Process(name="peer-web", args=args, env=peer_env(cfg), cwd=PEER, port=port).start()


def outbox_drained(cfg: Config, timeout: float) -> int:
    """Wait (a while) for the Celery worker to send what the API figure queued; return how
    many notifications were still waiting."""
    conn = psycopg2.connect(**cfg.dsn(cfg.ours_db))
    conn.autocommit = True
    deadline = time.monotonic() + timeout
    try:
        with conn.cursor() as cursor:
            while True:
                cursor.execute("SELECT count(*) FROM notifications_notification WHERE state IN ('pending', 'sending')")
                pending = int(cursor.fetchone()[0])
                if pending == 0 or time.monotonic() > deadline:
                    return pending
                time.sleep(2)
    finally:
        conn.close()


# ------------------------------------------------------------------------------------ the load run


def load_run(bench: Bench, cfg: Config, api_works: bool) -> dict[str, Any]:
    python = venv(BENCH / ".venv-load", BENCH / "requirements.txt")
    pending = outbox_drained(cfg, timeout=300)
    locust = python.parent / "locust"
    out = VAR / "load-samples.json"
    out.unlink(missing_ok=True)
    portal = Site("portal", bench.ours.base, bench.ours.db, bench.ours.process, bench.ours.capture_dir)
    portal.client.sign_in("/login/", bench.picks.portal_email, bench.picks.portal_password)
    plan = {
        "host": bench.ours.base,
        "steps": cfg.load_steps,
        "step_seconds": cfg.load_step_seconds,
        "staff": {"cookies": bench.ours.client.cookies, "paths": [cfg.queue_url]},
        "portal": {"cookies": portal.client.cookies, "paths": cfg.portal_paths},
        "api": {"path": cfg.api_url, "key": bench.picks.api_key} if api_works else None,
        "tickets": [cfg.ticket_url.format(number=n, id=i) for n, i in bench.picks.tickets],
        "out": str(out),
    }
    before = {"web": rss_report(bench.ours.process), "celery": rss_report(bench.celery) if bench.celery else None}
    duration = cfg.load_step_seconds * len(cfg.load_steps)
    args = [str(locust), "-f", str(BENCH / "locustfile.py"), "--headless", "--host", bench.ours.base]
    args += ["--only-summary", "--stop-timeout", "5", "--exit-code-on-error", "0", "--loglevel", "WARNING"]
    log(f"load run: {cfg.load_steps} users, {cfg.load_step_seconds} s each")
    run = subprocess.run(
        args,
        cwd=BENCH,
        env={**os.environ, "BENCH_PLAN": json.dumps(plan)},
        capture_output=True,
        text=True,
        timeout=duration + 120,
        check=False,
    )
    if run.returncode != 0 or not out.exists():
        raise RuntimeError(f"locust failed ({run.returncode}): {(run.stderr or run.stdout)[-1500:]}")
    recorded = json.loads(out.read_text())
    after = {"web": rss_report(bench.ours.process), "celery": rss_report(bench.celery) if bench.celery else None}
    steps = report.load_steps(recorded, cfg.load_steps, cfg.load_step_seconds)
    return {
        "tool": "locust (headless), bench/locustfile.py",
        "mix": {"staff": 4, "portal": 3, "api": 2 if api_works else 0},
        "api_included": api_works,
        "steps": steps,
        "outbox_pending_at_start": pending,
        "rss_before": before,
        "rss_after": after,
    }


# ------------------------------------------------------------------------------------ main


# Below FULL_FROM tickets a run proves the harness rather than measures (CI runs 2,000):
# fewer repetitions, a shorter load run, fewer requests for the memory figure. --full forces
# the full profile at any size.
FULL_FROM = 100_000
PROFILES: dict[str, dict[str, Any]] = {
    "full": {
        "runs": 30,
        "warmup": 5,
        "api_tickets": 2000,
        "sla_open": 50_000,
        "memory_requests": 10_000,
        "load_steps": "2,4,8,16",
        "load_step_seconds": 30,
    },
    "quick": {
        "runs": 10,
        "warmup": 2,
        "api_tickets": 300,
        "sla_open": 5_000,
        "memory_requests": 500,
        "load_steps": "2,4,8",
        "load_step_seconds": 10,
    },
}


def parse(argv: list[str] | None = None) -> Config:
    defaults = Config(size=0)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, required=True, help="Tickets in the dataset.")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--full", action="store_true", help=f"The full profile below {FULL_FROM:,} tickets too.")
    parser.add_argument("--postgres", default=os.environ.get("BENCH_POSTGRES", defaults.postgres))
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", defaults.redis_url))
    parser.add_argument(
        "--ours-db", default=defaults.ours_db, help="The project's database (dropped and reloaded as needed)."
    )
    parser.add_argument(
        "--peer-db", default=defaults.peer_db, help="The peer's database (dropped and reloaded as needed)."
    )
    parser.add_argument("--runs", type=int, help="Timed runs of each figure (after the warm-up).")
    parser.add_argument("--warmup", type=int)
    parser.add_argument("--workers", type=int, default=defaults.workers, help="gunicorn workers of each server.")
    parser.add_argument("--queue-url", default=defaults.queue_url)
    parser.add_argument("--queue-rows-url", default="", help="The queue with a page size, e.g. '/staff/?rows={rows}'.")
    parser.add_argument("--ticket-url", default=defaults.ticket_url, help="With {number} (or {id}).")
    parser.add_argument("--search-url", default=defaults.search_url, help="With {q}: the staff search (the All queue).")
    parser.add_argument("--dashboard-url", default=defaults.dashboard_url)
    parser.add_argument("--api-url", default=defaults.api_url)
    parser.add_argument("--api-tickets", type=int, help="Tickets the 8 API clients create.")
    parser.add_argument("--portal-paths", default="/", help="Comma-separated portal pages of the load run.")
    parser.add_argument("--sla-open", type=int, help="Open tickets of the SLA sweep (the target is set at 50,000).")
    parser.add_argument("--inbound-command", default="auto", help="A command printing the inbound figures as JSON.")
    parser.add_argument("--memory-requests", type=int)
    parser.add_argument("--load-steps", help="Users at each step of the load run, comma-separated.")
    parser.add_argument("--load-step-seconds", type=int)
    parser.add_argument("--no-peer", action="store_true")
    parser.add_argument("--only", default="", help=f"Comma-separated figures of {', '.join(FIGURES)}, and 'load'.")
    parser.add_argument("--results", default=defaults.results)
    args = parser.parse_args(argv)
    if args.size < 1:
        parser.error("--size must be at least 1")
    profile = "full" if args.full or args.size >= FULL_FROM else "quick"
    for name, value in PROFILES[profile].items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    unknown = [f for f in args.only.split(",") if f and f not in FIGURES and f != "load"]
    if unknown:
        parser.error(f"--only: unknown figures {unknown}")
    return Config(
        size=args.size,
        seed=args.seed,
        profile=profile,
        postgres=args.postgres.rstrip("/"),
        ours_db=args.ours_db,
        peer_db=args.peer_db,
        redis_url=args.redis_url,
        runs=args.runs,
        warmup=args.warmup,
        workers=args.workers,
        queue_url=args.queue_url,
        queue_rows_url=args.queue_rows_url,
        ticket_url=args.ticket_url,
        search_url=args.search_url,
        dashboard_url=args.dashboard_url,
        api_url=args.api_url,
        api_tickets=args.api_tickets,
        portal_paths=[p for p in args.portal_paths.split(",") if p],
        sla_open=args.sla_open,
        inbound_command=args.inbound_command,
        memory_requests=args.memory_requests,
        load_steps=[int(s) for s in args.load_steps.split(",") if s],
        load_step_seconds=args.load_step_seconds,
        peer=not args.no_peer,
        only=[s for s in args.only.split(",") if s],
        results=args.results,
    )


def _stop_on_signal(signum: int, frame: object) -> None:
    # SystemExit unwinds through main()'s finally: every server started is stopped.
    raise SystemExit(f"stopped by signal {signum}")


def main(argv: list[str] | None = None) -> int:
    cfg = parse(argv)
    signal.signal(signal.SIGTERM, _stop_on_signal)
    signal.signal(signal.SIGINT, _stop_on_signal)
    cfg.ours_port, cfg.smtp_port = free_port(), free_port()
    started_at = datetime.now(tz=UTC)
    machine_before = report.machine()
    processes: list[Process] = []
    results: dict[str, Any] = {}
    marks: dict[str, int] = {}
    try:
        ours_marker = prepare_ours(cfg)
        picks = choose(cfg)
        results["picks"] = {
            "agent": picks.agent_email,
            "department_id": picks.department_id,
            "long_ticket": dict(zip(("number", "id", "entries"), picks.long_ticket, strict=True)),
            "short_ticket": dict(zip(("number", "id", "entries"), picks.short_ticket, strict=True)),
        }
        peer_ok, peer_why = prepare_peer(cfg, ours_marker)
        manage(cfg, "collectstatic", "--noinput", "-v0")
        for side in ("ours", "peer"):
            (VAR / "capture" / side).mkdir(parents=True, exist_ok=True)
        marks = high_water(cfg)
        smtp = Process(
            name="smtp-sink",
            args=[
                str(BIN / "python"),
                "-m",
                "aiosmtpd",
                "-n",
                "-c",
                "aiosmtpd.handlers.Sink",
                "-l",
                f"127.0.0.1:{cfg.smtp_port}",
            ],
            env=cfg.env,
            cwd=ROOT,
            port=cfg.smtp_port,
        ).start()
        processes.append(smtp)
        web = gunicorn_ours(cfg, name="ours-web", workers=cfg.workers, port=cfg.ours_port)
        processes.append(web)
        celery = Process(
            name="ours-celery",
            args=[
                str(BIN / "celery"),
                "-A",
                "helpdesk",
                "worker",
                "--concurrency=2",
                "--without-gossip",
                "--without-mingle",
                "--loglevel=WARNING",
            ],
            env={**cfg.env, "DJANGO_SETTINGS_MODULE": "helpdesk.settings"},
            cwd=ROOT,
        ).start()
        processes.append(celery)
        # The floors replay the pages' SQL with the session settings the project's connections
        # have (helpdesk.settings: JIT off, work_mem 32 MB).
        ours_dsn = {**cfg.dsn(cfg.ours_db), "options": "-c jit=off -c work_mem=32MB"}
        ours = Site("ours", f"http://127.0.0.1:{cfg.ours_port}", ours_dsn, web, VAR / "capture" / "ours")
        ours.client.sign_in("/staff/login/", picks.agent_email, picks.agent_password)
        peer = None
        if peer_ok:
            peer_web = gunicorn_peer(cfg)
            processes.append(peer_web)
            peer = Site(
                "peer", f"http://127.0.0.1:{peer_web.port}", cfg.dsn(cfg.peer_db), peer_web, VAR / "capture" / "peer"
            )
            peer.client.sign_in("/login/", picks.agent_email, picks.agent_password)

        def start_gunicorn(*, name: str, workers: int) -> Process:
            process = gunicorn_ours(cfg, name=name, workers=workers)
            processes.append(process)
            return process

        bench = Bench(
            config=cfg,
            ours=ours,
            peer=peer,
            peer_why=peer_why,
            picks=picks,
            celery=celery,
            start_gunicorn=start_gunicorn,
        )
        wanted = cfg.only or [*FIGURES, "load"]
        figures: dict[str, Any] = {}
        results["figures"] = figures  # filled as it goes: an interrupted run still reports what it measured
        # The API figure comes last of the timed ones: the mail it queues is sent while the
        # load run goes on, as it would be in production, rather than under the page timings.
        for name, spec in FIGURES.items():
            if name == "memory" or name not in wanted:
                continue
            figures[name] = run_figure(spec.name, spec.title, spec.target, lambda spec=spec: spec.run(bench))
        api_works = figures.get("api_create", {}).get("status") == "measured"
        if "load" in wanted:
            try:
                results["load_run"] = load_run(bench, cfg, api_works)
            except Exception as exc:
                traceback.print_exc()
                results["load_run"] = {"status": "not measured", "why": f"error: {exc}"}
        if "memory" in wanted:
            spec = FIGURES["memory"]
            figures["memory"] = run_figure(spec.name, spec.title, spec.target, lambda: spec.run(bench))
    except BaseException as exc:
        results["interrupted"] = str(exc) or type(exc).__name__
        raise
    finally:
        for process in reversed(processes):
            process.stop()
        if marks:
            clean_up(cfg, marks)
        if results.get("figures"):
            _write(cfg, results, started_at, machine_before)
    return 0


def _write(cfg: Config, results: dict[str, Any], started_at: datetime, machine_before: dict[str, Any]) -> None:
    results["dataset"] = marker(cfg, cfg.ours_db)
    results["peer_dataset"] = marker(cfg, cfg.peer_db) if cfg.peer else {"status": "not loaded"}
    results.update(
        {
            "date": started_at.isoformat(timespec="seconds"),
            "size": cfg.size,
            "seed": cfg.seed,
            "seconds": round((datetime.now(tz=UTC) - started_at).total_seconds(), 1),
            "machine": machine_before,
            "load_average_after": report.machine()["load_average"],
            "versions": report.versions(cfg),
            "settings": {k: v for k, v in asdict(cfg).items() if k not in ("password",)},
            "server": "gunicorn sync workers, production settings (DEBUG off, SECURE_SSL_REDIRECT off) "
            "plus the query counter of bench/querycount.py",
        }
    )
    paths = report.write(results, Path(cfg.results), started_at)
    log(f"results: {', '.join(os.path.relpath(p, ROOT) for p in paths)}")


def run_figure(name: str, title: str, target: str, fn: Any) -> dict[str, Any]:
    log(f"figure {name}: {title}")
    started = time.monotonic()
    try:
        result = {"status": "measured", **fn()}
    except NotMeasured as why:
        result = {"status": "not measured", "why": str(why)}
    except Exception as exc:
        traceback.print_exc()
        result = {"status": "not measured", "why": f"error: {exc}"}
    result.update({"title": title, "target": target, "took_seconds": round(time.monotonic() - started, 1)})
    log(f"  {report.one_line(result)}")
    return result


if __name__ == "__main__":
    sys.exit(main())
