from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest


def kestrel(request: HttpRequest) -> dict[str, Any]:
    tenant = getattr(request, "tenant", None)
    is_public = tenant is None or tenant.schema_name == settings.PUBLIC_SCHEMA_NAME
    return {
        "current_tenant": None if is_public else tenant,
        "base_domain": settings.KESTREL_BASE_DOMAIN,
    }
