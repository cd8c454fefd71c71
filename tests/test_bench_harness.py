"""Parts of the benchmark harness that need no servers: the query counter the servers run
with, the load run's per-step figures, and the results table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.db import connection

from bench import report
from bench.run import parse

pytestmark = pytest.mark.django_db


@pytest.fixture
def counted(settings, tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv("BENCH_CAPTURE_DIR", str(tmp_path))
    settings.MIDDLEWARE = ["bench.querycount.QueryCountMiddleware", *settings.MIDDLEWARE]
    return tmp_path


def test_the_counter_tells_each_response_how_many_queries_it_took(client, john, counted: Path) -> None:
    client.force_login(john)

    response = client.get("/staff/")

    assert response.status_code == 200
    assert int(response["X-Bench-Queries"]) >= 2  # the session and the user at least
    assert float(response["X-Bench-Db-Ms"]) >= 0


def test_the_counter_writes_the_statements_of_a_request_that_asks_for_them(client, john, counted: Path) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("statements are bound with psycopg2's mogrify")
    client.force_login(john)

    response = client.get("/staff/", headers={"X-Bench-Capture": "queue-page"})

    statements = json.loads((counted / "queue-page.json").read_text())
    assert len(statements) == int(response["X-Bench-Queries"])
    assert all("%s" not in s for s in statements)


def test_the_counter_ignores_a_capture_name_that_could_be_a_path(client, john, counted: Path) -> None:
    client.force_login(john)

    client.get("/staff/", headers={"X-Bench-Capture": "../escape"})

    assert list(counted.iterdir()) == []


def test_the_load_run_is_cut_into_steps_with_their_percentiles() -> None:
    recorded = {
        "started": 1000.0,
        "samples": [[1000.5 + i * 0.09, float(i), i % 10 != 0, "staff /staff/"] for i in range(100)]
        + [[1010.5 + i * 0.05, 200.0, True, "api ticket create"] for i in range(100)],
    }

    steps = report.load_steps(recorded, users=[2, 4], seconds=10)

    assert [s["users"] for s in steps] == [2, 4]
    assert steps[0]["requests"] == 100 and steps[0]["errors"] == 10
    assert steps[0]["requests_per_second"] == 10.0
    assert steps[0]["p50_ms"] == 49.5 and steps[0]["p99_ms"] == 99.0
    assert steps[1] == {
        "users": 4,
        "requests": 100,
        "requests_per_second": 10.0,
        "errors": 0,
        "p50_ms": 200.0,
        "p95_ms": 200.0,
        "p99_ms": 200.0,
        "by_request": {"api ticket create": 100},
    }


def test_the_table_says_why_a_figure_was_not_measured() -> None:
    results = {
        "size": 2000,
        "date": "2026-01-01T00:00:00+00:00",
        "machine": {"cores": 2, "cpu": "test", "memory_gb": 24, "load_average": [1, 1, 1]},
        "versions": {"python": "3.11"},
        "settings": {"profile": "quick"},
        "dataset": {"tickets": 2000, "seconds": 9.5},
        "figures": {
            "dashboard": {"status": "not measured", "why": "GET /staff/dashboard/ answered 404", "target": "≤ 150 ms"},
        },
    }

    text = report.markdown(results)

    assert "not measured: GET /staff/dashboard/ answered 404" in text
    assert "Profile: quick" in text
    assert "n/a at this size" in text


def test_small_runs_take_the_quick_profile_and_big_ones_the_full_one() -> None:
    assert parse(["--size", "2000"]).profile == "quick"
    assert parse(["--size", "2000"]).memory_requests == 500
    assert parse(["--size", "1000000"]).profile == "full"
    assert parse(["--size", "1000000"]).memory_requests == 10_000
    assert parse(["--size", "2000", "--full", "--runs", "7"]).runs == 7
