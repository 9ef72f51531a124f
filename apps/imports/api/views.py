"""`/api/v1/imports/`: upload a file to import (or dry-run), follow it, read its problems and
rejected rows, start, cancel, and the fields a column can be mapped to.

Owners and Admins (and keys with those roles) reach every import of the organisation;
everyone else the imports they started (a key: those of the person who made it), and anyone
else's is a 404. Creating, changing, starting and cancelling are writes: a key needs
`imports:write` (or no scopes) and neither it nor a person may be read-only."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import Prefetch
from django.http import FileResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.api.errors import error_body
from apps.core.api.pagination import CursorPagination
from apps.records.api.base import drf_error, run_service
from apps.records.models import Entity

from .. import fields as f
from .. import selectors, services
from ..models import ImportJob, ImportProblem
from .serializers import (
    ERRORS_SHOWN,
    ImportableFieldsSerializer,
    ImportChangeSerializer,
    ImportCreateSerializer,
    ImportJobSerializer,
    ProblemSerializer,
)

ENVELOPE = {
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
_REFUSED = OpenApiResponse(
    ENVELOPE,
    description="The file cannot be read (`error.code` names why: empty_file, "
    "duplicate_header, file_too_large, unsupported_format, ...; `error.field` is `file`), or "
    "the mapping or options cannot work with it (`validation_error`, `error.field` names it).",
)
_NOT_NOW = OpenApiResponse(
    ENVELOPE, description="The import is not in a state that allows this (`validation_error`)."
)
_LOCATION = OpenApiParameter(
    "Location",
    OpenApiTypes.URI,
    location=OpenApiParameter.HEADER,
    response=[202],
    description="The import's own URL, to poll until `status` is previewed, succeeded, failed "
    "or cancelled.",
)


PROBLEM_KINDS = ("errors", "notes")  # as selectors.problem_list filters them


class ProblemPagination(CursorPagination):
    ordering = ("row", "id")


class AnyAccept(DefaultContentNegotiation):
    """The error file is the response itself, whatever the client accepts; errors still
    come in the API's JSON envelope."""

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        choices = list(renderers)
        renderer = next((r for r in choices if isinstance(r, JSONRenderer)), choices[0])
        return renderer, renderer.media_type


def _refusal(exc: DjangoValidationError) -> Response | None:
    """A file that cannot be read answers with the reader's own code (empty_file,
    duplicate_header, ...), so clients can branch on it."""
    errors = getattr(exc, "error_dict", {}).get("file") or []
    code = next((e.code for e in errors if e.code), None)
    if code is None:
        return None
    messages = [str(message) for e in errors for message in e.messages]
    return Response(
        error_body(code, messages[0], field="file", details={"file": messages}),
        status=status.HTTP_400_BAD_REQUEST,
    )


@extend_schema_view(
    list=extend_schema(summary="Your imports (every import, for Owners and Admins), newest first"),
    retrieve=extend_schema(summary="An import: status, counts, progress and links"),
)
class ImportViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    scope_resource = "imports"
    serializer_class = ImportJobSerializer
    queryset = ImportJob.objects.none()
    lookup_value_regex = r"\d+"

    def get_queryset(self) -> Any:
        found = selectors.import_list(user=self.request.user)
        if self.action == "list":
            # Each job shows its first problems (`errors`): one query for the page, not one
            # per job (the jobs are those the user may see; these are theirs, in row order).
            first = ImportProblem.objects.order_by("row", "id")[:ERRORS_SHOWN]
            found = found.prefetch_related(
                Prefetch("problems", queryset=first, to_attr="problems_shown")
            )
        return found

    def get_object(self) -> ImportJob:
        return selectors.import_get(user=self.request.user, pk=self.kwargs["pk"])

    def _job(self, job: ImportJob, *, code: int = status.HTTP_200_OK) -> Response:
        # Read again: the services hand back the row as it was when they locked it.
        fresh = selectors.import_get(user=self.request.user, pk=job.pk)
        return Response(self.get_serializer(fresh).data, status=code)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        job = self.get_object()
        # A poll is what notices a run whose worker died; it is queued again.
        if services.resume_if_stale(job):
            job.refresh_from_db()
        return Response(self.get_serializer(job).data)

    @extend_schema(
        summary="Upload a file and import it (or dry-run it)",
        description=(
            "Stores the file, reads its header, applies the mapping (given, else remembered "
            "for these headers, else suggested by header names) and queues the dry run "
            "(`dry_run=true`: counts and every problem, nothing written) or the import itself "
            "(all or nothing). Answers 202 at once; poll the `Location` for progress."
        ),
        request={"multipart/form-data": ImportCreateSerializer},
        responses={202: ImportJobSerializer, 400: _REFUSED},
        parameters=[_LOCATION],
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        incoming = ImportCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        actor = request.user
        stored: list[ImportJob] = []
        try:
            # One transaction: a mapping that cannot work leaves no half-made import behind.
            with transaction.atomic():
                job = services.import_create(
                    actor=actor,
                    entity=data["entity"],
                    upload=data["file"],
                    mode=data["mode"],
                    match_on=data.get("match_on"),
                    locale=data.get("locale") or None,
                    mapping=data.get("mapping"),
                )
                stored.append(job)
                # Checks the mapping against the file (a header it does not have is an
                # error here, not ignored) and remembers it for the next such file.
                job = services.import_configure(actor=actor, job=job, mapping=data.get("mapping"))
                queue = services.import_preview if data["dry_run"] else services.import_start
                job = queue(actor=actor, job=job)
        except DjangoValidationError as exc:
            for made in stored:
                made.file.delete(save=False)
            refused = _refusal(exc)
            if refused is not None:
                return refused
            raise drf_error(exc) from exc
        except DjangoPermissionDenied as exc:
            raise exceptions.PermissionDenied(str(exc)) from exc
        answer = self._job(job, code=status.HTTP_202_ACCEPTED)
        answer["Location"] = request.build_absolute_uri(reverse("import-detail", args=[job.pk]))
        return answer

    @extend_schema(
        summary="Change the mapping or options of an import that has not started",
        description="After a dry run the import needs another dry run (POST .../preview/) or "
        "can be started as it is now (POST .../start/).",
        request=ImportChangeSerializer,
        responses={200: ImportJobSerializer, 400: _REFUSED},
    )
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        job = self.get_object()
        incoming = ImportChangeSerializer(data=request.data, partial=True)
        incoming.is_valid(raise_exception=True)
        unknown = sorted(set(request.data) - set(ImportChangeSerializer().fields))
        if unknown:
            raise serializers.ValidationError({unknown[0]: "This cannot be changed."})
        data = incoming.validated_data
        run_service(
            lambda: services.import_configure(
                actor=request.user,
                job=job,
                mapping=data.get("mapping"),
                mode=data.get("mode"),
                match_on=data.get("match_on"),
                locale=data.get("locale") or None,
            )
        )
        return self._job(job)

    @extend_schema(
        summary="Dry-run the import again (after changing it)",
        request=None,
        responses={202: ImportJobSerializer, 400: _NOT_NOW},
    )
    @action(detail=True, methods=["post"])
    def preview(self, request: Request, pk: str | None = None) -> Response:
        job = self.get_object()
        run_service(lambda: services.import_preview(actor=request.user, job=job))
        return self._job(job, code=status.HTTP_202_ACCEPTED)

    @extend_schema(
        summary="Start the import (after a dry run, or one that failed)",
        request=None,
        responses={202: ImportJobSerializer, 400: _NOT_NOW},
    )
    @action(detail=True, methods=["post"])
    def start(self, request: Request, pk: str | None = None) -> Response:
        job = self.get_object()
        run_service(lambda: services.import_start(actor=request.user, job=job))
        return self._job(job, code=status.HTTP_202_ACCEPTED)

    @extend_schema(
        summary="Cancel a queued or running import (everything it wrote is rolled back)",
        request=None,
        responses={200: ImportJobSerializer, 400: _NOT_NOW},
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        job = self.get_object()
        run_service(lambda: services.import_cancel(actor=request.user, job=job))
        return self._job(job)

    @extend_schema(
        summary="The problems found in the rows, by row",
        description="Errors (rows left out because something in them is wrong) and notes "
        "(rows skipped as repeats, as existing records in create mode, or as matching nothing "
        "in update mode). The first 2,000 are kept; the error file has every rejected row.",
        parameters=[
            OpenApiParameter(
                "kind", OpenApiTypes.STR, enum=list(PROBLEM_KINDS), description="Only these."
            )
        ],
        responses={200: ProblemSerializer(many=True), 400: OpenApiResponse(ENVELOPE)},
    )
    @action(
        detail=True,
        methods=["get"],
        pagination_class=ProblemPagination,
        serializer_class=ProblemSerializer,
    )
    def problems(self, request: Request, pk: str | None = None) -> Response:
        job = self.get_object()
        kind = request.query_params.get("kind", "").strip().lower()
        if kind and kind not in PROBLEM_KINDS:
            raise serializers.ValidationError({"kind": [f"Use {' or '.join(PROBLEM_KINDS)}."]})
        page = self.paginate_queryset(selectors.problem_list(job=job, kind=kind)) or []
        return self.get_paginated_response(ProblemSerializer(page, many=True).data)

    @extend_schema(
        summary="The rejected rows as CSV, ready to fix and upload again",
        description="The file's own columns, in its order, and an `error` column saying what "
        "is wrong. 404 when no row was rejected.",
        responses={
            (200, "text/csv"): OpenApiTypes.BINARY,
            (404, "application/json"): OpenApiResponse(ENVELOPE),
        },
    )
    @action(
        detail=True,
        methods=["get"],
        url_path="error-file",
        pagination_class=None,
        content_negotiation_class=AnyAccept,
    )
    def error_file(self, request: Request, pk: str | None = None) -> Any:
        job = self.get_object()
        if not job.error_file:
            raise exceptions.NotFound("This import has no rejected rows.")
        try:
            handle = job.error_file.open("rb")
        except FileNotFoundError:
            raise exceptions.NotFound("This import's error file is no longer kept.") from None
        return FileResponse(
            handle,
            as_attachment=True,
            filename=f"{Path(job.file_name).stem}-errors.csv",
            content_type="text/csv; charset=utf-8",
        )

    @extend_schema(
        summary="The fields a column can be mapped to, custom fields included",
        parameters=[
            OpenApiParameter(
                "entity",
                OpenApiTypes.STR,
                enum=list(Entity.values),
                required=True,
                description="The record type to import.",
            )
        ],
        responses={200: ImportableFieldsSerializer, 400: OpenApiResponse(ENVELOPE)},
    )
    @action(detail=False, methods=["get"], url_path="fields", pagination_class=None)
    def importable_fields(self, request: Request) -> Response:
        entity = request.query_params.get("entity", "").strip().lower()
        if entity not in Entity.values:
            raise serializers.ValidationError(
                {"entity": [f"Name the record type: {', '.join(Entity.values)}."]}
            )
        spec = f.spec_for(entity)
        body = {
            "entity": entity,
            "match_on": [*spec.match, "none"],
            "needs_one_of": list(spec.needs_one_of),
            "fields": [{"name": i.name, "label": i.label, "kind": i.kind} for i in spec.fields],
        }
        return Response(body)
