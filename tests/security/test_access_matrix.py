"""The access matrix: every URL pattern of the project, method, role and object, against the
declared policy of tests/security/policy.py.

For each role (anonymous; Karen and Ken, end users; a guest holding a secret link; John of
Support, Jane of Online Banking, Vic who may only look, and the admin) every route is called with
each method it takes, on each object its rule names (own and another's ticket, file, queue...),
and the answer is compared with the policy. Besides:
- a write that is refused changes nothing in the database;
- a GET to a route that only takes POST does not do what the POST does;
- no page, list, search, export or fragment shows a ticket (or an internal note) the caller may
  not see: every ticket's subject and every note carries a marker that must not appear;
- nothing answers 500.
Each request runs in a savepoint that is rolled back, so every call sees the same dataset.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

import pytest
from django.apps import apps
from django.db import connection, transaction
from django.http import HttpResponseBase, StreamingHttpResponse
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from tests.security.policy import DJANGO_ADMIN_PREFIX, POLICY, SEES, Rule, rule_for
from tests.security.world import MARK_NOTE, MARK_T1, MARK_T2, MARK_T3, ROLES, SIGNED_OUT, World

pytestmark = pytest.mark.django_db

LOGIN_PAGES = ("/login/", "/staff/login/", "/django-admin/login/")
DENIALS = {"login", "401", "403", "404", 401, 403, 404}
# Columns that reading a page may touch without changing anything anyone relies on.
VOLATILE = {"last_login", "last_used_at"}
SKIPPED_APPS = {"sessions", "contenttypes"}
CONVERTER = re.compile(r"<(?:(\w+):)?(\w+)>|\(\?P<(\w+)>[^)]*\)")


@dataclass(frozen=True)
class Route:
    pattern: str  # as written in the URLconf, joined with its parents'
    name: str | None


def _walk(patterns: list[Any], prefix: str = "", namespace: str = "") -> Iterator[Route]:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            inner = namespace
            if entry.namespace:
                inner = f"{namespace}:{entry.namespace}" if namespace else entry.namespace
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern), inner)
        elif isinstance(entry, URLPattern):
            name = f"{namespace}:{entry.name}" if namespace and entry.name else entry.name
            yield Route(prefix + str(entry.pattern), name)


def project_routes() -> list[Route]:
    return list(_walk(get_resolver().url_patterns))


def test_every_route_of_the_project_has_a_declared_policy() -> None:
    routes = project_routes()
    missing = sorted(r.pattern for r in routes if rule_for(r.pattern) is None)
    assert not missing, f"Routes with no access policy (add them to tests/security/policy.py): {missing}"
    walked = {r.pattern for r in routes}
    stale = sorted(set(POLICY) - walked)
    assert not stale, f"Policy entries for routes that no longer exist: {stale}"
    # The walk reaches every part of the project, the API routers and the Django admin included.
    for expected in ("api/v1/^tickets/$", "api/v1/^sla-plans/$", "staff/tickets/<int:number>/lock/", "t/<str:token>/"):
        assert expected in walked
    assert sum(1 for r in walked if r.startswith(DJANGO_ADMIN_PREFIX)) > 20


# ---------------------------------------------------------------- calling a route


@cache
def _table_queries() -> dict[str, str]:
    quote = connection.ops.quote_name
    queries = {}
    for model in apps.get_models():
        meta = model._meta
        if meta.app_label in SKIPPED_APPS or not meta.managed or meta.proxy:
            continue
        columns = ", ".join(quote(f.column) for f in meta.concrete_fields if f.attname not in VOLATILE)
        queries[meta.label] = f"SELECT {columns} FROM {quote(meta.db_table)} ORDER BY {quote(meta.pk.column)}"
    return queries


def db_state() -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table the product writes, but for columns that only record use
    (plain SQL: this runs before and after every refused write)."""
    state = {}
    with connection.cursor() as cursor:
        for label, sql in _table_queries().items():
            cursor.execute(sql)
            state[label] = [
                tuple(bytes(v) if isinstance(v, memoryview) else v for v in row) for row in cursor.fetchall()
            ]
    return state


def _state_difference(before: dict[str, list[Any]], after: dict[str, list[Any]]) -> str:
    changed = [label for label in before if before[label] != after.get(label)]
    return ", ".join(changed)


def url_for(route: Route, rule: Rule, world: World, obj: str) -> str:
    if rule.path:
        return rule.path
    kwargs = rule.kwargs(world, obj)
    names = [m.group(2) or m.group(3) for m in CONVERTER.finditer(route.pattern)]
    for name in names:  # the Django admin's generated routes: the admin's own row is one that exists
        kwargs.setdefault(name, "tickets" if name == "app_label" else str(world.users["admin"].pk))
    if route.name:
        url = reverse(route.name, kwargs=kwargs)
    else:
        url = "/" + CONVERTER.sub(lambda m: str(kwargs[m.group(2) or m.group(3)]), route.pattern)
    return url + rule.query


def classify(response: HttpResponseBase) -> str:
    status = response.status_code
    if status >= 500:
        return "500"
    if 300 <= status < 400:
        location = response.get("Location", "")
        path = location.split("?")[0].split("://", 1)[-1]
        path = path[path.find("/") :] if "://" in location else path
        return "login" if path in LOGIN_PAGES else "ok"
    if status in (401, 403, 404, 405, 429):
        return str(status)
    return "ok"


def matches(expected: str | int, response: HttpResponseBase) -> bool:
    if isinstance(expected, int):
        return response.status_code == expected
    return classify(response) == expected


def body_text(response: HttpResponseBase) -> str:
    if response.get("Content-Disposition", "").startswith("attachment") and "csv" not in response.get(
        "Content-Type", ""
    ):
        return ""  # a file download: its bytes are the file
    if isinstance(response, StreamingHttpResponse):
        raw = b"".join(response.streaming_content)  # type: ignore[arg-type]
    else:
        raw = getattr(response, "content", b"")
    return raw.decode("utf-8", "replace")


@dataclass
class Matrix:
    role: str
    client: Client
    world: World
    cases: int = 0

    def call(self, method: str, url: str, rule: Rule, data: dict[str, Any]) -> HttpResponseBase:
        with transaction.atomic():
            if method == "GET":
                response = self.client.get(url)
            elif rule.api:
                response = self.client.generic(method, url, json.dumps(data), content_type="application/json")
            else:
                response = self.client.generic(method, url, _form_encode(data), content_type=FORM)
            body_text(response)  # streamed bodies are read inside the savepoint
            transaction.set_rollback(True)
        return response


FORM = "application/x-www-form-urlencoded"


def _form_encode(data: dict[str, Any]) -> str:
    from urllib.parse import urlencode

    return urlencode(data, doseq=True)


def _client_for(role: str, world: World) -> Client:
    client = Client()
    if role == "guest":
        client.get(reverse("portal:link", kwargs={"token": world.token}))
    elif role not in SIGNED_OUT:
        client.force_login(world.users[role])
    return client


def _markers_hidden_from(role: str, world: World) -> set[str]:
    return {MARK_T1, MARK_T2, MARK_T3, MARK_NOTE} - world.visible_markers(role)


def _run(matrix: Matrix, route: Route, rule: Rule, failures: list[str]) -> None:
    role, world = matrix.role, matrix.world
    hidden = _markers_hidden_from(role, world)
    for obj in rule.objects:
        url = url_for(route, rule, world, obj)
        if role != "guest" and "<str:token>" in route.pattern:
            url = url.replace(world.token, "x" * 43)  # not the holder: a link that is not one
        methods = list(rule.methods)
        probe_get = "GET" not in methods
        for method in [*methods, *(["GET"] if probe_get else [])]:
            is_probe = probe_get and method == "GET"
            expected = rule.gate(role, "POST" if is_probe else method, obj)
            # A refused write must change nothing (a GET is expected to change nothing anyway).
            denial = is_probe or (method != "GET" and expected in DENIALS)
            data = rule.body(world, obj, role) if rule.body and method != "GET" else {}
            before = db_state() if denial else None
            where = f"{role:9} {method:6} {route.pattern} [{obj or '-'}] {url}"
            matrix.cases += 1
            try:
                response = matrix.call(method, url, rule, data)
            except Exception as error:
                failures.append(f"{where}: raised {error!r}")
                continue
            got = f"{classify(response)} ({response.status_code})"
            if is_probe:
                # Refused, or sent elsewhere (agents go from the portal to the staff panel); never
                # served as if it had been posted. That it changed nothing is checked below.
                if 200 <= response.status_code < 300:
                    failures.append(f"{where}: a GET to a POST route answered {got}")
            elif not matches(expected, response):
                failures.append(f"{where}: expected {expected}, got {got}")
            if before is not None:
                changed = _state_difference(before, db_state())
                if changed:
                    failures.append(f"{where}: refused, yet changed {changed}")
            if method == "GET" and response.status_code == 200:
                text = body_text(response)
                leaked = sorted(m for m in hidden if m in text)
                if leaked:
                    failures.append(f"{where}: shows {leaked}, which {role} may not see")


@pytest.mark.parametrize("role", ROLES)
def test_each_role_gets_exactly_what_the_policy_declares(role: str, world: World, settings: Any) -> None:
    # Hundreds of calls from one address: the API's rate limits are not what is tested here.
    settings.API_THROTTLE_ANON = ""
    settings.API_THROTTLE_USER = ""
    routes = sorted(project_routes(), key=lambda r: (rule_for(r.pattern) or Rule(lambda *a: "ok")).signs_out)
    matrix = Matrix(role=role, client=_client_for(role, world), world=world)
    failures: list[str] = []
    for route in routes:
        rule = rule_for(route.pattern)
        assert rule is not None, route.pattern
        _run(matrix, route, rule, failures)
        if rule.signs_out:
            matrix.client = _client_for(role, world)
    print(f"\naccess matrix: {role}: {matrix.cases} calls on {len(routes)} routes")
    assert not failures, f"{len(failures)} of {matrix.cases} calls broke the policy:\n" + "\n".join(failures)


# ---------------------------------------------------------------- counts and lists


@pytest.mark.parametrize("name", ["john", "jane", "viewer", "admin"])
def test_queue_counts_dashboards_and_exports_count_only_what_the_agent_sees(client, world, name) -> None:
    seen = {world.ticket(t).number for t in SEES[name]}
    departments = {world.ticket(t).department.name for t in SEES[name]}
    client.force_login(world.users[name])
    page = client.get(reverse("staff:queue", args=["all"]))
    counts = {q["key"]: q["count"] for q in page.context["queues"]}
    assert counts["all"] == counts["open"] == len(seen)
    assert {t.number for t in page.context["page"].object_list} == seen
    board = client.get(reverse("staff:dashboard")).context["board"]
    assert {row.department for row in board.backlog} == departments
    assert sum(row.total for row in board.backlog) == len(seen)
    backlog = b"".join(client.get(reverse("staff:dashboard_export", args=["backlog"])).streaming_content).decode()
    for department in {"Support", "Online Banking"} - departments:
        assert department not in backlog
    export = b"".join(client.get(reverse("staff:queue_export", args=["all"])).streaming_content).decode()
    assert {int(line.split(",")[0]) for line in export.splitlines()[1:]} == seen
    api = client.get("/api/v1/tickets/").json()
    assert api["count"] == len(seen) and {t["number"] for t in api["results"]} == seen


@pytest.mark.parametrize("name", ["karen", "ken"])
def test_my_tickets_and_the_api_count_only_the_users_own(client, world, name) -> None:
    seen = {world.ticket(t).number for t in SEES[name]}
    client.force_login(world.users[name])
    page = client.get(reverse("portal:tickets"), {"status": "all"})
    assert page.context["counts"] == {"open": len(seen), "closed": 0, "all": len(seen)}
    assert {t.number for t in page.context["page"].object_list} == seen
    api = client.get("/api/v1/tickets/").json()
    assert api["count"] == len(seen) and {t["number"] for t in api["results"]} == seen
    # A note's words find nothing; nor does another's ticket's number.
    for q in (MARK_NOTE, str(world.t3.number), f"#{world.t3.number}"):
        assert list(client.get(reverse("portal:tickets"), {"status": "all", "q": q}).context["page"].object_list) == []
        assert client.get("/api/v1/tickets/", {"q": q}).json()["count"] == 0
    thread = client.get(f"/api/v1/tickets/{world.ticket(next(iter(SEES[name]))).number}/thread/").json()
    assert all(item["type"] == "entry" and item["kind"] != "note" for item in thread)
