"""Checking and storing attachments.

A file's type is read from its content, against an allowlist; the name a user gave is only
a label (cleaned of path parts and invisible or direction-changing characters), and the
file is stored under a generated name.
"""

from __future__ import annotations

import contextlib
import hashlib
import unicodedata
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import PurePath

import filetype
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.template.defaultfilters import filesizeformat

from tickets.exceptions import InvalidInput
from tickets.models import Attachment, ThreadEntry

# Kinds recognised by their content (magic numbers) and the extensions each may carry.
BINARY_TYPES: dict[str, set[str]] = {
    "image/png": {".png"},
    "image/jpeg": {".jpg", ".jpeg"},
    "image/gif": {".gif"},
    "image/webp": {".webp"},
    "application/pdf": {".pdf"},
    "application/zip": {".zip"},
    "application/gzip": {".gz", ".tgz"},
    "application/msword": {".doc"},
    "application/vnd.ms-excel": {".xls"},
    "application/vnd.ms-powerpoint": {".ppt"},
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": {".docx"},
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {".xlsx"},
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": {".pptx"},
    "application/vnd.oasis.opendocument.text": {".odt"},
    "application/vnd.oasis.opendocument.spreadsheet": {".ods"},
    "application/vnd.oasis.opendocument.presentation": {".odp"},
}
# Kinds with no magic number: accepted when they decode as text, and always served as text.
TEXT_EXTENSIONS = {".txt", ".log", ".csv", ".eml", ".json", ".xml", ".md", ".ini", ".cfg", ".conf", ".yaml", ".yml"}
# Characters that hide or reorder what a name shows (zero-width, bidirectional controls).
INVISIBLE = {chr(c) for c in (*range(0x200B, 0x2010), *range(0x202A, 0x202F), *range(0x2066, 0x206A), 0xFEFF)}


@dataclass(frozen=True)
class Upload:
    """A file as received (form, API, mail), before it is checked."""

    filename: str
    content: bytes
    content_id: str = ""


def safe_filename(name: str) -> str:
    name = unicodedata.normalize("NFC", name)
    name = "".join(ch for ch in name if ch not in INVISIBLE and unicodedata.category(ch)[0] != "C")
    name = PurePath(name.replace("\\", "/")).name.strip().lstrip(".")
    return name[:200] or "attachment"


def attachment_check(upload: Upload) -> tuple[str, str]:
    """The safe name and the content type of an upload; InvalidInput when it is refused."""
    name = safe_filename(upload.filename)
    if len(upload.content) > settings.ATTACHMENT_MAX_BYTES:
        limit = filesizeformat(settings.ATTACHMENT_MAX_BYTES)
        raise InvalidInput("attachments", f"{name} is too large: files may be up to {limit}.")
    if not upload.content:
        raise InvalidInput("attachments", f"{name} is empty.")
    extension = PurePath(name).suffix.lower()
    kind = filetype.guess(upload.content)
    if kind is not None:
        if extension in BINARY_TYPES.get(kind.mime, ()):
            return name, kind.mime
        raise InvalidInput("attachments", f"{name}: this kind of file is not accepted.")
    if extension in TEXT_EXTENSIONS and _is_text(upload.content):
        return name, "text/plain"
    raise InvalidInput("attachments", f"{name}: this kind of file is not accepted.")


def _is_text(content: bytes) -> bool:
    if b"\x00" in content[:65536]:
        return False
    try:
        content[:65536].decode("utf-8")
    except UnicodeDecodeError:
        return all(b >= 0x20 or b in b"\t\r\n\f" for b in content[:65536])
    return True


def attachments_check(uploads: list[Upload]) -> None:
    if len(uploads) > settings.ATTACHMENT_MAX_FILES:
        raise InvalidInput("attachments", f"At most {settings.ATTACHMENT_MAX_FILES} files may be attached.")
    for upload in uploads:
        attachment_check(upload)


class StoredFiles:
    """The files written during one change, to be removed if its transaction fails."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def remove_all(self, start: int = 0) -> None:
        """Remove the files written since the `start`-th."""
        for name in self.names[start:]:
            with contextlib.suppress(OSError):
                default_storage.delete(name)
        del self.names[start:]


_stored_files: ContextVar[StoredFiles | None] = ContextVar("stored_files", default=None)


@contextlib.contextmanager
def files_removed_on_error() -> Iterator[StoredFiles]:
    """The files written in the block are removed if it fails.

    Nested, the outermost block keeps the files until it ends: a change made inside a larger
    transaction (a guest's account and their ticket, an incoming message and its record)
    leaves no file behind when that transaction fails after the change itself succeeded."""
    outer = _stored_files.get()
    if outer is not None:
        start = len(outer.names)
        try:
            yield outer
        except BaseException:
            outer.remove_all(start)
            raise
        return
    stored = StoredFiles()
    token = _stored_files.set(stored)
    try:
        yield stored
    except BaseException:
        stored.remove_all()
        raise
    finally:
        _stored_files.reset(token)


def attachments_save(*, entry: ThreadEntry, uploads: list[Upload], stored: StoredFiles) -> list[Attachment]:
    saved = []
    for upload in uploads:
        name, content_type = attachment_check(upload)
        attachment = Attachment(
            entry=entry,
            filename=name,
            content_type=content_type,
            size=len(upload.content),
            sha256=hashlib.sha256(upload.content).hexdigest(),
            content_id=upload.content_id[:255],
        )
        attachment.file.save(name, ContentFile(upload.content), save=False)
        stored.names.append(str(attachment.file.name))
        attachment.save()
        saved.append(attachment)
    return saved
