"""Shared by the API tests: clients signed in as the seed cast, and small builders."""

from __future__ import annotations

from rest_framework.test import APIClient

from accounts.models import User
from api.services import api_token_issue


def client_as(user: User | None) -> APIClient:
    """A client sending a real token of `user` (None: anonymous)."""
    client = APIClient()
    if user is not None:
        _, key = api_token_issue(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        # The first use records last_used_at (a write); query counts are taken after it.
        client.get("/api/v1/me/")
    return client


def test_a_token_client_is_signed_in_as_its_user(karen: User) -> None:
    response = client_as(karen).get("/api/v1/me/")
    assert response.status_code == 200
    assert response.json()["email"] == "karen@example.com"
