"""`/api/v1/data-exports/`: ask for a zip of all the organisation's data, follow it, download
it. Owners and Admins (and keys with those roles) only; a key limited by scopes needs
`data-exports:read` to see and download and `data-exports:write` to ask (a `*` scope is not
enough for this resource)."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.api.errors import error_body
from apps.core.api.permissions import KeyScopeAllows
from apps.core.ratelimit import client_ip
from apps.imports.api.views import ENVELOPE, AnyAccept

from .. import services
from ..downloads import zip_response
from ..models import DataExport
from .serializers import DataExportSerializer

IN_PROGRESS = "export_in_progress"


class IsOrganisationAdmin(permissions.BasePermission):
    message = "Only Owners and Admins can export the organisation's data."

    def has_permission(self, request: Request, view: Any) -> bool:
        return services.may_export(request.user)


@extend_schema_view(
    list=extend_schema(summary="The organisation's data exports, newest first"),
    retrieve=extend_schema(summary="A data export: status, progress, counts and download link"),
)
class DataExportViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    scope_resource = "data-exports"
    serializer_class = DataExportSerializer
    permission_classes = [permissions.IsAuthenticated, KeyScopeAllows, IsOrganisationAdmin]
    queryset = DataExport.objects.none()
    lookup_value_regex = r"\d+"

    def get_queryset(self) -> Any:
        return services.export_list(user=self.request.user)

    def get_object(self) -> DataExport:
        return services.export_get(user=self.request.user, pk=self.kwargs["pk"])

    @extend_schema(
        summary="Ask for an export of all the organisation's data",
        description=(
            "Queues a zip of every record (one CSV per record type, the settings tables, "
            "the uploaded files, a README and manifest.json). Answers 202 at once; poll the "
            "`Location` until `status` is `done` (then `download_url` is set) or `failed`. "
            "The requester is emailed when it is ready. 409 `export_in_progress` while "
            "another export of the organisation is queued or being built."
        ),
        request=None,
        responses={
            202: DataExportSerializer,
            409: OpenApiResponse(ENVELOPE, description="An export is already being built."),
        },
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        try:
            export = services.export_request(actor=request.user, ip_address=client_ip(request))
        except services.ExportInProgress as exc:
            return Response(
                error_body(IN_PROGRESS, str(exc), details={"id": exc.export.pk}),
                status=status.HTTP_409_CONFLICT,
            )
        export.refresh_from_db()
        answer = Response(self.get_serializer(export).data, status=status.HTTP_202_ACCEPTED)
        answer["Location"] = request.build_absolute_uri(
            reverse("data-export-detail", args=[export.pk])
        )
        return answer

    @extend_schema(
        summary="The export's zip file",
        description="404 until the export is done, and once it has expired.",
        responses={
            (200, "application/zip"): OpenApiTypes.BINARY,
            (404, "application/json"): OpenApiResponse(ENVELOPE),
        },
    )
    @action(
        detail=True, methods=["get"], pagination_class=None, content_negotiation_class=AnyAccept
    )
    def download(self, request: Request, pk: str | None = None) -> Any:
        export = self.get_object()
        if not export.downloadable:
            raise exceptions.NotFound("This export has no file (not built yet, failed or expired).")
        try:
            handle = export.file.open("rb")
        except FileNotFoundError:
            raise exceptions.NotFound("This export's file is no longer kept.") from None
        return zip_response(export, handle, request)
