from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response

from apps.apikeys.api.authentication import ApiKeyPrincipal

_ME = inline_serializer(
    "Me",
    {
        "type": serializers.ChoiceField(choices=["user", "api_key"]),
        "organisation": serializers.DictField(),
        "role": serializers.CharField(allow_null=True),
        "user": serializers.DictField(allow_null=True),
        "api_key": serializers.DictField(allow_null=True),
    },
)


def _caller(request: Request) -> dict[str, Any]:
    tenant = request.tenant  # type: ignore[attr-defined]
    body: dict[str, Any] = {
        "organisation": {"slug": tenant.slug, "name": tenant.name, "plan": tenant.plan},
        "user": None,
        "api_key": None,
    }
    principal = request.user
    if isinstance(principal, ApiKeyPrincipal):
        key = principal.key
        body |= {
            "type": "api_key",
            "role": key.role,
            "api_key": {
                "id": key.pk,
                "name": key.name,
                "prefix": key.prefix,
                "scopes": key.scopes,
                "expires_at": key.expires_at,
            },
        }
    else:
        role = getattr(principal, "role", None)
        body |= {
            "type": "user",
            "role": str(role) if role else None,
            "user": {
                "id": principal.pk,
                "email": getattr(principal, "email", None),
                "full_name": getattr(principal, "full_name", ""),
                "time_zone": getattr(principal, "time_zone", "UTC"),
                "locale": getattr(principal, "locale", "en"),
            },
        }
    return body


@extend_schema(responses=_ME, summary="Who is calling, in which organisation")
@api_view(["GET"])
def me(request: Request) -> Response:
    return Response(_caller(request))


@extend_schema(responses=_ME, summary="API root: the caller, as /me/")
@api_view(["GET"])
def api_root(request: Request) -> Response:
    return Response(_caller(request))
