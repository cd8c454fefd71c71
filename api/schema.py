"""OpenAPI generation: every operation documents the errors every operation can answer."""

from __future__ import annotations

from typing import Any, Literal

from drf_spectacular import openapi

ERRORS = {
    "400": "Bad input: `{field: [messages]}` naming each field (or `detail` for a body that cannot be parsed).",
    "401": "Not signed in, or the token is not valid.",
    "403": "Signed in, but not allowed to do this.",
    "404": "No such object, or not yours to see (the two are not told apart).",
    "409": "The ticket's state refuses this change, the ticket changed since you read it, or the object is in use.",
    "415": "The body's media type is not one this operation reads (JSON, or multipart form data for files).",
    "429": "Too many requests; wait for the seconds in Retry-After.",
    "503": "Temporarily unavailable (the database); try again after Retry-After.",
}
UNSAFE_ONLY = {"409", "415"}

ERROR_SCHEMA = {
    "type": "object",
    "additionalProperties": {},
    "example": {"detail": "Not found."},
}


class AutoSchema(openapi.AutoSchema):
    def _get_response_bodies(self, direction: Literal["request", "response"] = "response") -> dict[str, Any]:
        responses: dict[str, Any] = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        for code, description in ERRORS.items():
            if code in UNSAFE_ONLY and self.method in ("GET", "HEAD", "OPTIONS"):
                continue
            responses.setdefault(
                code, {"description": description, "content": {"application/json": {"schema": ERROR_SCHEMA}}}
            )
        return responses
