"""Tag colours as a stylesheet served from the organisation's own host: the strict CSP
forbids inline `style` attributes, so each tag gets a class (`tag-<id>`) defined here."""

from __future__ import annotations

import hashlib

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseNotModified
from django.views.decorators.http import require_GET

from ..models import Tag
from ..services import COLOR


@require_GET
@login_required
def tag_styles(request: HttpRequest) -> HttpResponse:
    rules = [
        f".tag-{pk}{{--tag:{color}}}"
        for pk, color in Tag.objects.order_by("pk").values_list("pk", "color")
        # Colours are validated on save; checked again so nothing else reaches the CSS.
        if COLOR.fullmatch(color)
    ]
    body = "\n".join(rules) + "\n"
    etag = '"' + hashlib.sha256(body.encode()).hexdigest()[:32] + '"'
    if request.headers.get("If-None-Match") == etag:
        response: HttpResponse = HttpResponseNotModified()
    else:
        response = HttpResponse(body, content_type="text/css; charset=utf-8")
    response["ETag"] = etag
    # Revalidated on every page (a 304 costs one indexed scan of a small table).
    response["Cache-Control"] = "private, no-cache"
    return response
