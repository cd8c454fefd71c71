"""The OpenAPI schema, its docs page, and schemathesis against every operation: generated
requests, authenticated as an agent, an end user and an admin, must never get a server error
nor an answer that breaks the schema."""

from __future__ import annotations

import os
from typing import Any

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from django.test import Client
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

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
def test_every_operation_as_an_agent(case: Any, api_tokens: dict[str, str]) -> None:
    case.call_and_validate(headers={"Authorization": f"Token {api_tokens['john']}"}, checks=CHECKS)


@pytest.mark.django_db
@schema.parametrize()
@FUZZ
def test_every_operation_as_an_end_user(case: Any, api_tokens: dict[str, str]) -> None:
    case.call_and_validate(headers={"Authorization": f"Token {api_tokens['karen']}"}, checks=CHECKS)


@pytest.mark.django_db
@schema.parametrize()
@FUZZ
def test_every_operation_as_an_admin(case: Any, api_tokens: dict[str, str]) -> None:
    case.call_and_validate(headers={"Authorization": f"Token {api_tokens['admin']}"}, checks=CHECKS)
