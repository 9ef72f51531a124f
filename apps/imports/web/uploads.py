"""An upload handler that stops keeping a file once it passes the importer's size limit, so a
file too large to import never fills the temporary folder; the view then says so."""

from __future__ import annotations

from typing import Any

from django.core.files.uploadhandler import FileUploadHandler, SkipFile


class SizeLimit(FileUploadHandler):
    """First in the chain: passes chunks on to the usual handlers until the file passes
    `limit` bytes, then skips it (Django drops the partial file and reads past the rest)."""

    def __init__(self, request: Any, limit: int) -> None:
        super().__init__(request)
        self.limit = limit
        self.too_large: str | None = None

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        if start + len(raw_data) > self.limit:
            self.too_large = self.file_name
            raise SkipFile
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None
