"""`/api/v1/api-keys/`: Owners and Admins (or keys with those roles) manage keys."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from apps.accounts.roles import ADMIN_ROLES
from apps.core.api.permissions import KeyScopeAllows
from apps.core.ratelimit import client_ip

from ..models import ApiKey
from ..services import api_key_create, api_key_revoke
from .authentication import ApiKeyPrincipal
from .serializers import ApiKeyCreatedSerializer, ApiKeyCreateSerializer, ApiKeySerializer


class IsOrganisationAdmin(permissions.BasePermission):
    message = "Only Owners and Admins may manage API keys."

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        return bool(
            getattr(user, "is_superuser", False) or getattr(user, "role", None) in ADMIN_ROLES
        )


def _acting_user(request: Request) -> Any:
    """A key acts for the user who created it (if any); a signed-in user as themselves."""
    principal = request.user
    if isinstance(principal, ApiKeyPrincipal):
        return principal.key.created_by
    return principal


class ApiKeyViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    scope_resource = "api-keys"
    serializer_class = ApiKeySerializer
    permission_classes = [permissions.IsAuthenticated, KeyScopeAllows, IsOrganisationAdmin]
    queryset = ApiKey.objects.all()

    @extend_schema(request=ApiKeyCreateSerializer, responses={201: ApiKeyCreatedSerializer})
    def create(self, request: Request) -> Response:
        incoming = ApiKeyCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        try:
            issued = api_key_create(
                created_by=_acting_user(request),
                ip_address=client_ip(request),
                **incoming.validated_data,
            )
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"non_field_errors": exc.messages}) from exc
        body = ApiKeyCreatedSerializer(issued.key).data | {"key": issued.secret}
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=ApiKeySerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, pk: str | None = None) -> Response:
        key = api_key_revoke(
            key=self.get_object(), actor=_acting_user(request), ip_address=client_ip(request)
        )
        return Response(ApiKeySerializer(key).data)
