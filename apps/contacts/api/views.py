"""`/api/v1/contacts/` and `/api/v1/contact-links/`: thin views over the contacts selectors
and services."""

from __future__ import annotations

from typing import Any

from django.http import Http404
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from apps.accounts.models import User
from apps.companies.selectors import company_get
from apps.records.api.base import (
    CustomFieldsField,
    RecordViewSet,
    TagNamesField,
    plain_fields,
    run_service,
)

from .. import selectors, services
from ..models import Contact, ContactCompany, ContactEmail, ContactPhone, LifecycleStage


class RelatedList(serializers.ListField):
    """Written as a list of values; read by `ContactSerializer.to_representation` from the
    prefetched rows."""

    def to_representation(self, data: Any) -> list[Any]:
        return []


class ContactSerializer(serializers.ModelSerializer[Contact]):
    owner = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True), required=False
    )
    email = serializers.CharField(max_length=254, required=False, allow_blank=True)
    emails = RelatedList(child=serializers.CharField(max_length=254), required=False, max_length=20)
    phone = serializers.CharField(max_length=40, required=False, allow_blank=True)
    phones = RelatedList(child=serializers.CharField(max_length=40), required=False, max_length=20)
    companies = RelatedList(child=serializers.IntegerField(), required=False, max_length=50)
    tags = TagNamesField(required=False, max_length=50)
    custom_fields = CustomFieldsField(required=False)
    lifecycle_stage = serializers.ChoiceField(choices=LifecycleStage.choices, required=False)

    class Meta:
        model = Contact
        fields = [
            "id",
            "first_name",
            "last_name",
            "email",
            "emails",
            "phone",
            "phones",
            "title",
            "owner",
            "companies",
            "street",
            "city",
            "region",
            "postal_code",
            "country",
            "linkedin",
            "twitter",
            "website",
            "source",
            "lifecycle_stage",
            "notes",
            "tags",
            "custom_fields",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]

    def to_representation(self, instance: Contact) -> dict[str, Any]:
        # Built directly from the prefetched rows: a page of 50 contacts is read in a few
        # milliseconds instead of running every field's serializer 50 times.
        data = plain_fields(instance, PLAIN_FIELDS)
        related = getattr(instance, "api_related", None)
        if related is not None:
            data.update(related)
        else:
            data["emails"] = [e.email for e in instance.emails.all()]
            data["phones"] = [p.number for p in instance.phones.all()]
            data["companies"] = [link.company_id for link in instance.company_links.all()]
            data["tags"] = [tag.name for tag in instance.tags.all()]
        return {name: data[name] for name in self.Meta.fields}


PLAIN_FIELDS = [
    name
    for name in ContactSerializer.Meta.fields
    if name not in ("emails", "phones", "companies", "tags")
]


class ContactViewSet(RecordViewSet):
    entity = "contact"
    scope_resource = "contacts"
    serializer_class = ContactSerializer

    def select(self, params: Any = None, *, related: bool = True) -> Any:
        return selectors.contact_list(user=self.request.user, params=params, related=related)

    def attach_related(self, records: list[Any]) -> None:
        ids = [r.pk for r in records]
        related: dict[int, dict[str, list[Any]]] = {
            pk: {"emails": [], "phones": [], "companies": [], "tags": []} for pk in ids
        }
        rows = (
            (
                "emails",
                ContactEmail.objects.filter(contact_id__in=ids)
                .order_by("-is_primary", "id")
                .values_list("contact_id", "email"),
            ),
            (
                "phones",
                ContactPhone.objects.filter(contact_id__in=ids)
                .order_by("-is_primary", "id")
                .values_list("contact_id", "number"),
            ),
            (
                "companies",
                ContactCompany.objects.filter(contact_id__in=ids, company__merged_into__isnull=True)
                .order_by("-is_primary", "id")
                .values_list("contact_id", "company_id"),
            ),
            (
                "tags",
                Contact.tags.through.objects.filter(contact_id__in=ids)
                .order_by("tag__name")
                .values_list("contact_id", "tag__name"),
            ),
        )
        for kind, values in rows:
            for pk, value in values:
                related[pk][kind].append(value)
        for record in records:
            record.api_related = related[record.pk]

    def fetch(self, pk: Any) -> Contact:
        return selectors.contact_get(user=self.request.user, pk=pk)

    def fetch_to_change(self, pk: Any) -> Contact:
        return selectors.contact_get(user=self.request.user, pk=pk, related=False)

    def fetch_shown(self, pk: Any) -> Contact:
        # The list's bulk read gives the detail's values in the detail's order: emails,
        # phones and company links by their model ordering (primary first, then id), the
        # links to merged-away companies left out, tags by name.
        record = selectors.contact_get(user=self.request.user, pk=pk, related=False)
        self.attach_related([record])
        return record

    def service_create(self, **data: Any) -> Contact:
        return services.contact_create(actor=self.request.user, **data)

    def service_update(self, record: Any, **data: Any) -> Contact:
        return services.contact_update(actor=self.request.user, contact=record, **data)

    def service_delete(self, record: Any) -> None:
        services.contact_delete(actor=self.request.user, contact=record)

    def service_merge(self, survivor: Any, merged: list[Any], values: dict[str, int]) -> Any:
        return services.contact_merge(
            actor=self.request.user, survivor=survivor, merged=merged, values=values
        )

    def service_share(self, record: Any, **data: Any) -> None:
        services.contact_share(actor=self.request.user, contact=record, **data)

    def duplicate_pairs(self) -> list[dict[str, Any]]:
        return [
            {"ids": pair["ids"], "reasons": pair["reasons"]}
            for pair in selectors.contact_duplicate_pairs(user=self.request.user)
        ]


class LinkSerializer(serializers.ModelSerializer[ContactCompany]):
    contact = serializers.IntegerField()
    company = serializers.IntegerField()

    class Meta:
        model = ContactCompany
        fields = ["id", "contact", "company", "role", "is_primary", "created_at"]
        read_only_fields = ["id", "created_at"]

    def to_representation(self, instance: ContactCompany) -> dict[str, Any]:
        return {
            "id": instance.pk,
            "contact": instance.contact_id,
            "company": instance.company_id,
            "role": instance.role,
            "is_primary": instance.is_primary,
            "created_at": instance.created_at,
        }


class ContactLinkViewSet(
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Contact-company links (many-to-many with a role and a primary flag); `?contact=` or
    `?company=` narrows the list. Only links between records the caller may see appear."""

    scope_resource = "contacts"
    serializer_class = LinkSerializer

    def get_queryset(self) -> Any:
        from apps.companies.selectors import company_list

        links = ContactCompany.objects.filter(
            contact__in=selectors.contact_list(user=self.request.user).values("pk"),
            company__in=company_list(user=self.request.user).values("pk"),
        )
        for name in ("contact", "company"):
            value = self.request.query_params.get(name)
            if value:
                if not value.isdigit():
                    raise serializers.ValidationError({name: "Give a record id."})
                links = links.filter(**{f"{name}_id": int(value)})
        return links

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        incoming = self.get_serializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        contact = _named(selectors.contact_get, request.user, data["contact"], "contact")
        company = _named(company_get, request.user, data["company"], "company")
        link = run_service(
            lambda: services.contact_link_company(
                actor=request.user,
                contact=contact,
                company=company,
                role=data.get("role", ""),
                is_primary=data.get("is_primary", False),
            ),
        )
        return Response(self.get_serializer(link).data, status=status.HTTP_201_CREATED)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        link = self.get_object()
        run_service(
            lambda: services.contact_unlink_company(actor=request.user, link=link),
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


def _named(get: Any, user: Any, pk: Any, field: str) -> Any:
    """A record named in the body: one the caller may not see is a 400 naming the field."""
    try:
        return get(user=user, pk=pk)
    except Http404:
        raise serializers.ValidationError({field: [f"No such {field}: {pk}."]}) from None
