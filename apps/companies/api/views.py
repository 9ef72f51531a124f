"""`/api/v1/companies/`: thin views over the companies selectors and services."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from apps.accounts.models import User
from apps.records.api.base import CustomFieldsField, RecordViewSet, TagNamesField, plain_fields

from .. import selectors, services
from ..models import Company, CompanySize


class CompanySerializer(serializers.ModelSerializer[Company]):
    owner = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True), required=False
    )
    size = serializers.ChoiceField(choices=CompanySize.choices, required=False, allow_blank=True)
    tags = TagNamesField(required=False, max_length=50)
    custom_fields = CustomFieldsField(required=False)

    class Meta:
        model = Company
        fields = [
            "id",
            "name",
            "domain",
            "industry",
            "size",
            "phone",
            "owner",
            "street",
            "city",
            "region",
            "postal_code",
            "country",
            "tags",
            "custom_fields",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]

    def to_representation(self, instance: Company) -> dict[str, Any]:
        data = plain_fields(instance, PLAIN_FIELDS)
        related = getattr(instance, "api_related", None)
        data["tags"] = related["tags"] if related else [t.name for t in instance.tags.all()]
        return {name: data[name] for name in self.Meta.fields}


PLAIN_FIELDS = [name for name in CompanySerializer.Meta.fields if name != "tags"]


class CompanyViewSet(RecordViewSet):
    entity = "company"
    scope_resource = "companies"
    serializer_class = CompanySerializer

    def select(self, params: Any = None, *, related: bool = True) -> Any:
        return selectors.company_list(user=self.request.user, params=params, related=related)

    def attach_related(self, records: list[Any]) -> None:
        tags: dict[int, list[str]] = {r.pk: [] for r in records}
        for pk, name in (
            Company.tags.through.objects.filter(company_id__in=list(tags))
            .order_by("tag__name")
            .values_list("company_id", "tag__name")
        ):
            tags[pk].append(name)
        for record in records:
            record.api_related = {"tags": tags[record.pk]}

    def fetch(self, pk: Any) -> Company:
        return selectors.company_get(user=self.request.user, pk=pk)

    def service_create(self, **data: Any) -> Company:
        return services.company_create(actor=self.request.user, **data)

    def service_update(self, record: Any, **data: Any) -> Company:
        return services.company_update(actor=self.request.user, company=record, **data)

    def service_delete(self, record: Any) -> None:
        services.company_delete(actor=self.request.user, company=record)

    def service_merge(self, survivor: Any, merged: list[Any], values: dict[str, int]) -> Any:
        return services.company_merge(
            actor=self.request.user, survivor=survivor, merged=merged, values=values
        )

    def service_share(self, record: Any, **data: Any) -> None:
        services.company_share(actor=self.request.user, company=record, **data)

    def duplicate_pairs(self) -> list[dict[str, Any]]:
        return [
            {"ids": pair["ids"], "reasons": pair["reasons"]}
            for pair in selectors.company_duplicate_pairs(user=self.request.user)
        ]
