"""`/api/v1/leads/` (with `convert`), `/api/v1/lead-sources/` and `/api/v1/forms/`: thin views
over the leads selectors and services."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from apps.accounts.models import User
from apps.accounts.roles import ADMIN_ROLES
from apps.companies.selectors import company_get
from apps.contacts.selectors import contact_get
from apps.core.api.errors import DuplicateConflict
from apps.core.ordering import ORDER_MAX
from apps.records.api.base import (
    CustomFieldsField,
    RecordViewSet,
    TagNamesField,
    plain_fields,
    run_service,
)

from .. import conversion, selectors, services, webforms
from ..models import AssignmentRule, Lead, LeadSource, LeadStatus, WebForm

PLAIN = ["id", *services.FIELDS, "custom_fields", "converted_at", "created_at", "updated_at"]


class LeadSerializer(serializers.ModelSerializer[Lead]):
    owner = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True), required=False
    )
    email = serializers.CharField(max_length=254, required=False, allow_blank=True)
    phone = serializers.CharField(max_length=40, required=False, allow_blank=True)
    source = serializers.CharField(  # type: ignore[assignment]
        max_length=100,
        required=False,
        allow_blank=True,
        allow_null=True,
        help_text="The lead source's name (or id).",
    )
    # Plain text in the schema (the service checks it): an enum here would collide with the
    # deals' `status` enum name in the OpenAPI components.
    status = serializers.CharField(
        max_length=20,
        required=False,
        help_text="One of: " + ", ".join(LeadStatus.values) + " (converted only by converting).",
    )
    referrer = serializers.CharField(max_length=1000, required=False, allow_blank=True)
    landing_page = serializers.CharField(max_length=1000, required=False, allow_blank=True)
    tags = TagNamesField(required=False, max_length=50)
    custom_fields = CustomFieldsField(required=False)
    web_form = serializers.IntegerField(read_only=True, allow_null=True)
    converted_contact = serializers.IntegerField(read_only=True, allow_null=True)
    converted_company = serializers.IntegerField(read_only=True, allow_null=True)
    converted_deal = serializers.IntegerField(read_only=True, allow_null=True)
    converted_at = serializers.DateTimeField(read_only=True, allow_null=True)

    class Meta:
        model = Lead
        fields = [
            *PLAIN[:7],
            "source",
            *PLAIN[7:17],
            "web_form",
            "tags",
            "custom_fields",
            "converted_contact",
            "converted_company",
            "converted_deal",
            "converted_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]

    def to_representation(self, instance: Lead) -> dict[str, Any]:
        data = plain_fields(instance, [n for n in PLAIN if n != "converted_at"])
        data["converted_at"] = (
            serializers.DateTimeField().to_representation(instance.converted_at)
            if instance.converted_at
            else None
        )
        related = getattr(instance, "api_related", None)
        data["tags"] = related["tags"] if related else [t.name for t in instance.tags.all()]
        data["source"] = related["source"] if related else getattr(instance.source, "name", None)
        data["web_form"] = instance.web_form_id
        data["converted_contact"] = instance.converted_contact_id
        data["converted_company"] = instance.converted_company_id
        data["converted_deal"] = instance.converted_deal_id
        return {name: data[name] for name in self.Meta.fields}


class DealPart(serializers.Serializer[dict[str, Any]]):
    title = serializers.CharField(max_length=200, required=False, allow_blank=True)
    value = serializers.CharField(max_length=40, required=False, allow_blank=True)
    currency = serializers.CharField(max_length=3, required=False, allow_blank=True)
    pipeline = serializers.IntegerField(required=False, allow_null=True)
    stage = serializers.IntegerField(required=False, allow_null=True)
    expected_close = serializers.DateField(required=False, allow_null=True)


class ConvertSerializer(serializers.Serializer[dict[str, Any]]):
    contact = serializers.IntegerField(
        required=False, allow_null=True, help_text="Link this existing contact."
    )
    company = serializers.IntegerField(
        required=False, allow_null=True, help_text="Link this existing company."
    )
    company_mode = serializers.ChoiceField(
        choices=["auto", "new", "none"],
        required=False,
        default="auto",
        help_text="Without `company`: auto (find by name/domain, else create), new or none.",
    )
    create_deal = serializers.BooleanField(required=False, default=False)
    deal = DealPart(required=False)
    field_mapping = serializers.DictField(
        required=False,
        help_text='Lead custom field key -> "contact.key", "company.key", "deal.key", a list '
        "of them, or null to leave it behind.",
    )


def _lead_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """The API's envelope, plus which candidates of a suspected duplicate are leads and
    which are contacts."""
    from apps.core.api.errors import exception_handler

    response = exception_handler(exc, context)
    extra = getattr(exc, "lead_candidates", None)
    if response is not None and extra is not None:
        response.data["error"]["details"].update(extra)
    return response


class LeadViewSet(RecordViewSet):
    """Leads; creating a likely duplicate of a lead or a contact answers 409
    `duplicate_suspected` with `candidates`, `leads` and `contacts` ids."""

    entity = "lead"
    scope_resource = "leads"
    serializer_class = LeadSerializer

    def get_exception_handler(self) -> Any:
        return _lead_exception_handler

    def _run(self, write: Any) -> Any:
        try:
            return run_service(write)
        except DuplicateConflict as exc:
            cause = exc.__cause__
            if isinstance(cause, services.LeadDuplicateSuspected):
                exc.lead_candidates = {  # type: ignore[attr-defined]
                    "leads": [r.pk for r in cause.leads],
                    "contacts": [r.pk for r in cause.contacts],
                }
            raise

    def select(self, params: Any = None, *, related: bool = True) -> Any:
        return selectors.lead_list(user=self.request.user, params=params, related=related)

    def attach_related(self, records: list[Any]) -> None:
        ids = [r.pk for r in records]
        tags: dict[int, list[str]] = {pk: [] for pk in ids}
        for pk, name in (
            Lead.tags.through.objects.filter(lead_id__in=ids)
            .order_by("tag__name")
            .values_list("lead_id", "tag__name")
        ):
            tags[pk].append(name)
        sources = dict(
            LeadSource.objects.filter(pk__in={r.source_id for r in records}).values_list(
                "pk", "name"
            )
        )
        for record in records:
            record.api_related = {"tags": tags[record.pk], "source": sources.get(record.source_id)}

    def fetch(self, pk: Any) -> Lead:
        return selectors.lead_get(user=self.request.user, pk=pk)

    def service_create(self, **data: Any) -> Lead:
        return services.lead_create(actor=self.request.user, **data)

    def service_update(self, record: Any, **data: Any) -> Lead:
        return services.lead_update(actor=self.request.user, lead=record, **data)

    def service_delete(self, record: Any) -> None:
        services.lead_delete(actor=self.request.user, lead=record)

    def service_merge(self, survivor: Any, merged: list[Any], values: dict[str, int]) -> Any:
        return services.lead_merge(
            actor=self.request.user, survivor=survivor, merged=merged, values=values
        )

    def service_share(self, record: Any, **data: Any) -> None:
        services.lead_share(actor=self.request.user, lead=record, **data)

    def duplicate_pairs(self) -> list[dict[str, Any]]:
        return [
            {"ids": pair["ids"], "reasons": pair["reasons"]}
            for pair in selectors.lead_duplicate_pairs(user=self.request.user)
        ]

    @extend_schema(
        summary="Convert the lead into a contact, a company and optionally a deal (atomic)",
        request=ConvertSerializer,
        responses=inline_serializer(
            "LeadConverted",
            {
                "contact": serializers.IntegerField(),
                "company": serializers.IntegerField(allow_null=True),
                "deal": serializers.IntegerField(allow_null=True),
                "lead": LeadSerializer(),
            },
        ),
    )
    @action(detail=True, methods=["post"])
    def convert(self, request: Request, pk: str | None = None) -> Response:
        lead = self.get_object()
        incoming = ConvertSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = dict(incoming.validated_data)
        contact = (
            _related(contact_get, request.user, data.pop("contact"), "contact")
            if data.get("contact")
            else None
        )
        company = (
            _related(company_get, request.user, data.pop("company"), "company")
            if data.get("company")
            else None
        )
        result = run_service(
            lambda: conversion.lead_convert(
                actor=request.user,
                lead=lead,
                contact=contact,
                company=company,
                company_mode=data.get("company_mode", "auto"),
                create_deal=data.get("create_deal", False),
                deal=dict(data.get("deal") or {}),
                field_mapping=data.get("field_mapping"),
            )
        )
        return Response(
            {
                "contact": result.contact.pk,
                "company": result.company.pk if result.company else None,
                "deal": result.deal.pk if result.deal else None,
                "lead": self.get_serializer(self.fetch(lead.pk)).data,
            }
        )


def _related(get: Any, user: Any, pk: Any, field: str) -> Any:
    from django.http import Http404

    try:
        return get(user=user, pk=pk)
    except Http404:
        raise serializers.ValidationError({field: f"No such {field}: {pk}."}) from None


# Lead sources ------------------------------------------------------------------------------


class LeadSourceSerializer(serializers.ModelSerializer[LeadSource]):
    class Meta:
        model = LeadSource
        fields = ["id", "name", "order", "archived"]
        read_only_fields = ["id"]
        extra_kwargs = {"name": {"validators": []}, "order": {"required": False}}


class LeadSourceViewSet(viewsets.ModelViewSet):
    """The editable list of lead sources: everyone reads, Admins write."""

    scope_resource = "leads"
    serializer_class = LeadSourceSerializer
    pagination_class = None
    queryset = LeadSource.objects.all()

    def perform_create(self, serializer: Any) -> None:
        data = serializer.validated_data
        serializer.instance = run_service(
            lambda: services.leadsource_create(
                actor=self.request.user, name=data["name"], order=data.get("order")
            )
        )

    def perform_update(self, serializer: Any) -> None:
        data = serializer.validated_data
        serializer.instance = run_service(
            lambda: services.leadsource_update(
                actor=self.request.user, source=serializer.instance, **data
            )
        )

    def perform_destroy(self, instance: LeadSource) -> None:
        run_service(lambda: services.leadsource_delete(actor=self.request.user, source=instance))


# Web forms ---------------------------------------------------------------------------------


class WebFormFieldSerializer(serializers.Serializer[dict[str, Any]]):
    target = serializers.CharField(
        max_length=60, help_text="A lead field (first_name, email, ...) or cf_<key>."
    )
    label = serializers.CharField(  # type: ignore[assignment]
        max_length=100, required=False, allow_blank=True
    )
    required = serializers.BooleanField(required=False, default=False)  # type: ignore[assignment]
    placeholder = serializers.CharField(max_length=100, required=False, allow_blank=True)
    order = serializers.IntegerField(required=False, min_value=0, max_value=ORDER_MAX)


class WebFormSerializer(serializers.ModelSerializer[WebForm]):
    source = serializers.CharField(  # type: ignore[assignment]
        max_length=100, required=False, allow_blank=True, allow_null=True
    )
    assignment = serializers.ChoiceField(choices=AssignmentRule.choices, required=False)
    fixed_owner = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True), required=False, allow_null=True
    )
    round_robin_users = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True), many=True, required=False
    )
    tags = TagNamesField(required=False, max_length=50)
    hosted_url = serializers.SerializerMethodField()

    class Meta:
        model = WebForm
        fields = [
            "id",
            "public_id",
            "name",
            "title",
            "intro",
            "submit_label",
            "thank_you_message",
            "redirect_url",
            "source",
            "assignment",
            "fixed_owner",
            "round_robin_users",
            "tags",
            "active",
            "submissions",
            "hosted_url",
            "created_at",
        ]
        read_only_fields = ["id", "public_id", "submissions", "created_at"]

    def get_fields(self) -> dict[str, Any]:
        # "fields" is also the name of a serializer's own property, so it is added here
        # rather than declared on the class.
        fields = super().get_fields()
        fields["fields"] = WebFormFieldSerializer(many=True, required=False)
        return fields

    def get_hosted_url(self, form: WebForm) -> str:
        from django.urls import reverse

        request = self.context.get("request")
        path = reverse("forms:hosted", args=[form.public_id])
        return request.build_absolute_uri(path) if request is not None else path

    def to_representation(self, instance: WebForm) -> dict[str, Any]:
        data = super().to_representation(instance)
        data["source"] = instance.source.name if instance.source is not None else None
        data["fields"] = [
            {
                "target": f.target,
                "label": f.label,
                "required": f.required,
                "placeholder": f.placeholder,
                "order": f.order,
            }
            for f in instance.fields.all()
        ]
        return data


class WebFormViewSet(viewsets.ModelViewSet):
    """Web forms and their fields; Admins only (a form decides who gets leads)."""

    scope_resource = "leads"
    serializer_class = WebFormSerializer
    pagination_class = None

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return WebForm.objects.none()
        if getattr(self.request.user, "role", None) not in ADMIN_ROLES:
            raise exceptions.PermissionDenied("Only Admins may manage web forms.")
        return WebForm.objects.select_related("source").prefetch_related(
            "fields", "tags", "round_robin_users"
        )

    def get_object(self) -> WebForm:
        from django.http import Http404

        pk = self.kwargs["pk"]
        form = self.get_queryset().filter(pk=int(pk) if str(pk).isdigit() else -1).first()
        if form is None:
            raise Http404("No such form.")
        return form

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        self.get_queryset()
        incoming = self.get_serializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = dict(incoming.validated_data)
        form = run_service(
            lambda: webforms.webform_create(
                actor=request.user, fields=data.pop("fields", []), **data
            )
        )
        return Response(
            self.get_serializer(self.get_object_by(form.pk)).data, status=status.HTTP_201_CREATED
        )

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        form = self.get_object()
        incoming = self.get_serializer(form, data=request.data, partial=kwargs.get("partial"))
        incoming.is_valid(raise_exception=True)
        data = dict(incoming.validated_data)
        run_service(lambda: webforms.webform_update(actor=request.user, form=form, **data))
        return Response(self.get_serializer(self.get_object_by(form.pk)).data)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        form = self.get_object()
        run_service(lambda: webforms.webform_delete(actor=request.user, form=form))
        return Response(status=status.HTTP_204_NO_CONTENT)

    def get_object_by(self, pk: int) -> WebForm:
        return self.get_queryset().get(pk=pk)
