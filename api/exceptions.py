"""One mapping from what the ticket services refuse to HTTP answers, for every API view.

ActionNotAllowed -> 403 (the views look the ticket up through the selectors first, so a
ticket the caller may not see is already a 404), InvalidTransition and StaleTicket -> 409,
InvalidInput -> 400 naming its field. A database that is down is 503, never 400 or 500.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, InterfaceError, OperationalError
from django.db.models import ProtectedError
from django.http import Http404
from rest_framework import status
from rest_framework.exceptions import APIException
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from tickets.exceptions import ActionNotAllowed, InvalidInput, InvalidTransition, StaleTicket

logger = logging.getLogger(__name__)

# Errors the service layer names with its own argument names; the API calls the field otherwise.
FIELD_NAMES = {"reason": "note"}


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The change conflicts with the ticket's state."
    default_code = "conflict"


class Unavailable(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "Temporarily unavailable; try again shortly."
    default_code = "unavailable"


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    response = _response_for(exc, context)
    if response is not None:
        # Roll back whatever the request changed before the refusal (PATCH applies several services).
        set_rollback()
    return response


def _response_for(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, InvalidInput):
        field = FIELD_NAMES.get(exc.field, exc.field)
        return Response({field: [exc.message]}, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, ActionNotAllowed):
        return Response({"detail": str(exc)}, status=status.HTTP_403_FORBIDDEN)
    if isinstance(exc, InvalidTransition | StaleTicket):
        return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
    if isinstance(exc, IntegrityError):
        logger.info("API: integrity error answered 409: %s", exc)
        return Response({"detail": "This conflicts with an existing record."}, status=status.HTTP_409_CONFLICT)
    if isinstance(exc, ProtectedError):
        return Response(
            {"detail": "This is in use (by tickets or other settings); deactivate it instead."},
            status=status.HTTP_409_CONFLICT,
        )
    if isinstance(exc, DjangoValidationError):
        if hasattr(exc, "error_dict"):
            return Response(
                {field: [str(m) for e in errors for m in e.messages] for field, errors in exc.error_dict.items()},
                status=status.HTTP_400_BAD_REQUEST,
            )
        return Response({"non_field_errors": exc.messages}, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, OperationalError | InterfaceError):
        logger.error("API: database unavailable: %s", exc)
        response = Response({"detail": Unavailable.default_detail}, status=status.HTTP_503_SERVICE_UNAVAILABLE)
        response["Retry-After"] = "30"
        return response
    if isinstance(exc, Http404):
        return Response({"detail": "Not found."}, status=status.HTTP_404_NOT_FOUND)
    if isinstance(exc, PermissionDenied):
        return Response({"detail": "You may not do this."}, status=status.HTTP_403_FORBIDDEN)
    return drf_exception_handler(exc, context)
