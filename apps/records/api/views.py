"""`/api/v1/tags/`, `/api/v1/custom-fields/` and `/api/v1/merges/<id>/undo/`."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from .. import registry, services
from ..models import CustomField, Entity, FieldType, Merge, Tag
from .base import run_service


class TagSerializer(serializers.ModelSerializer[Tag]):
    class Meta:
        model = Tag
        fields = ["id", "name", "color", "created_at"]
        read_only_fields = ["id", "created_at"]
        extra_kwargs = {"color": {"required": False}}


class TagViewSet(viewsets.ModelViewSet[Tag]):
    scope_resource = "tags"
    serializer_class = TagSerializer
    queryset = Tag.objects.all()

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        incoming = self.get_serializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        tag = run_service(
            lambda: services.tag_create(actor=request.user, **incoming.validated_data)
        )
        return Response(self.get_serializer(tag).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        tag = self.get_object()
        incoming = self.get_serializer(tag, data=request.data, partial=True)
        incoming.is_valid(raise_exception=True)
        tag = run_service(
            lambda: services.tag_update(actor=request.user, tag=tag, **incoming.validated_data)
        )
        return Response(self.get_serializer(tag).data)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        tag = self.get_object()
        run_service(lambda: services.tag_delete(actor=request.user, tag=tag))
        return Response(status=status.HTTP_204_NO_CONTENT)


class CustomFieldSerializer(serializers.ModelSerializer[CustomField]):
    entity = serializers.ChoiceField(choices=Entity.choices)
    type = serializers.ChoiceField(choices=FieldType.choices)
    key = serializers.CharField(max_length=50, required=False)
    options = serializers.ListField(
        child=serializers.CharField(max_length=100), required=False, max_length=200
    )
    default = serializers.JSONField(required=False, allow_null=True)

    class Meta:
        model = CustomField
        fields = [
            "id",
            "entity",
            "key",
            "label",
            "type",
            "required",
            "default",
            "help_text",
            "options",
            "order",
            "archived",
            "created_at",
        ]
        read_only_fields = ["id", "created_at"]
        validators: list[Any] = []  # the service checks keys, with a clearer message


class CustomFieldViewSet(viewsets.ModelViewSet[CustomField]):
    """Definitions of custom fields. Only Admins change them; a key never changes; archiving
    hides a field and keeps its values; a type change that would lose values is refused."""

    scope_resource = "custom-fields"
    serializer_class = CustomFieldSerializer

    def get_queryset(self) -> Any:
        fields = CustomField.objects.all()
        entity = self.request.query_params.get("entity")
        if entity:
            fields = fields.filter(entity=entity)
        return fields

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        incoming = self.get_serializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = dict(incoming.validated_data)
        data.pop("archived", None)
        field = run_service(lambda: services.customfield_create(actor=request.user, **data))
        return Response(self.get_serializer(field).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        field = self.get_object()
        incoming = self.get_serializer(field, data=request.data, partial=True)
        incoming.is_valid(raise_exception=True)
        data = dict(incoming.validated_data)
        if data.pop("entity", field.entity) != field.entity:
            raise serializers.ValidationError({"entity": "A field's record type cannot change."})
        field = run_service(
            lambda: services.customfield_update(actor=request.user, field=field, **data)
        )
        return Response(self.get_serializer(field).data)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Deleting archives: values are never thrown away."""
        field = self.get_object()
        run_service(
            lambda: services.customfield_update(actor=request.user, field=field, archived=True)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class MergeSerializer(serializers.ModelSerializer[Merge]):
    survivor = serializers.IntegerField(source="survivor_id")
    merged = serializers.ListField(child=serializers.IntegerField(), source="merged_ids")

    class Meta:
        model = Merge
        fields = ["id", "entity", "survivor", "merged", "created_at", "undone_at"]


class MergeViewSet(mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    scope_resource = "merges"
    serializer_class = MergeSerializer

    def get_queryset(self) -> Any:
        return Merge.objects.all()

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(MergeSerializer(self._visible(kwargs["pk"])).data)

    def _visible(self, pk: Any) -> Merge:
        from django.http import Http404

        try:
            merge = Merge.objects.get(pk=int(pk))
        except (Merge.DoesNotExist, ValueError, TypeError, OverflowError):
            raise Http404("No such merge.") from None
        entity = registry.get(merge.entity)
        if not entity.selector(self.request.user).filter(pk=merge.survivor_id).exists():
            raise Http404("No such merge.")
        return merge

    @extend_schema(
        summary="Undo a merge (within 30 days)",
        request=None,
        responses=inline_serializer(
            "MergeUndone",
            {
                "survivor": serializers.IntegerField(),
                "restored": serializers.ListField(child=serializers.IntegerField()),
            },
        ),
    )
    @action(detail=True, methods=["post"])
    def undo(self, request: Request, pk: str | None = None) -> Response:
        merge = self._visible(pk)
        entity = registry.get(merge.entity)
        survivor = run_service(lambda: entity.extra["merge_undo"](actor=request.user, merge=merge))
        return Response({"survivor": survivor.pk, "restored": merge.merged_ids})
