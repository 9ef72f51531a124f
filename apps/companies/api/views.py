"""`/api/v1/companies/`: thin views over the companies selectors and services."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from apps.accounts.models import Team, User

from .. import selectors, services
from ..models import Company


class CompanySerializer(serializers.ModelSerializer[Company]):
    owner = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True), required=False
    )

    class Meta:
        model = Company
        fields = ["id", "name", "domain", "owner", "created_at", "updated_at"]
        read_only_fields = ["id", "created_at", "updated_at"]


class ShareSerializer(serializers.Serializer[dict[str, Any]]):
    user = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True), required=False
    )
    team = serializers.PrimaryKeyRelatedField(queryset=Team.objects.all(), required=False)
    level = serializers.ChoiceField(choices=["view", "edit"])


def _drf(exc: DjangoValidationError) -> serializers.ValidationError:
    detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
    return serializers.ValidationError(detail)


class CompanyViewSet(viewsets.ModelViewSet[Company]):
    scope_resource = "companies"
    serializer_class = CompanySerializer

    def get_queryset(self) -> Any:
        return selectors.company_list(
            user=self.request.user, search=self.request.query_params.get("search", "")
        )

    def get_object(self) -> Company:
        return selectors.company_get(user=self.request.user, pk=self.kwargs["pk"])

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        incoming = self.get_serializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        try:
            company = services.company_create(actor=request.user, **incoming.validated_data)
        except DjangoValidationError as exc:
            raise _drf(exc) from exc
        return Response(self.get_serializer(company).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        company = self.get_object()
        incoming = self.get_serializer(
            company, data=request.data, partial=kwargs.get("partial", False)
        )
        incoming.is_valid(raise_exception=True)
        try:
            company = services.company_update(
                actor=request.user, company=company, **incoming.validated_data
            )
        except DjangoValidationError as exc:
            raise _drf(exc) from exc
        return Response(self.get_serializer(company).data)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        services.company_delete(actor=request.user, company=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @action(detail=True, methods=["post"])
    def share(self, request: Request, pk: str | None = None) -> Response:
        company = self.get_object()
        incoming = ShareSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        try:
            services.company_share(actor=request.user, company=company, **incoming.validated_data)
        except DjangoValidationError as exc:
            raise _drf(exc) from exc
        return Response({"shared": True})
