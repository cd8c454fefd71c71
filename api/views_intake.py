"""The osTicket-compatible intake: POST /api/tickets.json, .xml and .email (and the same
under /api/http.php/), answered as osTicket 1.18 answers them, so that existing monitoring
scripts and mail servers keep working unchanged.

Answers are plain text: 201 with the ticket number alone; 400 with the reasons; 401 with
osTicket's three texts. Mail servers map the status to their exit codes (201 -> 0, 400 -> 66,
401/403 -> 77, 415/416/417/501 -> 65, 503 -> 69, anything else -> 75 "retry later"), so a
temporary problem (the database down) answers 503, never 400 or 401.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError, InterfaceError, OperationalError, transaction
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

from api.intake import IntakeErrors, MalformedRequest, parse_json, parse_xml
from api.models import ApiKey
from api.services import IntakeTicket, api_key_touch, intake_ticket_create
from api.throttles import parse_rate
from helpdesk.network import client_ip
from tickets.attachments import files_removed_on_error
from tickets.exceptions import InvalidInput, StaleTicket, TicketActionError

logger = logging.getLogger(__name__)

KEY_REQUIRED = "Valid API key required"
KEY_INACTIVE = "API key not found/active or source IP not authorized"
KEY_NOT_AUTHORIZED = "API key not authorized"
VALIDATION_HEADER = "Unable to create new ticket: validation errors:"
# The names the services use for what the intake calls otherwise.
FIELD_NAMES = {"body": "message", "help_topic": "topicId", "requester": "email"}


def _text(status: int, body: str, **headers: str) -> HttpResponse:
    response = HttpResponse(body, status=status, content_type="text/plain; charset=utf-8")
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def _unavailable() -> HttpResponse:
    return _text(503, "Temporarily unable to create tickets; try again later", Retry_After="60")


def _key_check(request: HttpRequest, address: str) -> tuple[ApiKey | None, HttpResponse | None]:
    """The key of this request, or osTicket's 401. A key used from an address it is not
    bound to is not told apart from an unknown key (osTicket looks the key up by both)."""
    given = request.headers.get("X-API-Key", "").strip()
    if not given:
        return None, _text(401, KEY_REQUIRED)
    key = ApiKey.objects.filter(key_hash=ApiKey.hash_key(given)).first()
    if key is None or not key.allows_address(address):
        logger.info("intake: refused key %s… from %s", given[:4], address)
        return None, _text(401, KEY_REQUIRED)
    if not key.is_active:
        return None, _text(401, KEY_INACTIVE)
    if not key.can_create_tickets:
        return None, _text(401, KEY_NOT_AUTHORIZED)
    return key, None


def _throttled(key: ApiKey) -> int | None:
    """Seconds to wait when this key is over API_INTAKE_THROTTLE, else None.

    A fixed window in the cache (one atomic increment per request, cheap in Redis); a cache
    that is down does not stop tickets.
    """
    rate = parse_rate(settings.API_INTAKE_THROTTLE)
    if rate is None:
        return None
    count, seconds = rate
    try:
        window = int(time.time() // seconds)
        cache_key = f"intake:{key.pk}:{window}"
        try:
            used = cache.incr(cache_key)
        except ValueError:  # the window's first request: one more round trip, once per window
            cache.add(cache_key, 0, timeout=seconds + 1)
            used = cache.incr(cache_key)
    except Exception as exc:  # the cache is down: let the ticket in
        logger.warning("intake throttle skipped: %s", exc)
        return None
    if used > count:
        return max(1, int(seconds - time.time() % seconds))
    return None


def _validation_errors(errors: list[tuple[str, str]]) -> HttpResponse:
    lines = "\n".join(f"{field}: {message}" for field, message in errors)
    return _text(400, f"{VALIDATION_HEADER}\n{lines}")


def _create(parse: Callable[[bytes, str], IntakeTicket], request: HttpRequest, address: str) -> HttpResponse:
    try:
        body = request.body
    except RequestDataTooBig:
        return _text(413, "Request body too large")
    except OSError:
        return _text(400, "Unable to read request body")
    try:
        ticket_request = parse(body, address)
    except MalformedRequest as exc:
        return _text(400, str(exc))
    except IntakeErrors as exc:
        return _validation_errors(exc.errors)
    try:
        number = _committed(lambda: intake_ticket_create(request=ticket_request).number)
    except InvalidInput as exc:
        return _validation_errors([(FIELD_NAMES.get(exc.field, exc.field), exc.message)])
    except TicketActionError as exc:
        return _text(400, f"Unable to create new ticket: {exc}")
    return _text(201, str(number))


def _committed(create: Callable[[], int]) -> int:
    """Run `create` in a transaction; once it has committed, the ticket exists and its
    number is the answer even if an after-commit step (queueing mail on a broker that is
    down) fails: a client told otherwise would send it again and make a duplicate. Rows
    left pending are sent later by the resenders."""
    committed = threading.Event()
    number = 0
    try:
        with files_removed_on_error(), transaction.atomic():
            transaction.on_commit(committed.set)
            number = create()
    except Exception:
        if not committed.is_set():
            raise
        logger.exception("intake: ticket %s created; an after-commit step failed", number)
    return number


def _email(request: HttpRequest) -> HttpResponse:
    """A raw RFC 822 message, processed exactly as inbound mail (a new ticket or a reply)."""
    try:
        raw = request.body
    except RequestDataTooBig:
        return _text(413, "Request body too large")
    except OSError:
        return _text(400, "Unable to read email request")
    if not raw.strip():
        return _text(400, "Unable to read email request")
    try:
        from inbound.services import email_ingest
    except ImportError:
        logger.error("intake: inbound.services.email_ingest is not installed")
        return _unavailable()
    try:
        result = email_ingest(raw=raw, mailbox=None)
    except InvalidInput as exc:
        return _text(400, f"Unable to process email: {exc.message}")
    except StaleTicket:
        # The ticket changed under the reply: the mail server tries again in a moment.
        return _unavailable()
    except TicketActionError as exc:
        return _text(403, f"Unable to process email: {exc}")
    return email_answer(result)


def email_answer(result: Any) -> HttpResponse:
    """What a mail server is told of one message (see the module's exit-code mapping).

    created, appended, duplicate -> 201 with the ticket's number (an already seen message is
    acknowledged, never processed twice); ignored (an auto-reply, a loop, a bounce) and
    quarantined (kept raw for the admins) -> 201, so that the server neither retries nor
    bounces a message the help desk has dealt with (the body is the number when there is a
    ticket, else empty); rejected -> 403 with the reason, which the server bounces (77).
    """
    outcome = getattr(result, "outcome", "")
    ticket = getattr(result, "ticket", None)
    number = str(ticket.number) if ticket is not None else ""
    if outcome in ("created", "appended", "duplicate"):
        return _text(201, number)
    if outcome in ("ignored", "quarantined"):
        return _text(201, number)
    if outcome == "rejected":
        reason = getattr(result, "reason", "") or "rejected"
        return _text(403, f"Unable to create new ticket: {reason}")
    logger.error("intake: unknown email outcome %r", outcome)
    return _text(500, "Unable to process email")


HANDLERS: dict[str, Callable[[HttpRequest, str], HttpResponse]] = {
    "json": lambda request, address: _create(parse_json, request, address),
    "xml": lambda request, address: _create(parse_xml, request, address),
    "email": lambda request, address: _email(request),
}


@csrf_exempt
@never_cache
def tickets(request: HttpRequest, data_format: str) -> HttpResponse:
    if request.method != "POST":
        return _text(400, "URL not supported")
    handler = HANDLERS.get(data_format)
    if handler is None:
        return _text(415, "Unsupported data format")
    address = client_ip(request)
    try:
        key, refusal = _key_check(request, address)
        if refusal is not None:
            return refusal
        assert key is not None  # nosec B101 (narrows the type for mypy; _key_check returns a key or a refusal)
        wait = _throttled(key)
        if wait is not None:
            return _text(429, "Too many tickets from this API key; try again later", Retry_After=str(wait))
        api_key_touch(api_key=key)
        return handler(request, address)
    except (OperationalError, InterfaceError) as exc:
        logger.error("intake: database unavailable: %s", exc)
        return _unavailable()
    except DatabaseError as exc:
        # Not an input problem and not a refusal: tell the client to come back.
        logger.exception("intake: database error: %s", exc)
        return _unavailable()


@csrf_exempt
def unsupported(request: HttpRequest, rest: str = "") -> HttpResponse:
    return _text(400, "URL not supported")
