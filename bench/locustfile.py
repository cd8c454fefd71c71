"""The load run: portal, staff and API traffic at rising concurrency, on loopback only.

Started by bench/run.py in bench/.venv-load, configured through the environment:

    BENCH_PLAN   JSON: host (an http://127.0.0.1:PORT address), steps (users per step), step_seconds,
                 staff {cookies, paths}, portal {cookies, paths},
                 api {path, key} or null, tickets (paths of ticket pages), out (where samples go)

Each request is kept as (time, milliseconds, ok, name); the harness cuts them into steps.
The harness signs in once (an agent, an end user) and hands the session cookies over: the
simulated users of each kind share them, so that password hashing does not weigh on the steps.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import time
from typing import Any
from urllib.parse import urlsplit

from locust import HttpUser, LoadTestShape, between, events, task

PLAN: dict[str, Any] = json.loads(os.environ["BENCH_PLAN"])
if urlsplit(PLAN["host"]).hostname not in ("127.0.0.1", "localhost", "::1"):
    raise SystemExit("The load run targets loopback only.")
SAMPLES: list[tuple[float, float, bool, str]] = []
STARTED: list[float] = []
SUBJECTS = itertools.count(1)


@events.test_start.add_listener
def _started(**_: Any) -> None:
    STARTED.append(time.time())


@events.request.add_listener
def _record(request_type: str, name: str, response_time: float, response_length: int, exception: Any, **_: Any) -> None:
    SAMPLES.append((time.time(), response_time, exception is None, name))


@events.quitting.add_listener
def _write(**_: Any) -> None:
    with open(PLAN["out"], "w") as out:
        json.dump({"started": STARTED[0] if STARTED else 0, "samples": SAMPLES}, out)


class _Signed(HttpUser):
    abstract = True
    kind = ""
    wait_time = between(0.05, 0.25)

    def on_start(self) -> None:
        for name, value in PLAN[self.kind]["cookies"].items():
            self.client.cookies.set(name, value)


if PLAN.get("staff"):

    class Agent(_Signed):
        """An agent working the queue: the queue, then tickets from it."""

        kind = "staff"
        weight = 4

        @task(2)
        def queue(self) -> None:
            for path in PLAN["staff"]["paths"]:
                self.client.get(path, name=f"staff {path}")

        @task(3)
        def ticket(self) -> None:
            if PLAN["tickets"]:
                self.client.get(random.choice(PLAN["tickets"]), name="staff ticket page")


if PLAN.get("portal"):

    class Requester(_Signed):
        """An end user checking their tickets in the portal."""

        kind = "portal"
        weight = 3

        @task
        def portal(self) -> None:
            for path in PLAN["portal"]["paths"]:
                self.client.get(path, name=f"portal {path}")


if PLAN.get("api"):

    class Monitor(HttpUser):
        """A monitoring system opening tickets through the osTicket-compatible API."""

        weight = 2
        wait_time = between(0.1, 0.5)

        @task
        def open_ticket(self) -> None:
            n = next(SUBJECTS)
            self.client.post(
                PLAN["api"]["path"],
                data=json.dumps(
                    {
                        "name": "Monitoring",
                        "email": "monitoring@customers.example",
                        "subject": f"Load run alert {n}: disk usage high on srv-{n % 97:02d}",
                        "message": "Disk usage above 90 % for 10 minutes.",
                    }
                ),
                headers={"X-API-Key": PLAN["api"]["key"], "Content-Type": "application/json"},
                name="api ticket create",
            )


class Steps(LoadTestShape):
    """Rising concurrency: each step holds its number of users for step_seconds."""

    def tick(self) -> tuple[int, float] | None:
        elapsed = self.get_run_time()
        step = int(elapsed // PLAN["step_seconds"])
        if step >= len(PLAN["steps"]):
            return None
        users = PLAN["steps"][step]
        return users, float(users)
