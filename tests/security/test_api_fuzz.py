"""The REST API under schemathesis, for its authorization: every operation that declares a
security requirement enforces it. With a persona's valid token a generated request may
succeed; the same request with the credentials removed, or with made-up ones, must not
(schemathesis' `ignored_auth` check sends those probes itself). Without credentials, with a
revoked token, a made-up one or a password in Basic auth, no protected operation answers 2xx. Invalid requests (schemathesis' negative mode) never get a
server error. Bounded: a few examples per operation (API_AUTH_FUZZ_EXAMPLES).
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, Phase, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import ignored_auth

from accounts.models import User
from api.services import api_token_issue, api_token_revoke

EXAMPLES = int(os.environ.get("API_AUTH_FUZZ_EXAMPLES", "3"))


@pytest.fixture
def tokens(api_tokens: dict[str, str]) -> dict[str, str]:
    tokens = dict(api_tokens)
    revoked, tokens["revoked"] = api_token_issue(user=User.objects.get(email="john@example.com"))
    api_token_revoke(token=revoked)
    return tokens


schema = schemathesis.openapi.from_wsgi("/api/v1/schema/", get_wsgi_application())
negative = schemathesis.openapi.from_wsgi("/api/v1/schema/", get_wsgi_application())
negative.config.generation.update(modes=[GenerationMode.NEGATIVE])

FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.generate],
    suppress_health_check=list(HealthCheck),
)


def protected_operation(operation: Any) -> bool:
    """Whether the operation's schema demands credentials (no anonymous alternative)."""
    raw = operation.definition.raw
    requirements = raw.get("security", operation.schema.raw_schema.get("security", []))
    return bool(requirements) and {} not in requirements


def protected(case: Any) -> bool:
    return protected_operation(case.operation)


@pytest.mark.django_db
@schema.parametrize()
@FUZZ
def test_every_operation_enforces_its_authorization(case: Any, tokens: dict[str, str]) -> None:
    # With a valid token the request may succeed; ignored_auth then sends it again without
    # credentials and with made-up ones, and fails if either succeeds too.
    for persona in ("karen", "admin"):
        case.call_and_validate(headers={"Authorization": f"Token {tokens[persona]}"}, checks=[ignored_auth])
    refused = (401, 403, 404, 405)
    for credentials in ("", f"Token {tokens['revoked']}", "Token " + "A" * 43, "Basic a2FyZW46eA=="):
        response = case.call(headers={"Authorization": credentials})
        assert response.status_code < 500, (case.operation.label, credentials[:12], response.status_code)
        if protected(case):
            assert response.status_code in refused, (case.operation.label, credentials[:12], response.status_code)


@pytest.mark.django_db
@negative.parametrize()
@FUZZ
def test_invalid_requests_never_get_a_server_error(case: Any, tokens: dict[str, str]) -> None:
    case.call_and_validate(headers={"Authorization": f"Token {tokens['john']}"}, checks=[not_a_server_error])


def test_the_schema_demands_credentials_everywhere_but_signing_in() -> None:
    """What the checks above lean on: the schema declares which operations need credentials."""
    operations = [result.ok() for result in schema.get_all_operations()]
    open_ones = {op.label for op in operations if not protected_operation(op)}
    assert len(operations) > 50
    assert open_ones <= {"POST /api/v1/auth/token/", "DELETE /api/v1/auth/token/"}
