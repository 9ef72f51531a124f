from __future__ import annotations

from typing import Any

from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import mixins, permissions, serializers, viewsets
from rest_framework.decorators import action, api_view
from rest_framework.request import Request
from rest_framework.response import Response

from apps.accounts.roles import ADMIN_ROLES
from apps.apikeys.api.authentication import ApiKeyPrincipal
from apps.core.api.permissions import KeyScopeAllows
from apps.core.ratelimit import client_ip

from ..models import FailedTask
from ..selectors import failed_task_list
from ..services import failed_task_resolve
from .serializers import FailedTaskSerializer

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


class IsOrganisationAdmin(permissions.BasePermission):
    message = "Only Owners and Admins may see and resolve failed background work."

    def has_permission(self, request: Request, view: Any) -> bool:
        return getattr(request.user, "role", None) in ADMIN_ROLES


_RESOLVED = {"true": "resolved", "1": "resolved", "false": "unresolved", "0": "unresolved"}


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter(
                "resolved", bool, description="true: only resolved ones; false: only unresolved."
            )
        ]
    )
)
class FailedTaskViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """`/api/v1/failed-tasks/`: the organisation's background work that failed after all its
    retries, newest first; Owners and Admins (or keys with those roles) only."""

    scope_resource = "failed-tasks"
    serializer_class = FailedTaskSerializer
    permission_classes = [permissions.IsAuthenticated, KeyScopeAllows, IsOrganisationAdmin]
    queryset = FailedTask.objects.none()

    def get_queryset(self) -> Any:
        raw = self.request.query_params.get("resolved", "").strip().lower()
        if raw and raw not in _RESOLVED:
            raise serializers.ValidationError(
                {"resolved": ["Use true or false."]}, code="invalid_filter"
            )
        return failed_task_list(status=_RESOLVED.get(raw, ""))

    @extend_schema(request=None, responses=FailedTaskSerializer)
    @action(detail=True, methods=["post"])
    def resolve(self, request: Request, pk: str | None = None) -> Response:
        """Mark it resolved (recorded in the audit log; repeating it changes nothing)."""
        task = failed_task_resolve(
            failed_task=self.get_object(), actor=request.user, ip_address=client_ip(request)
        )
        return Response(FailedTaskSerializer(task).data)
