"""Refusing an oversized upload while it arrives, not after it is stored.

Django's own handlers keep a file in memory, or spool it to a temporary file, whole, before any
form sees it. This handler goes first: it passes a file's data on only up to the attachment
size limit, then drops the rest as it streams by (counting it). The file the form gets for it
is empty but reports its real size, so that the forms' and the API's size check refuses it
with their usual message ("... is too large"), having held at most the limit and one chunk.
"""

from __future__ import annotations

from io import BytesIO
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import InMemoryUploadedFile
from django.core.files.uploadhandler import FileUploadHandler


class TooLargeUpload(InMemoryUploadedFile):
    """A file refused by its size: no content, its size as sent."""


class AttachmentSizeLimitHandler(FileUploadHandler):
    def __init__(self, request: Any = None) -> None:
        super().__init__(request)
        self.received = 0
        self.too_large = False

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        self.received = 0
        self.too_large = False

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        self.received += len(raw_data)
        if self.received > settings.ATTACHMENT_MAX_BYTES:
            # The handlers after this one (memory, temporary file) get nothing more.
            self.too_large = True
            return None
        return raw_data

    def file_complete(self, file_size: int) -> TooLargeUpload | None:
        if not self.too_large:
            return None  # the next handler hands over the file it kept
        return TooLargeUpload(
            file=BytesIO(),
            field_name=self.field_name,
            name=self.file_name,
            content_type=self.content_type,
            size=self.received,
            charset=self.charset,
            content_type_extra=self.content_type_extra,
        )
