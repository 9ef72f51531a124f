"""What every record type's API shares: list filters and ordering from `apps.records.querying`,
cursor pagination over any sort column, 409 `duplicate_suspected`, bulk create and update
(all or nothing, errors per item), merge, duplicates, timeline and notes."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from apps.accounts.models import Team, User
from apps.core.api.errors import DuplicateConflict, ErrorCode, error_body
from apps.core.api.pagination import CursorPagination
from apps.records import timeline
from apps.records.duplicates import DuplicateSuspected
from apps.records.exporting import FORMATS as EXPORT_FORMATS
from apps.records.exporting import UnknownFormat, export_format, export_list

BULK_LIMIT = 100


def drf_error(exc: DjangoValidationError) -> serializers.ValidationError:
    detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
    return serializers.ValidationError(detail)


def run_service(write: Any) -> Any:
    """Call a service, turning its errors into the API's: 409 duplicate_suspected, 400 with
    the fields named, 403."""
    try:
        return write()
    except DuplicateSuspected as exc:
        raise DuplicateConflict(
            f"{exc} Add ?allow_duplicate=true to create it anyway.", exc.ids
        ) from exc
    except DjangoValidationError as exc:
        raise drf_error(exc) from exc
    except DjangoPermissionDenied as exc:
        raise exceptions.PermissionDenied(str(exc)) from exc


def truthy(value: Any) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes", "on")


class RecordCursorPagination(CursorPagination):
    """Newest first unless `ordering` sorts by a column, then by that column (and id)."""

    def get_ordering(self, request: Request, queryset: Any, view: Any) -> tuple[str, ...]:
        ordering = tuple(queryset.query.order_by)
        if ordering and ordering[0].lstrip("-") == "sort_value":
            return ordering
        return self.ordering


_DATETIME = serializers.DateTimeField()


def plain_fields(instance: Any, names: list[str]) -> dict[str, Any]:
    """A record's plain columns as the API shows them (foreign keys as ids, datetimes in ISO
    8601), without a serializer field per value."""
    data: dict[str, Any] = {}
    for name in names:
        if name == "id":
            data[name] = instance.pk
        elif name == "owner":
            data[name] = instance.owner_id
        elif name in ("created_at", "updated_at"):
            data[name] = _DATETIME.to_representation(getattr(instance, name))
        elif name == "custom_fields":
            data[name] = dict(instance.custom_fields or {})
        else:
            data[name] = getattr(instance, name)
    return data


class TagNamesField(serializers.ListField):
    child = serializers.CharField(max_length=50)

    def to_representation(self, data: Any) -> list[str]:
        return [tag.name for tag in data.all()]


class CustomFieldsField(serializers.DictField):
    """The record's custom field values keyed by definition key (validated by the service)."""

    def to_representation(self, value: Any) -> dict[str, Any]:
        return dict(value or {})


class ShareSerializer(serializers.Serializer[dict[str, Any]]):
    user = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True), required=False
    )
    team = serializers.PrimaryKeyRelatedField(queryset=Team.objects.all(), required=False)
    level = serializers.ChoiceField(choices=["view", "edit"])


class MergeRequestSerializer(serializers.Serializer[dict[str, Any]]):
    survivor = serializers.IntegerField()
    merged = serializers.ListField(child=serializers.IntegerField(), min_length=1, max_length=10)
    values = serializers.DictField(child=serializers.IntegerField(), required=False)


class NoteSerializer(serializers.Serializer[dict[str, Any]]):
    body = serializers.CharField(max_length=20_000)


class ExportNegotiation(DefaultContentNegotiation):
    """On the export, `?format=` names the file's format, not one of the API's renderers:
    the file is the response itself, and any error is answered in the API's JSON envelope."""

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        available = list(renderers)
        renderer = next((r for r in available if isinstance(r, JSONRenderer)), available[0])
        return renderer, renderer.media_type


ERROR_ENVELOPE = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "field": {"type": "string", "nullable": True},
                "details": {"type": "object", "nullable": True},
            },
        }
    },
}


class RecordViewSet(viewsets.ModelViewSet):
    """Subclasses name `entity`, `scope_resource`, the serializer, and the selectors and
    services of their app."""

    entity: str = ""
    pagination_class = RecordCursorPagination

    # Hooks set by subclasses -------------------------------------------------------------
    def select(self, params: Any = None, *, related: bool = True) -> Any:
        raise NotImplementedError

    def fetch(self, pk: Any) -> Any:
        raise NotImplementedError

    def fetch_shown(self, pk: Any) -> Any:
        """The record as a detail response shows it (the detail read, and the answer to a
        create or update). Subclasses may read its related rows as plain values
        (`record.api_related`, in the detail's order) instead of through Django's prefetching,
        which costs more CPU than the queries themselves; `fetch` keeps model instances for
        the services."""
        return self.fetch(pk)

    def fetch_to_change(self, pk: Any) -> Any:
        """The record an update starts from (access checked as by `fetch`). Subclasses may
        skip prefetching its related rows: the services read what they need themselves."""
        return self.fetch(pk)

    def service_create(self, **data: Any) -> Any:
        raise NotImplementedError

    def service_update(self, record: Any, **data: Any) -> Any:
        raise NotImplementedError

    def service_delete(self, record: Any) -> None:
        raise NotImplementedError

    def service_merge(self, survivor: Any, merged: list[Any], values: dict[str, int]) -> Any:
        raise NotImplementedError

    def service_share(self, record: Any, **data: Any) -> None:
        raise NotImplementedError

    def duplicate_pairs(self) -> list[dict[str, Any]]:
        raise NotImplementedError

    def attach_related(self, records: list[Any]) -> None:
        """Read the related rows a list page shows in one query per kind, as plain values
        (`record.api_related`); Django's prefetching builds a queryset per record, which
        costs more than the queries themselves on a page of 50."""

    # Reads -------------------------------------------------------------------------------
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        try:
            queryset = self.select(request.query_params, related=False)
        except DjangoValidationError as exc:
            raise drf_error(exc) from exc
        page = self.paginate_queryset(queryset) or []
        self.attach_related(page)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def get_queryset(self) -> Any:
        try:
            return self.select(self.request.query_params)
        except DjangoValidationError as exc:
            raise drf_error(exc) from exc

    def get_object(self) -> Any:
        return self.fetch(self.kwargs["pk"])

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(self.get_serializer(self.fetch_shown(self.kwargs["pk"])).data)

    # Writes ------------------------------------------------------------------------------
    def _allow_duplicate(self, request: Request, item: dict[str, Any] | None = None) -> bool:
        if truthy(request.query_params.get("allow_duplicate", "")):
            return True
        source = item if item is not None else request.data
        return bool(hasattr(source, "get") and truthy(source.get("allow_duplicate", "")))

    def _run(self, write: Any) -> Any:
        return run_service(write)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        incoming = self.get_serializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        allow = self._allow_duplicate(request)
        record = self._run(
            lambda: self.service_create(allow_duplicate=allow, **incoming.validated_data)
        )
        return Response(self.get_serializer(self.fetch_shown(record.pk)).data, status=201)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        record = self.fetch_to_change(self.kwargs["pk"])
        incoming = self.get_serializer(
            record, data=request.data, partial=kwargs.get("partial", False)
        )
        incoming.is_valid(raise_exception=True)
        allow = self._allow_duplicate(request)
        self._run(
            lambda: self.service_update(record, allow_duplicate=allow, **incoming.validated_data)
        )
        return Response(self.get_serializer(self.fetch_shown(record.pk)).data)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        record = self.get_object()
        self._run(lambda: self.service_delete(record))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Create (POST) or update (PATCH) up to 100 records, all or nothing",
        request=inline_serializer(
            "BulkRequest", {"items": serializers.ListField(child=serializers.DictField())}
        ),
    )
    @action(detail=False, methods=["post", "patch"], url_path="bulk")
    def bulk(self, request: Request) -> Response:
        """Create (POST) or update (PATCH, each item with `id`) up to 100 records: all or
        nothing; a failure answers 400 with the errors of each failing item by index."""
        items = request.data.get("items") if isinstance(request.data, dict) else request.data
        if not isinstance(items, list) or not items:
            raise serializers.ValidationError({"items": "Send a non-empty list of records."})
        if len(items) > BULK_LIMIT:
            raise serializers.ValidationError(
                {"items": f"At most {BULK_LIMIT} records per request ({len(items)} sent)."}
            )
        errors: list[dict[str, Any]] = []
        done: list[int] = []
        updating = request.method == "PATCH"
        with transaction.atomic():
            for index, item in enumerate(items):
                if not isinstance(item, dict):
                    errors.append({"index": index, "errors": {"item": ["Not an object."]}})
                    continue
                try:
                    with transaction.atomic():
                        done.append(self._bulk_one(request, item, updating).pk)
                except exceptions.APIException as exc:
                    body: Any = exc.detail if isinstance(exc.detail, dict) else {"item": exc.detail}
                    if isinstance(exc, DuplicateConflict):
                        body = {"duplicate_suspected": exc.candidates}
                    errors.append({"index": index, "errors": body})
                except Exception:
                    errors.append({"index": index, "errors": {"id": ["No such record."]}})
            if errors:
                transaction.set_rollback(True)
        if errors:
            failed = ", ".join(str(e["index"]) for e in errors[:10])
            return Response(
                error_body(
                    ErrorCode.VALIDATION_ERROR,
                    f"Nothing was saved: item(s) {failed} have errors.",
                    field="items",
                    details={"items": errors},
                ),
                status=400,
            )
        records = {r.pk: r for r in self.select().filter(pk__in=done)}
        data = [self.get_serializer(records[pk]).data for pk in done]
        return Response({"results": data}, status=200 if updating else 201)

    def _bulk_one(self, request: Request, item: dict[str, Any], updating: bool) -> Any:
        allow = self._allow_duplicate(request, item)
        if updating:
            record = self.fetch(item.get("id"))
            incoming = self.get_serializer(record, data=item, partial=True)
            incoming.is_valid(raise_exception=True)
            return self._run(
                lambda: self.service_update(
                    record, allow_duplicate=allow, **incoming.validated_data
                )
            )
        incoming = self.get_serializer(data=item)
        incoming.is_valid(raise_exception=True)
        return self._run(
            lambda: self.service_create(allow_duplicate=allow, **incoming.validated_data)
        )

    @extend_schema(
        summary="Merge records into a survivor (undo with POST /merges/<merge_id>/undo/)",
        request=MergeRequestSerializer,
        responses=inline_serializer(
            "MergeResult",
            {"survivor": serializers.DictField(), "merge_id": serializers.IntegerField()},
        ),
    )
    @action(detail=False, methods=["post"])
    def merge(self, request: Request) -> Response:
        incoming = MergeRequestSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        survivor = self._fetch_named(data["survivor"], "survivor")
        merged = [self._fetch_named(pk, "merged") for pk in data["merged"]]
        record = self._run(lambda: self.service_merge(survivor, merged, data.get("values") or {}))
        return Response(
            {"survivor": self.get_serializer(self.fetch(survivor.pk)).data, "merge_id": record.pk}
        )

    def _fetch_named(self, pk: Any, field: str) -> Any:
        """A record named in a request body: one the caller may not see (or of another
        organisation) is a 400 naming the field, as for any other bad value."""
        try:
            return self.fetch(pk)
        except Http404:
            raise serializers.ValidationError({field: [f"No such {self.entity}: {pk}."]}) from None

    @extend_schema(
        summary="The whole list as CSV, Excel (XLSX) or JSON (same filters and ordering)",
        description=(
            "Every record the list would show, with its filters, search and ordering, as a "
            "file download. `format=csv` (the default) is UTF-8 with a BOM and formulas "
            "neutralised; `xlsx` is an Excel workbook with real numbers and dates (UTC); "
            "`json` is an array of objects keyed by column (`cf_<key>` for custom fields) "
            "with typed values. CSV and JSON are streamed as they are read."
        ),
        parameters=[
            OpenApiParameter(
                "format",
                OpenApiTypes.STR,
                enum=[*EXPORT_FORMATS],
                default="csv",
                description="The file format.",
            )
        ],
        responses={
            (200, "text/csv"): OpenApiTypes.STR,
            (200, EXPORT_FORMATS["xlsx"]): OpenApiTypes.BINARY,
            (200, "application/json"): {"type": "array", "items": {"type": "object"}},
            (400, "application/json"): ERROR_ENVELOPE,
        },
    )
    @action(
        detail=False,
        methods=["get"],
        pagination_class=None,
        url_path="export",
        content_negotiation_class=ExportNegotiation,
    )
    def export(self, request: Request) -> Any:
        try:
            fmt = export_format(request.query_params.get("format"))
        except UnknownFormat as exc:
            raise serializers.ValidationError({"format": [str(exc)]}) from None
        return export_list(
            actor=request.user,
            entity_key=self.entity,
            queryset=self.get_queryset(),
            query=request.query_params.urlencode(),
            fmt=fmt,
        )

    @extend_schema(
        summary="Suspected duplicate pairs",
        responses=inline_serializer(
            "DuplicatePairs",
            {"results": serializers.ListField(child=serializers.DictField())},
        ),
    )
    @action(detail=False, methods=["get"], pagination_class=None, filter_backends=[])
    def duplicates(self, request: Request) -> Response:
        """Suspected duplicate pairs among the records the caller may see."""
        return Response({"results": self.duplicate_pairs()})

    @extend_schema(
        summary="Share with a user or a team",
        request=ShareSerializer,
        responses=inline_serializer("Shared", {"shared": serializers.BooleanField()}),
    )
    @action(detail=True, methods=["post"])
    def share(self, request: Request, pk: str | None = None) -> Response:
        record = self.get_object()
        incoming = ShareSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        self._run(lambda: self.service_share(record, **incoming.validated_data))
        return Response({"shared": True})

    @extend_schema(
        summary="The record's timeline, newest first (?kind=note|change|link|merge, ?page=)",
        responses=inline_serializer(
            "Timeline",
            {
                "results": serializers.ListField(child=serializers.DictField()),
                "next_page": serializers.IntegerField(allow_null=True),
            },
        ),
    )
    @action(detail=True, methods=["get"], pagination_class=None)
    def timeline(self, request: Request, pk: str | None = None) -> Response:
        record = self.get_object()
        try:
            page = max(1, int(request.query_params.get("page", "1")))
        except ValueError:
            raise serializers.ValidationError({"page": "A page is a whole number."}) from None
        items, more = timeline.timeline(
            record,
            self.entity,
            kind=request.query_params.get("kind", ""),
            page=page,
            user=request.user,
        )
        return Response(
            {
                "results": [
                    {
                        "kind": item.kind,
                        "at": item.at,
                        "author": getattr(item.author, "pk", None),
                        "title": item.title,
                        "body": item.body,
                        "changes": [
                            {"field": f, "old": old, "new": new} for f, old, new in item.changes
                        ],
                    }
                    for item in items
                ],
                "next_page": page + 1 if more else None,
            }
        )

    @extend_schema(
        summary="Add a note to the record's timeline",
        request=NoteSerializer,
        responses={
            201: inline_serializer(
                "NoteCreated",
                {
                    "id": serializers.IntegerField(),
                    "body": serializers.CharField(),
                    "created_at": serializers.DateTimeField(),
                },
            )
        },
    )
    @action(detail=True, methods=["post"])
    def notes(self, request: Request, pk: str | None = None) -> Response:
        from apps.records.services import note_add

        record = self.get_object()
        incoming = NoteSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        entry = self._run(
            lambda: note_add(
                actor=request.user,
                entity=self.entity,
                record=record,
                body=incoming.validated_data["body"],
            )
        )
        return Response({"id": entry.pk, "body": entry.body, "created_at": entry.created_at}, 201)


def custom_fields_schema_hook(
    result: dict[str, Any], generator: Any, request: Any, public: bool
) -> dict[str, Any]:
    """drf-spectacular postprocessing: describe this organisation's custom fields in the
    schema, so clients see each key with its type."""
    from apps.records.models import CustomField, FieldType

    types: dict[str, dict[str, str]] = {
        FieldType.NUMBER: {"type": "number"},
        FieldType.DECIMAL: {"type": "string", "format": "decimal"},
        FieldType.CURRENCY: {"type": "string", "format": "decimal"},
        FieldType.DATE: {"type": "string", "format": "date"},
        FieldType.DATETIME: {"type": "string", "format": "date-time"},
        FieldType.BOOLEAN: {"type": "boolean"},
        FieldType.USER: {"type": "integer"},
        FieldType.URL: {"type": "string", "format": "uri"},
        FieldType.EMAIL: {"type": "string", "format": "email"},
    }
    try:
        definitions = list(CustomField.objects.filter(archived=False))
    except Exception:
        return result
    components = result.get("components", {}).get("schemas", {})
    names = {"contact": ["Contact", "PatchedContact"], "company": ["Company", "PatchedCompany"]}
    names["deal"] = ["Deal", "PatchedDeal"]
    names["lead"] = ["Lead", "PatchedLead"]
    for definition in definitions:
        schema: dict[str, Any] = dict(types.get(definition.type, {"type": "string"}))
        if definition.type == FieldType.SELECT:
            schema["enum"] = list(definition.options)
        if definition.type == FieldType.MULTI_SELECT:
            schema = {
                "type": "array",
                "items": {"type": "string", "enum": list(definition.options)},
            }
        schema["title"] = definition.label
        if definition.help_text:
            schema["description"] = definition.help_text
        for name in names.get(definition.entity, []):
            prop = components.get(name, {}).get("properties", {}).get("custom_fields")
            if prop is not None:
                prop.setdefault("properties", {})[definition.key] = schema
    return result
