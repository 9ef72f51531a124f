"""The zip handed to an Owner or Admin, the same from the web page and the API."""

from __future__ import annotations

from typing import IO, Any

from django.http import FileResponse, HttpRequest

from apps.core.ratelimit import client_ip

from . import services
from .models import DataExport


def zip_response(export: DataExport, handle: IO[bytes], request: HttpRequest | Any) -> FileResponse:
    """Record the download (audit log, count), then send the open file as an attachment that
    no cache keeps."""
    services.record_download(export=export, actor=request.user, ip_address=client_ip(request))
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=services.file_name(export),
        content_type="application/zip",
    )
    response["Cache-Control"] = "private, no-store"
    return response
