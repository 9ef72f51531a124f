from __future__ import annotations

from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response


@api_view(["GET"])
@permission_classes([IsAuthenticated])
def api_root(request: Request) -> Response:
    """Who is calling, in which organisation; the resources arrive with their capabilities."""
    tenant = request.tenant  # type: ignore[attr-defined]
    return Response(
        {
            "organisation": {"slug": tenant.slug, "name": tenant.name},
            "user": {"id": request.user.pk, "email": getattr(request.user, "email", None)},
        }
    )
