"""Reading osTicket-style ticket requests (JSON and XML) into an `IntakeTicket`.

The fields and forms are osTicket 1.18's (name, email, subject, message; phone, notes, priority,
topicId, source, ip, alert, autorespond, attachments), with these choices:
- unknown fields are ignored, never applied (osTicket passes some internal ones through);
- `alert` and `autorespond` are real booleans: false, 0, "false", "0", "no", "off" and ""
  count as false (osTicket's JSON reader casts with PHP's (bool), so "false" is true there);
- a data URL's body is taken as written (not percent-decoded, as osTicket), base64 is decoded
  whatever other parameters come first, and the charset is honoured (UTF-8 by default);
- an attachment that cannot be read becomes a line of the "File Import Error" note.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
from dataclasses import dataclass
from typing import Any
from xml.etree.ElementTree import Element, ParseError  # nosec B405 (only the types are imported; XML is parsed with defusedxml, DTDs forbidden)

import defusedxml.ElementTree as DefusedET
from defusedxml import DefusedXmlException
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from accounts.models import UserManager
from api.services import IntakeTicket
from tickets.attachments import Upload
from tickets.models import HelpTopic, Priority, TicketSource
from tickets.sanitize import single_line

FALSE_STRINGS = {"false", "0", "no", "off", ""}
SOURCES = {choice.lower(): choice for choice in TicketSource.values}
MAX_SUBJECT = 255


@dataclass(frozen=True)
class XmlMessage:
    """`<message type="text/html" encoding="base64" charset="…">…</message>`."""

    body: str
    media_type: str = ""
    encoding: str = ""
    charset: str = ""


class MalformedRequest(Exception):
    """The body could not be parsed at all (400, with the parser's message)."""


class IntakeErrors(Exception):
    """Validation failed: `field: message` lines (400)."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{f}: {m}" for f, m in errors))
        self.errors = errors


# ---------------------------------------------------------------- data URLs


def parse_data_url(value: str) -> tuple[str, str, bytes | str]:
    """(media type, charset, content) of an RFC 2397 data URL; a plain string is text/plain.

    Content is bytes when the URL was base64, else the text as written.
    """
    if not value.startswith("data:"):
        return "text/plain", "utf-8", value
    meta, sep, content = value[5:].partition(",")
    if not sep:
        raise ValueError("a data URL needs a comma before its content")
    parts = [p.strip() for p in meta.split(";")]
    media_type = (parts[0] or "text/plain").lower()
    charset = "utf-8"
    is_base64 = False
    for param in parts[1:]:
        name, _, val = param.partition("=")
        if name.lower() == "base64" and not val:
            is_base64 = True
        elif name.lower() == "charset" and val:
            charset = val.strip("\"'").lower()
    if is_base64:
        try:
            return media_type, charset, base64.b64decode("".join(content.split()), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("poorly encoded base64 data") from None
    return media_type, charset, content


def _decode(content: bytes | str, charset: str) -> str:
    if isinstance(content, str):
        return content
    try:
        return content.decode(charset)
    except (LookupError, UnicodeDecodeError):
        return content.decode("utf-8", "replace")


def message_from(value: str, media_type_hint: str = "") -> tuple[str, str]:
    """(text, html) of a message: HTML when the data URL (or XML type) says text/html."""
    media_type, charset, content = parse_data_url(value)
    if media_type_hint and not value.startswith("data:"):
        media_type = media_type_hint.lower().split(";")[0].strip()
    text = _decode(content, charset)
    if media_type == "text/html":
        return "", text
    return text, ""


# ---------------------------------------------------------------- shared validation


def _as_text(errors: list[tuple[str, str]], field: str, value: Any, *, required: bool) -> str:
    if value is None or value == "":
        if required:
            errors.append((field, f"{field.capitalize()} is required"))
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        errors.append((field, f"{field.capitalize()} must be a string"))
        return ""
    return str(value)


def _as_bool(value: Any, default: bool = True) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    if isinstance(value, str):
        return value.strip().lower() not in FALSE_STRINGS
    return bool(value)


def build_request(fields: dict[str, Any], client_ip: str) -> IntakeTicket:
    """Check the fields both formats share; IntakeErrors names each bad one."""
    errors: list[tuple[str, str]] = []
    name = single_line(_as_text(errors, "name", fields.get("name"), required=True), 128)
    email = UserManager.normalize_email(_as_text(errors, "email", fields.get("email"), required=True))
    if email:
        try:
            validate_email(email)
        except ValidationError:
            errors.append(("email", "Valid email address is required"))
    if fields.get("name") is not None and not name and not any(f == "name" for f, _ in errors):
        errors.append(("name", "Name is required"))
    subject = _as_text(errors, "subject", fields.get("subject"), required=True)
    if subject and not single_line(subject):
        errors.append(("subject", "Subject is required"))
    message = fields.get("message")
    body = body_html = ""
    if isinstance(message, XmlMessage):
        try:
            text = message.body
            if message.encoding == "base64":
                text = _decode(base64.b64decode("".join(text.split()), validate=True), message.charset or "utf-8")
            body, body_html = message_from(text, message.media_type)
        except (binascii.Error, ValueError) as exc:
            errors.append(("message", f"Message cannot be read: {exc}"))
    else:
        text = _as_text(errors, "message", message, required=True)
        if text:
            try:
                body, body_html = message_from(text)
            except ValueError as exc:
                errors.append(("message", f"Message cannot be read: {exc}"))
    if (
        message not in (None, "")
        and not (body.strip() or body_html.strip())
        and not any(f == "message" for f, _ in errors)
    ):
        errors.append(("message", "Message is required"))
    phone = _as_text(errors, "phone", fields.get("phone"), required=False).upper()
    phone_ext = _as_text(errors, "phone", fields.get("phone_ext"), required=False)
    if phone_ext:
        phone = f"{phone}X{phone_ext}"
    notes = _as_text(errors, "notes", fields.get("notes"), required=False)

    priority = None
    priority_value = fields.get("priority", fields.get("priorityId"))
    if priority_value not in (None, "", 0, "0"):
        priority_id = _as_id(priority_value)
        priority = Priority.objects.filter(pk=priority_id).first() if priority_id else None
        if priority is None:
            errors.append(("priority", f"Unknown priority id {single_line(str(priority_value), 40)!r}"))
    # As osTicket (since its fix 37cf835): an unknown or inactive topic is no topic.
    topic_id = _as_id(fields.get("topicId"))
    topic = HelpTopic.objects.filter(pk=topic_id, is_active=True).first() if topic_id else None

    source = TicketSource.API
    if fields.get("source") not in (None, ""):
        given = _as_text(errors, "source", fields.get("source"), required=False)
        source = SOURCES.get(given.strip().lower(), "")  # type: ignore[assignment]
        if not source and given:
            errors.append(("source", f"Unknown source {single_line(given, 40)!r}; use API, Email, Phone, Web or Other"))
    ip_address = client_ip
    if fields.get("ip") not in (None, ""):
        given_ip = _as_text(errors, "ip", fields.get("ip"), required=False)
        try:
            ip_address = str(ipaddress.ip_address(given_ip.strip()))
        except ValueError:
            errors.append(("ip", "Enter a valid IP address"))
    if errors:
        raise IntakeErrors(errors)
    return IntakeTicket(
        name=name,
        email=email,
        subject=single_line(subject, MAX_SUBJECT),
        body=_without_nul(body),
        body_html=_without_nul(body_html),
        phone=single_line(phone, 32),
        user_notes=_without_nul(notes),
        priority=priority,
        help_topic=topic,
        source=source,
        ip_address=ip_address or None,
        alert=_as_bool(fields.get("alert")),
        autorespond=_as_bool(fields.get("autorespond")),
    )


def _without_nul(text: str) -> str:
    """The text without NUL characters, which PostgreSQL cannot store in a text column (the
    rest of what the client sent is kept)."""
    return text.replace("\x00", "")


def _as_id(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 < value < 2**63 else None
    if isinstance(value, str) and value.strip().isdecimal() and len(value.strip()) <= 18:
        return int(value.strip()) or None
    return None


# ---------------------------------------------------------------- JSON


def parse_json(body: bytes, client_ip: str) -> IntakeTicket:
    """A JSON ticket request, whatever the Content-Type said (clients often send curl's form type)."""
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MalformedRequest(f"Unable to parse JSON request: {exc}") from None
    except RecursionError:
        raise MalformedRequest("Unable to parse JSON request: nested too deeply") from None
    if not isinstance(data, dict):
        raise MalformedRequest("Unable to parse JSON request: expected an object with the ticket's fields")
    request = build_request(data, client_ip)
    uploads, problems = json_attachments(data.get("attachments"))
    request.uploads, request.attachment_errors = uploads, problems
    return request


def json_attachments(value: Any) -> tuple[list[Upload], list[str]]:
    """`[{"name.txt": "data:…"}, …]`, and also `[{"name", "type", "data", "encoding"}]`."""
    if value in (None, "", []):
        return [], []
    if not isinstance(value, list):
        return [], ["attachments: expected a list of files; none were attached"]
    uploads: list[Upload] = []
    problems: list[str] = []
    for index, item in enumerate(value, start=1):
        if isinstance(item, dict) and "name" in item and "data" in item:
            name, data = item.get("name"), item.get("data")
            encoding = item.get("encoding")
            if isinstance(data, str) and encoding == "base64" and not data.startswith("data:"):
                data = f"data:{item.get('type') or 'application/octet-stream'};base64,{data}"
        elif isinstance(item, dict) and len(item) == 1:
            name, data = next(iter(item.items()))
        else:
            problems.append(f'attachment {index}: expected {{"file name": "data URL"}}')
            continue
        if not isinstance(name, str) or not isinstance(data, str):
            problems.append(f"attachment {index}: the name and the data must be strings")
            continue
        try:
            _media_type, charset, content = parse_data_url(data)
        except ValueError as exc:
            problems.append(f"{single_line(name, 100)}: {exc}")
            continue
        raw = content if isinstance(content, bytes) else content.encode(_codec(charset), "replace")
        uploads.append(Upload(filename=name, content=raw))
    return uploads, problems


def _codec(charset: str) -> str:
    try:
        "".encode(charset)
    except LookupError:
        return "utf-8"
    return charset


# ---------------------------------------------------------------- XML

XML_FIELDS = {
    "name",
    "email",
    "subject",
    "phone",
    "notes",
    "priority",
    "priorityId",
    "topicId",
    "source",
    "ip",
    "alert",
    "autorespond",
}


def parse_xml(body: bytes, client_ip: str) -> IntakeTicket:
    """`<ticket>` with the fields as attributes or child elements; DTDs and entities refused."""
    try:
        root = DefusedET.fromstring(body, forbid_dtd=True)
    except ParseError as exc:
        raise MalformedRequest(f"XML error: {exc}") from None
    except DefusedXmlException as exc:
        raise MalformedRequest(f"XML error: {exc}") from None
    if root.tag != "ticket":
        raise MalformedRequest(f"XML error: the root element must be <ticket>, not <{single_line(root.tag, 40)}>")
    fields: dict[str, Any] = {k: v for k, v in root.attrib.items() if k in XML_FIELDS}
    for child in root:
        if child.tag in XML_FIELDS:
            fields[child.tag] = (child.text or "").strip()
            if child.tag == "phone" and child.get("ext"):
                fields["phone_ext"] = child.get("ext")
        elif child.tag == "message":
            fields["message"] = XmlMessage(
                body=child.text or "",
                media_type=child.get("type") or "",
                encoding=(child.get("encoding") or "").lower(),
                charset=child.get("charset") or "",
            )
    request = build_request(fields, client_ip)
    request.uploads, request.attachment_errors = xml_attachments(root.find("attachments"))
    return request


def xml_attachments(element: Element | None) -> tuple[list[Upload], list[str]]:
    if element is None:
        return [], []
    uploads: list[Upload] = []
    problems: list[str] = []
    for index, item in enumerate(element.findall("file"), start=1):
        name = item.get("name") or f"attachment-{index}"
        text = item.text or ""
        encoding = (item.get("encoding") or "").lower()
        if encoding == "base64":
            try:
                content = base64.b64decode("".join(text.split()), validate=True)
            except (binascii.Error, ValueError):
                problems.append(f"{single_line(name, 100)}: Poorly encoded base64 data")
                continue
        elif text.startswith("data:"):
            try:
                _, charset, data = parse_data_url(text)
            except ValueError as exc:
                problems.append(f"{single_line(name, 100)}: {exc}")
                continue
            content = data if isinstance(data, bytes) else data.encode(_codec(charset), "replace")
        else:
            content = text.encode()
        uploads.append(Upload(filename=name, content=content))
    return uploads, problems
