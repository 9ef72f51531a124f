"""`/api/v1/pipelines/`, `/api/v1/stages/`, `/api/v1/lost-reasons/` and `/api/v1/deals/`
(with `POST /api/v1/deals/<id>/move/`): thin views over the deals selectors and services."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Prefetch
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from apps.accounts.models import User
from apps.core.api.pagination import CursorPagination
from apps.records.api.base import (
    CustomFieldsField,
    RecordViewSet,
    TagNamesField,
    plain_fields,
    run_service,
)

from .. import selectors, services
from ..models import Deal, LostReason, Pipeline, Stage, StageKind

MOVE_TO = OpenApiParameter(
    "move_to",
    OpenApiTypes.INT,
    description="Where the deals it holds go (required when it holds any).",
)


def _move_to(find: Any, raw: Any) -> Any:
    """Where a deleted pipeline's or stage's deals go: an unknown one is a 400 naming
    `move_to`, the parameter that holds it."""
    try:
        return find(raw)
    except DjangoValidationError as exc:
        raise serializers.ValidationError({"move_to": exc.messages}) from None


# Pipelines, stages and lost reasons --------------------------------------------------------


class OrderedPagination(CursorPagination):
    """In the order Admins gave them."""

    ordering = ("order", "id")


class StagePagination(CursorPagination):
    """Stage by stage, one pipeline after another."""

    ordering = ("pipeline_id", "order", "id")  # type: ignore[assignment]  # three keys


class StageSerializer(serializers.ModelSerializer[Stage]):
    kind = serializers.ChoiceField(choices=StageKind.choices, read_only=True)
    order = serializers.IntegerField(min_value=1, required=False)
    probability = serializers.IntegerField(min_value=0, max_value=100, required=False)
    rotting_days = serializers.IntegerField(
        min_value=1, max_value=3650, required=False, allow_null=True
    )

    class Meta:
        model = Stage
        fields = ["id", "pipeline", "name", "order", "probability", "kind", "rotting_days"]
        read_only_fields = ["id", "kind"]
        validators: list[Any] = []  # the service checks names, with a clearer message


class NestedStageSerializer(serializers.Serializer[dict[str, Any]]):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(max_length=100)
    order = serializers.IntegerField(read_only=True)
    probability = serializers.IntegerField(min_value=0, max_value=100, required=False)
    kind = serializers.ChoiceField(choices=StageKind.choices, read_only=True)
    rotting_days = serializers.IntegerField(
        min_value=1, max_value=3650, required=False, allow_null=True
    )


class PipelineSerializer(serializers.ModelSerializer[Pipeline]):
    stages = NestedStageSerializer(many=True, required=False)

    class Meta:
        model = Pipeline
        fields = ["id", "name", "order", "is_default", "archived", "stages", "created_at"]
        read_only_fields = ["id", "created_at"]
        validators: list[Any] = []


@extend_schema_view(destroy=extend_schema(parameters=[MOVE_TO]))
class PipelineViewSet(viewsets.ModelViewSet[Pipeline]):
    """Pipelines with their stages in order (open stages, then won, then lost). Everyone reads
    them; Admins create (with `stages`: the open stages, won and lost are added), change and
    delete them (`?move_to=<pipeline id>` when the pipeline holds deals)."""

    scope_resource = "pipelines"
    serializer_class = PipelineSerializer
    pagination_class = OrderedPagination

    def get_queryset(self) -> Any:
        pipelines = Pipeline.objects.prefetch_related(
            Prefetch("stages", queryset=Stage.objects.order_by("order", "id"))
        )
        if self.action == "list" and self.request.query_params.get("archived") != "true":
            pipelines = pipelines.filter(archived=False)
        return pipelines

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        incoming = self.get_serializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        pipeline = run_service(
            lambda: services.pipeline_create(
                actor=request.user,
                name=data["name"],
                stages=data.get("stages"),
                is_default=data.get("is_default", False),
            )
        )
        return Response(self.get_serializer(self.get_queryset().get(pk=pipeline.pk)).data, 201)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        pipeline = self.get_object()
        incoming = self.get_serializer(pipeline, data=request.data, partial=True)
        incoming.is_valid(raise_exception=True)
        data = dict(incoming.validated_data)
        if "stages" in data:
            raise serializers.ValidationError({"stages": "Change stages through /api/v1/stages/."})
        run_service(lambda: services.pipeline_update(actor=request.user, pipeline=pipeline, **data))
        return Response(self.get_serializer(self.get_queryset().get(pk=pipeline.pk)).data)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        pipeline = self.get_object()
        raw = request.query_params.get("move_to") or (
            request.data.get("move_to") if hasattr(request.data, "get") else None
        )
        move_to = _move_to(services._pipeline, raw) if raw else None
        run_service(
            lambda: services.pipeline_delete(actor=request.user, pipeline=pipeline, move_to=move_to)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    list=extend_schema(
        parameters=[OpenApiParameter("pipeline", OpenApiTypes.INT, description="One pipeline")]
    ),
    destroy=extend_schema(parameters=[MOVE_TO]),
)
class StageViewSet(viewsets.ModelViewSet[Stage]):
    """Stages of every pipeline (`?pipeline=` narrows). Admins add open stages (`order`: 1 is
    first; won and lost stay last), change and delete them (`?move_to=<stage id>` when the
    stage holds deals). Won and lost stages are never deleted."""

    scope_resource = "pipelines"
    serializer_class = StageSerializer
    pagination_class = StagePagination

    def get_queryset(self) -> Any:
        stages = Stage.objects.all()
        pipeline = self.request.query_params.get("pipeline")
        if pipeline:
            if not pipeline.isdigit():
                raise serializers.ValidationError({"pipeline": "Give a pipeline id."})
            stages = stages.filter(pipeline_id=int(pipeline))
        return stages

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        incoming = self.get_serializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = dict(incoming.validated_data)
        stage = run_service(lambda: services.stage_create(actor=request.user, **data))
        return Response(self.get_serializer(stage).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        stage = self.get_object()
        incoming = self.get_serializer(stage, data=request.data, partial=True)
        incoming.is_valid(raise_exception=True)
        data = dict(incoming.validated_data)
        stage = run_service(lambda: services.stage_update(actor=request.user, stage=stage, **data))
        return Response(self.get_serializer(stage).data)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        stage = self.get_object()
        raw = request.query_params.get("move_to") or (
            request.data.get("move_to") if hasattr(request.data, "get") else None
        )
        move_to = _move_to(services._stage, raw) if raw else None
        if move_to is not None and move_to.pk == stage.pk:
            raise serializers.ValidationError(
                {"move_to": "Choose another stage to move the deals to."}
            )
        run_service(lambda: services.stage_delete(actor=request.user, stage=stage, move_to=move_to))
        return Response(status=status.HTTP_204_NO_CONTENT)


class LostReasonSerializer(serializers.ModelSerializer[LostReason]):
    class Meta:
        model = LostReason
        fields = ["id", "name", "order", "archived"]
        read_only_fields = ["id"]
        validators: list[Any] = []


class LostReasonViewSet(viewsets.ModelViewSet[LostReason]):
    """The editable list of reasons a deal is lost. Deleting a reason deals still name
    archives it instead (`?archived=true` lists those too)."""

    scope_resource = "pipelines"
    serializer_class = LostReasonSerializer
    pagination_class = OrderedPagination

    def get_queryset(self) -> Any:
        reasons = LostReason.objects.all()
        if self.action == "list" and self.request.query_params.get("archived") != "true":
            reasons = reasons.filter(archived=False)
        return reasons

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        incoming = self.get_serializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        reason = run_service(
            lambda: services.lostreason_create(
                actor=request.user, name=data["name"], order=data.get("order")
            )
        )
        return Response(self.get_serializer(reason).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        reason = self.get_object()
        incoming = self.get_serializer(reason, data=request.data, partial=True)
        incoming.is_valid(raise_exception=True)
        data = dict(incoming.validated_data)
        reason = run_service(
            lambda: services.lostreason_update(actor=request.user, reason=reason, **data)
        )
        return Response(self.get_serializer(reason).data)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        reason = self.get_object()
        run_service(lambda: services.lostreason_delete(actor=request.user, reason=reason))
        return Response(status=status.HTTP_204_NO_CONTENT)


# Deals ----------------------------------------------------------------------------------


class IdList(serializers.ListField):
    """Written as a list of ids; read by `DealSerializer.to_representation`."""

    child = serializers.IntegerField()


class DealSerializer(serializers.ModelSerializer[Deal]):
    owner = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True), required=False
    )
    title = serializers.CharField(max_length=200)
    value = serializers.DecimalField(
        max_digits=14, decimal_places=2, min_value=0, required=False, coerce_to_string=True
    )
    currency = serializers.CharField(max_length=3, min_length=3, required=False)
    pipeline = serializers.IntegerField(required=False)
    stage = serializers.IntegerField(required=False)
    # The stage's kind (open, won or lost); a plain string so the schema has one enum for it.
    status = serializers.CharField(read_only=True, help_text="open, won or lost")
    probability = serializers.IntegerField(
        min_value=0, max_value=100, required=False, allow_null=True
    )
    effective_probability = serializers.IntegerField(read_only=True)
    weighted_value = serializers.DecimalField(
        max_digits=14, decimal_places=2, read_only=True, coerce_to_string=True
    )
    expected_close = serializers.DateField(required=False, allow_null=True)
    contacts = IdList(required=False, max_length=50)
    companies = IdList(required=False, max_length=50)
    tags = TagNamesField(required=False, max_length=50)
    custom_fields = CustomFieldsField(required=False)
    lost_reason = serializers.IntegerField(required=False, allow_null=True)
    lost_note = serializers.CharField(max_length=500, required=False, allow_blank=True)
    # null until the deal is won / lost (stage_entered_at: null on deals made before it was kept)
    won_at = serializers.DateTimeField(read_only=True, allow_null=True)
    lost_at = serializers.DateTimeField(read_only=True, allow_null=True)
    stage_entered_at = serializers.DateTimeField(read_only=True, allow_null=True)

    class Meta:
        model = Deal
        fields = [
            "id",
            "title",
            "value",
            "currency",
            "pipeline",
            "stage",
            "status",
            "probability",
            "effective_probability",
            "weighted_value",
            "expected_close",
            "owner",
            "contacts",
            "companies",
            "tags",
            "custom_fields",
            "lost_reason",
            "lost_note",
            "won_at",
            "lost_at",
            "stage_entered_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]

    def to_representation(self, instance: Deal) -> dict[str, Any]:
        data = plain_fields(instance, PLAIN_FIELDS)
        data["value"] = str(instance.value)
        data["pipeline"] = instance.pipeline_id
        data["stage"] = instance.stage_id
        data["lost_reason"] = instance.lost_reason_id
        data["effective_probability"] = instance.effective_probability
        data["weighted_value"] = str(instance.weighted_value)
        data["expected_close"] = (
            instance.expected_close.isoformat() if instance.expected_close else None
        )
        for name in ("won_at", "lost_at", "stage_entered_at"):
            moment = getattr(instance, name)
            data[name] = serializers.DateTimeField().to_representation(moment) if moment else None
        related = getattr(instance, "api_related", None)
        if related is not None:
            data.update(related)
        else:
            data["contacts"] = [c.pk for c in instance.contacts.all()]
            data["companies"] = [c.pk for c in instance.companies.all()]
            data["tags"] = [tag.name for tag in instance.tags.all()]
        return {name: data[name] for name in self.Meta.fields}


PLAIN_FIELDS = [
    "id",
    "title",
    "currency",
    "status",
    "probability",
    "owner",
    "custom_fields",
    "lost_note",
    "created_at",
    "updated_at",
]


class MoveSerializer(serializers.Serializer[dict[str, Any]]):
    stage = serializers.IntegerField()
    lost_reason = serializers.IntegerField(required=False, allow_null=True)
    lost_note = serializers.CharField(max_length=500, required=False, allow_blank=True)
    position = serializers.FloatField(required=False, allow_null=True)


FILTERS = [
    OpenApiParameter(name, OpenApiTypes.STR, description=text)
    for name, text in (
        ("search", "Typo-tolerant search in titles, companies and contacts"),
        ("tag", "Tag name (comma-separated: any of them)"),
        ("owner", "Owner id, or `me`"),
        ("pipeline", "Pipeline id"),
        ("stage", "Stage id"),
        ("status", "open, won or lost"),
        ("ordering", "A field, `-field` for descending; also cf_<key>"),
    )
]


@extend_schema_view(list=extend_schema(parameters=FILTERS))
class DealViewSet(RecordViewSet):
    """Deals, with the record conventions of contacts (filters, cursor pagination, bulk,
    share, timeline, notes, export); `POST /deals/<id>/move/` changes the stage."""

    entity = "deal"
    scope_resource = "deals"
    serializer_class = DealSerializer

    def select(self, params: Any = None, *, related: bool = True) -> Any:
        return selectors.deal_list(user=self.request.user, params=params, related=related)

    def attach_related(self, records: list[Any]) -> None:
        ids = [r.pk for r in records]
        related: dict[int, dict[str, list[Any]]] = {
            pk: {"contacts": [], "companies": [], "tags": []} for pk in ids
        }
        rows = (
            (
                "contacts",
                Deal.contacts.through.objects.filter(deal_id__in=ids)
                .order_by("id")
                .values_list("deal_id", "contact_id"),
            ),
            (
                "companies",
                Deal.companies.through.objects.filter(deal_id__in=ids)
                .order_by("id")
                .values_list("deal_id", "company_id"),
            ),
            (
                "tags",
                Deal.tags.through.objects.filter(deal_id__in=ids)
                .order_by("tag__name")
                .values_list("deal_id", "tag__name"),
            ),
        )
        for kind, values in rows:
            for pk, value in values:
                related[pk][kind].append(value)
        for record in records:
            record.api_related = related[record.pk]

    def fetch(self, pk: Any) -> Deal:
        return selectors.deal_get(user=self.request.user, pk=pk)

    def fetch_to_change(self, pk: Any) -> Deal:
        return selectors.deal_get(user=self.request.user, pk=pk, related=False)

    def fetch_shown(self, pk: Any) -> Deal:
        # As `deal.contacts.all()` and `deal.companies.all()` show them: merged-away records
        # left out (their default manager), each in its model's ordering; tags by name.
        record = selectors.deal_get(user=self.request.user, pk=pk, related=False)
        contacts = (
            Deal.contacts.through.objects.filter(
                deal_id=record.pk, contact__merged_into__isnull=True
            )
            .order_by("-contact__created_at", "-contact_id")
            .values_list("contact_id", flat=True)
        )
        companies = (
            Deal.companies.through.objects.filter(
                deal_id=record.pk, company__merged_into__isnull=True
            )
            .order_by("company__name", "company_id")
            .values_list("company_id", flat=True)
        )
        tags = (
            Deal.tags.through.objects.filter(deal_id=record.pk)
            .order_by("tag__name")
            .values_list("tag__name", flat=True)
        )
        record.api_related = {  # type: ignore[attr-defined]
            "contacts": list(contacts),
            "companies": list(companies),
            "tags": list(tags),
        }
        return record

    def service_create(self, **data: Any) -> Deal:
        return services.deal_create(actor=self.request.user, **data)

    def service_update(self, record: Any, **data: Any) -> Deal:
        return services.deal_update(actor=self.request.user, deal=record, **data)

    def service_delete(self, record: Any) -> None:
        services.deal_delete(actor=self.request.user, deal=record)

    def service_merge(self, survivor: Any, merged: list[Any], values: dict[str, int]) -> Any:
        from django.core.exceptions import ValidationError

        raise ValidationError({"merged": "Deals cannot be merged."})

    def service_share(self, record: Any, **data: Any) -> None:
        services.deal_share(actor=self.request.user, deal=record, **data)

    def duplicate_pairs(self) -> list[dict[str, Any]]:
        return []

    @extend_schema(
        summary="Move the deal to a stage (a lost stage needs `lost_reason`)",
        request=MoveSerializer,
        responses=DealSerializer,
    )
    @action(detail=True, methods=["post"])
    def move(self, request: Request, pk: str | None = None) -> Response:
        deal = self.get_object()
        incoming = MoveSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        run_service(
            lambda: services.deal_move(
                actor=request.user,
                deal=deal,
                stage=data["stage"],
                lost_reason=data.get("lost_reason"),
                lost_note=data.get("lost_note", ""),
                position=data.get("position"),
            )
        )
        return Response(self.get_serializer(self.fetch(deal.pk)).data)
