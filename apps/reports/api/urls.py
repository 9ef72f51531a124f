from django.urls import include, path

from .views import ReportCsv, ReportDetail, ReportList

urlpatterns = [
    path("", include("apps.reports.api.subscription_urls")),
    path("reports/", ReportList.as_view(), name="report-list"),
    path("reports/<slug:name>/", ReportDetail.as_view(), name="report-detail"),
    path(
        "reports/<slug:name>/csv/",
        ReportCsv.as_view(),
        name="report-csv",
    ),
]
