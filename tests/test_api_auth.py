"""Signing in to the REST API: tokens, their revocation, sessions, limits, and the errors."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from accounts.models import User
from api.models import ApiToken
from tests.conftest import PASSWORD
from tests.test_api_helpers import client_as

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _empty_counters() -> None:
    cache.clear()


def test_karen_exchanges_her_password_for_a_token_and_uses_it(karen: User) -> None:
    client = APIClient()
    response = client.post("/api/v1/auth/token/", {"email": "Karen@Example.com", "password": PASSWORD}, format="json")
    assert response.status_code == 200
    token = response.json()["token"]
    assert response.json()["user"]["email"] == "karen@example.com"
    assert ApiToken.objects.get(user=karen).key_hash != token  # only a hash is kept
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/v1/me/").json()["name"] == "Karen Doe"


def test_a_wrong_password_and_an_unknown_address_get_the_same_answer(karen: User) -> None:
    client = APIClient()
    wrong = client.post("/api/v1/auth/token/", {"email": "karen@example.com", "password": "nope"}, format="json")
    unknown = client.post("/api/v1/auth/token/", {"email": "nobody@example.com", "password": "nope"}, format="json")
    assert wrong.status_code == unknown.status_code == 400
    assert wrong.json() == unknown.json() == {"non_field_errors": ["The email or the password is not right."]}


def test_missing_fields_get_400_naming_them(db: None) -> None:
    response = APIClient().post("/api/v1/auth/token/", {}, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"email", "password"}


def test_a_deactivated_user_cannot_get_a_token(karen: User) -> None:
    User.objects.filter(pk=karen.pk).update(is_active=False)
    response = APIClient().post(
        "/api/v1/auth/token/", {"email": "karen@example.com", "password": PASSWORD}, format="json"
    )
    assert response.status_code == 400


def test_deleting_the_token_revokes_it_and_only_it(john: User) -> None:
    first, second = client_as(john), client_as(john)
    assert first.delete("/api/v1/auth/token/").status_code == 204
    assert first.get("/api/v1/me/").status_code == 401
    assert second.get("/api/v1/me/").status_code == 200


def test_revoking_needs_a_token(john: User) -> None:
    assert APIClient().delete("/api/v1/auth/token/").status_code == 401


def test_token_sign_in_is_throttled_with_retry_after(karen: User, settings: object) -> None:
    settings.API_THROTTLE_LOGIN = "3/minute"  # type: ignore[attr-defined]
    client = APIClient()
    for _ in range(3):
        client.post("/api/v1/auth/token/", {"email": "karen@example.com", "password": "guess"}, format="json")
    response = client.post("/api/v1/auth/token/", {"email": "karen@example.com", "password": PASSWORD}, format="json")
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0


def test_guessing_one_account_from_many_addresses_is_throttled_too(karen: User, settings: object) -> None:
    settings.API_THROTTLE_LOGIN = "3/minute"  # type: ignore[attr-defined]
    for i in range(3):
        APIClient(REMOTE_ADDR=f"198.51.100.{i}").post(
            "/api/v1/auth/token/", {"email": "karen@example.com", "password": "guess"}, format="json"
        )
    response = APIClient(REMOTE_ADDR="198.51.100.99").post(
        "/api/v1/auth/token/", {"email": "karen@example.com", "password": PASSWORD}, format="json"
    )
    assert response.status_code == 429


def test_a_forged_forwarded_for_does_not_escape_the_limit(karen: User, settings: object) -> None:
    settings.API_THROTTLE_LOGIN = "2/minute"  # type: ignore[attr-defined]
    for i in range(2):
        APIClient(HTTP_X_FORWARDED_FOR=f"203.0.113.{i}").post(
            "/api/v1/auth/token/", {"email": f"nobody{i}@example.com", "password": "guess"}, format="json"
        )
    response = APIClient(HTTP_X_FORWARDED_FOR="203.0.113.77").post(
        "/api/v1/auth/token/", {"email": "other@example.com", "password": "guess"}, format="json"
    )
    assert response.status_code == 429


def test_signed_in_users_are_throttled_per_user(john: User, settings: object) -> None:
    client = client_as(john)
    settings.API_THROTTLE_USER = "2/minute"  # type: ignore[attr-defined]
    cache.clear()
    assert client.get("/api/v1/me/").status_code == 200
    assert client.get("/api/v1/me/").status_code == 200
    response = client.get("/api/v1/me/")
    assert response.status_code == 429
    assert "Retry-After" in response


def test_a_browser_session_works_and_needs_csrf_for_changes(john: User, karen: User) -> None:
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(john)
    assert client.get("/api/v1/me/").json()["email"] == "john@example.com"
    response = client.post("/api/v1/tickets/", {"subject": "x"}, format="json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]


def test_a_malformed_authorization_header_is_401(db: None) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token two parts")
    assert client.get("/api/v1/me/").status_code == 401


def test_malformed_json_is_400_not_500(john: User) -> None:
    response = client_as(john).post("/api/v1/tickets/", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert "JSON parse error" in response.json()["detail"]


def test_an_unsupported_media_type_is_415(john: User) -> None:
    response = client_as(john).post("/api/v1/tickets/", "<x/>", content_type="application/xml")
    assert response.status_code == 415


def test_a_database_that_is_down_is_503(john: User, monkeypatch: pytest.MonkeyPatch) -> None:
    from django.db import OperationalError

    client = client_as(john)

    def down(**kwargs: object) -> None:
        raise OperationalError("could not connect to server")

    monkeypatch.setattr("api.views.tickets_for_api", down)
    response = client.get("/api/v1/tickets/")
    assert response.status_code == 503
    assert response["Retry-After"]
