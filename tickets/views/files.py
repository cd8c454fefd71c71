"""Attachment downloads, for the portal and the staff panel alike.

A file is served only to someone who may see its ticket: a signed-in user through
`tickets_visible_to` (an end user never gets a note's files), or the holder of a valid secret
link to that ticket. Anyone else gets a 404, whether or not the attachment exists.

What is served cannot run in the help desk's origin: it is always a download
(Content-Disposition: attachment, the name encoded for any characters), with a content type
from the upload allowlist (anything else is application/octet-stream), no sniffing, and a
CSP that forbids everything and sandboxes the document should a browser render it anyway.
"""

from __future__ import annotations

from django.contrib.auth.views import redirect_to_login
from django.http import FileResponse, Http404, HttpRequest, HttpResponseBase
from django.urls import reverse
from django.views.decorators.http import require_safe

from accounts.models import User
from tickets.attachments import BINARY_TYPES
from tickets.models import Attachment, EntryKind
from tickets.selectors import ticket_get_for_link, tickets_visible_to

SERVED_TYPES = frozenset(BINARY_TYPES) | {"text/plain"}


def _served_type(content_type: str) -> str:
    if content_type == "text/plain":
        return "text/plain; charset=utf-8"
    return content_type if content_type in SERVED_TYPES else "application/octet-stream"


def _may_download(request: HttpRequest, attachment: Attachment, token: str | None) -> bool:
    entry = attachment.entry
    if entry is None:
        return False
    if token is not None:
        if len(token) > 128:
            return False
        ticket, _recipient = ticket_get_for_link(token=token)
        return ticket.pk == entry.ticket_id and entry.kind != EntryKind.NOTE
    user: User = request.user  # type: ignore[assignment]
    if entry.kind == EntryKind.NOTE and not user.is_agent:
        return False
    return tickets_visible_to(user).filter(pk=entry.ticket_id).exists()


@require_safe
def attachment_download(request: HttpRequest, pk: int, token: str | None = None) -> HttpResponseBase:
    if token is None and not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path(), reverse("portal:login"))
    attachment = Attachment.objects.select_related("entry").filter(pk=pk).first()
    if attachment is None or not _may_download(request, attachment, token):
        raise Http404("No such file.")
    return attachment_response(attachment)


def attachment_response(attachment: Attachment) -> FileResponse:
    """The file as a download that cannot run in this origin (every download view uses it)."""
    try:
        handle = attachment.file.open("rb")
    except FileNotFoundError:
        raise Http404("The file is missing from storage.") from None
    response = FileResponse(
        handle, as_attachment=True, filename=attachment.filename, content_type=_served_type(attachment.content_type)
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    response["Cache-Control"] = "private, no-store"
    response["Referrer-Policy"] = "no-referrer"
    return response
