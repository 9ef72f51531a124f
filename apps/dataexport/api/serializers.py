"""What the data exports API shows of an export."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field, inline_serializer
from rest_framework import serializers

from .. import services
from ..models import DataExport

_PROGRESS = inline_serializer(
    "DataExportProgress",
    {
        "done": serializers.IntegerField(help_text="Rows written so far."),
        "total": serializers.IntegerField(help_text="Rows of every CSV (0 until known)."),
        "percent": serializers.IntegerField(),
    },
)


class DataExportSerializer(serializers.ModelSerializer[DataExport]):
    progress = serializers.SerializerMethodField()
    download_url = serializers.SerializerMethodField()
    counts = serializers.DictField(
        child=serializers.IntegerField(),
        read_only=True,
        help_text='Rows per CSV file of the zip, and "files/": how many uploaded files.',
    )

    class Meta:
        model = DataExport
        fields = [
            "id",
            "status",
            "progress",
            "size",
            "counts",
            "error",
            "attempts",
            "requested_by",
            "created_at",
            "started_at",
            "finished_at",
            "expires_at",
            "download_count",
            "download_url",
        ]
        read_only_fields = fields

    @extend_schema_field(_PROGRESS)
    def get_progress(self, export: DataExport) -> dict[str, Any]:
        return services.progress(export)

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_download_url(self, export: DataExport) -> str | None:
        if not export.downloadable:
            return None
        path = reverse("data-export-download", args=[export.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path
