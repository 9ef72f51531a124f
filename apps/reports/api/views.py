"""`/api/v1/reports/`: the list of reports, and `/api/v1/reports/<name>/` the report as JSON
(the same object the web page, the CSV and the PDF show), for the filters in the query:
`period` (this_week, last_week, this_month, last_month, this_quarter, last_quarter,
this_year, last_year; or `from` and `to` as YYYY-MM-DD for any range), `owner` (an id or `me`),
`team`, `pipeline`, and `group` where the report has groupings. Figures cover what the
caller may see; `/api/v1/reports/<name>/csv/` answers the same report's table as CSV."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.records.api.base import drf_error

from .. import registry

FILTERS = [
    OpenApiParameter("period", OpenApiTypes.STR, description="this_month (default), ..."),
    OpenApiParameter("from", OpenApiTypes.DATE, description="First day of a custom period."),
    OpenApiParameter("to", OpenApiTypes.DATE, description="Last day of a custom period."),
    OpenApiParameter("owner", OpenApiTypes.STR, description="A member's id, or me."),
    OpenApiParameter("team", OpenApiTypes.INT),
    OpenApiParameter("pipeline", OpenApiTypes.INT),
    OpenApiParameter("group", OpenApiTypes.STR, description="The report's grouping."),
]


class ReportList(APIView):
    scope_resource = "reports"

    @extend_schema(
        operation_id="reports_list", responses=OpenApiTypes.OBJECT, summary="The reports there are"
    )
    def get(self, request: Request) -> Response:
        return Response(
            {
                "results": [
                    {
                        "name": d.name,
                        "title": d.title,
                        "description": d.description,
                        "groups": [g for g, _ in d.groups],
                        "default_period": d.default_period,
                        "url": request.build_absolute_uri(f"{d.name}/"),
                    }
                    for d in registry.all_reports()
                ]
            }
        )


class ReportDetail(APIView):
    scope_resource = "reports"

    @extend_schema(
        operation_id="reports_retrieve",
        parameters=FILTERS,
        responses=OpenApiTypes.OBJECT,
        summary="One report",
    )
    def get(self, request: Request, name: str, csv: bool = False) -> Any:
        try:
            report = registry.build(name, request.user, request.query_params.dict())
        except DjangoValidationError as exc:
            raise drf_error(exc) from exc
        if csv:
            from ..exporting import report_csv

            response = HttpResponse(report_csv(report), content_type="text/csv; charset=utf-8")
            response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
            return response
        return Response(report.as_json())


class ReportCsv(ReportDetail):
    """The report's table as CSV."""

    @extend_schema(
        operation_id="reports_csv",
        parameters=FILTERS,
        responses={(200, "text/csv"): OpenApiTypes.STR},
        summary="One report as CSV",
    )
    def get(self, request: Request, name: str, csv: bool = True) -> Any:
        return super().get(request, name, csv=True)
