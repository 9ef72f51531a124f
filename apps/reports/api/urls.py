from django.urls import include, path

from .views import ReportDetail, ReportList

urlpatterns = [
    path("", include("apps.reports.api.subscription_urls")),
    path("reports/", ReportList.as_view(), name="report-list"),
    path("reports/<slug:name>/", ReportDetail.as_view(), name="report-detail"),
    path(
        "reports/<slug:name>/csv/",
        ReportDetail.as_view(),
        {"csv": True},
        name="report-csv",
    ),
]
