"""The OpenAPI schema, its docs page, and schemathesis against every operation: generated
requests, authenticated as an agent, an end user and an admin, must never get a server error
nor an answer that breaks the schema."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core import signals
from django.core.cache import cache
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import Client
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts.models import User
from api.services import api_token_issue
from tests.factories import ticket_open

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# A couple of minutes for the whole run on a shared 2-core machine; raise it locally to dig.
EXAMPLES = int(os.environ.get("API_FUZZ_EXAMPLES", "12"))


def test_the_schema_is_served_as_openapi_3_without_signing_in(db: None) -> None:
    response = Client().get("/api/v1/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert "/api/v1/tickets/{number}/replies/" in schema["paths"]
    assert "tokenAuth" in schema["components"]["securitySchemes"]


def test_the_docs_page_loads_its_assets_from_the_site_and_no_inline_script(db: None) -> None:
    response = Client().get("/api/v1/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<script>" not in html and "<style>" not in html
    assert "cdn" not in html.lower()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    script = Client().get("/api/v1/docs/?script=")
    assert script.status_code == 200
    assert "/api/v1/schema/" in script.content.decode()


@pytest.fixture
def _connection_kept() -> Iterator[None]:
    """Calls go through the real WSGI app, whose end-of-request signal closes a connection
    found inside a transaction: that would end the test's own. Django's test client does
    the same as this."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def world(_connection_kept: None, seed: None, karen: User, ken: User, settings: Any) -> dict[str, str]:
    """The seed cast with a ticket each for Karen and Ken, and a token per persona."""
    # Throttles would answer 429 to a fuzzer; they are tested on their own.
    settings.API_THROTTLE_USER = settings.API_THROTTLE_ANON = settings.API_THROTTLE_LOGIN = ""
    cache.clear()
    ticket_open(karen, "Entire mobile/online banking system is down")
    ticket_open(ken, "Excel not working")
    return {
        email.split("@")[0]: api_token_issue(user=User.objects.get(email=email))[1]
        for email in ("john@example.com", "karen@example.com", "admin@example.com")
    }


# Read through the WSGI app at collection (the schema needs no database); every call goes
# through the same app, inside the test's transaction.
schema = schemathesis.openapi.from_wsgi("/api/v1/schema/", get_wsgi_application())


FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    # Generated cases only: the "coverage" phase builds thousands of explicit cases at collection.
    phases=[Phase.generate],
    suppress_health_check=list(HealthCheck),
)


@pytest.mark.django_db
@schema.parametrize()
@FUZZ
def test_every_operation_as_an_agent(case: Any, world: dict[str, str]) -> None:
    case.call_and_validate(headers={"Authorization": f"Token {world['john']}"}, checks=CHECKS)


@pytest.mark.django_db
@schema.parametrize()
@FUZZ
def test_every_operation_as_an_end_user(case: Any, world: dict[str, str]) -> None:
    case.call_and_validate(headers={"Authorization": f"Token {world['karen']}"}, checks=CHECKS)


@pytest.mark.django_db
@schema.parametrize()
@FUZZ
def test_every_operation_as_an_admin(case: Any, world: dict[str, str]) -> None:
    case.call_and_validate(headers={"Authorization": f"Token {world['admin']}"}, checks=CHECKS)
