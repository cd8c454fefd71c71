"""Counts each request's SQL for the benchmark: the X-Bench-Queries and X-Bench-Db-Ms headers.

Installed only by the benchmark's settings (bench/server_settings.py for the project, the
peer's settings when BENCH_QUERY_COUNT is set), outermost, so that the session and user
lookups count too. With BENCH_CAPTURE_DIR set, a request carrying `X-Bench-Capture: NAME`
also writes its statements, parameters bound, to NAME.json there: the harness replays them
raw through psycopg2 as the page's floor. Imports Django alone: both servers load it.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.db import connection
from django.http import HttpRequest, HttpResponse

NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")


class _Recorder:
    def __init__(self, capture: bool) -> None:
        self.count = 0
        self.seconds = 0.0
        self.capture = capture
        self.statements: list[str] = []

    def __call__(self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds += time.perf_counter() - started
            self.count += 1
            if self.capture and not many:
                raw = getattr(context["cursor"], "cursor", None)
                if raw is not None and hasattr(raw, "mogrify"):
                    text = raw.mogrify(sql, params)
                    self.statements.append(text.decode() if isinstance(text, bytes) else text)


class QueryCountMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        folder = os.environ.get("BENCH_CAPTURE_DIR", "")
        self.capture_dir = Path(folder) if folder else None

    def __call__(self, request: HttpRequest) -> HttpResponse:
        name = request.headers.get("X-Bench-Capture", "")
        capture = self.capture_dir is not None and bool(NAME.match(name))
        recorder = _Recorder(capture)
        with connection.execute_wrapper(recorder):
            response = self.get_response(request)
        response["X-Bench-Queries"] = str(recorder.count)
        response["X-Bench-Db-Ms"] = f"{recorder.seconds * 1000:.3f}"
        if capture and self.capture_dir is not None:
            (self.capture_dir / f"{name}.json").write_text(json.dumps(recorder.statements))
        return response
