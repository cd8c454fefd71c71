"""Real processes for the tests that need them: a Celery worker, the web application under
gunicorn and Django commands, each pointed at this test's database (the private Redis is
tests.support.Redis).

Every process is started in its own process group, so that a kill (`kill -9`, as a crash
would) takes its children with it, and every fixture that starts one stops it after.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.db import connection

from tests.support import free_port, port_open

ROOT = Path(__file__).resolve().parent.parent


def database_url() -> str:
    """The URL of the database this test uses (the test database, not the configured one)."""
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    return f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def child_env(media_root: Path, **extra: str) -> dict[str, str]:
    """The environment of a child process working on this test's database and media."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_CURRENT_TEST", "PYTEST_XDIST_WORKER")}
    env.update(
        DEBUG="true",
        DATABASE_URL=database_url(),
        MEDIA_ROOT=str(media_root),
        CELERY_TASK_ALWAYS_EAGER="false",
    )
    env.update(extra)
    return env


def kill_group(process: subprocess.Popen[bytes] | subprocess.Popen[str] | None) -> None:
    """kill -9 a process and everything it started (its process group)."""
    if process is None or process.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def start(args: list[str], env: dict[str, str], **kwargs: object) -> subprocess.Popen[bytes]:
    """A child in its own process group; output is dropped unless asked for."""
    kwargs.setdefault("stdout", subprocess.DEVNULL)
    kwargs.setdefault("stderr", subprocess.DEVNULL)
    return subprocess.Popen(args, cwd=ROOT, env=env, start_new_session=True, **kwargs)  # type: ignore[call-overload,no-any-return]


def manage(*args: str) -> list[str]:
    return [sys.executable, "manage.py", *args]


class Worker:
    """`celery -A helpdesk worker`: kill() is kill -9 of the worker and its pool at once."""

    def __init__(self, env: dict[str, str], concurrency: int = 2, log: Path | None = None) -> None:
        self.env = env
        self.concurrency = concurrency
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        output = self.log.open("ab") if self.log else subprocess.DEVNULL
        self.process = start(
            [sys.executable, "-m", "celery", "-A", "helpdesk", "worker", "-c", str(self.concurrency),
             "-l", "warning", "--without-gossip", "--without-mingle", "--without-heartbeat"],
            env=self.env, stdout=output, stderr=output,
        )  # fmt: skip

    def kill(self) -> None:
        kill_group(self.process)
        self.process = None

    @property
    def exited(self) -> bool:
        return self.process is not None and self.process.poll() is not None


class AppServer:
    """The web application under gunicorn on a free loopback port, as in production (DEBUG
    off, plain HTTP allowed for the test)."""

    def __init__(self, env: dict[str, str], workers: int = 2) -> None:
        self.port = free_port()
        self.env = {
            **env,
            "DEBUG": "false",
            "TESTING": "true",
            "SECRET_KEY": "reliability-only-secret-key-0123456789abcdefghijklmnop",
            "ALLOWED_HOSTS": "127.0.0.1",
            "SITE_URL": f"http://127.0.0.1:{self.port}",
            "SECURE_SSL_REDIRECT": "false",
            "SESSION_COOKIE_SECURE": "false",
            "CSRF_COOKIE_SECURE": "false",
            "LOG_LEVEL": "CRITICAL",
        }
        self.workers = workers
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = start(
            [sys.executable, "-m", "gunicorn", "helpdesk.wsgi", "-b", f"127.0.0.1:{self.port}",
             "-w", str(self.workers), "--timeout", "60", "--log-level", "warning"],
            env=self.env,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while not port_open("127.0.0.1", self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("gunicorn did not start")
            time.sleep(0.1)

    def stop(self) -> None:
        kill_group(self.process)
        self.process = None


# ---------------------------------------------------------------- the outbox with a real broker


def resend_until_all_sent(timeout: float) -> bool:
    """What beat does every minute, every second: the resender re-enqueues lost rows.
    True once every notification is sent."""
    from notifications.models import Notification, NotificationState

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not Notification.objects.exclude(state=NotificationState.SENT).exists():
            return True
        resend_pending_once()
        time.sleep(1)
    return False


def resend_pending_once() -> None:
    """One run of the resender, as beat starts it; while the broker is down it fails (and the
    next run tries again)."""
    from notifications.tasks import resend_pending

    with contextlib.suppress(Exception):
        resend_pending.apply_async(retry=False)


def delivered_copies(messages: list[bytes]) -> dict[str, int]:
    """How many copies of each Message-ID the SMTP server accepted."""
    from collections import Counter
    from email import message_from_bytes, policy

    return dict(Counter(str(message_from_bytes(raw, policy=policy.default)["Message-ID"]) for raw in messages))
