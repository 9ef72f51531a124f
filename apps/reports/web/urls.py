from django.urls import include, path

from . import views

app_name = "reports"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("subscriptions/", include("apps.reports.web.subscription_urls")),
    path("<slug:name>/", views.report_detail, name="detail"),
    path("<slug:name>/csv/", views.report_csv, name="csv"),
    path("<slug:name>/pdf/", views.report_pdf, name="pdf"),
]
