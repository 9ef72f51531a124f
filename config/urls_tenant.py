"""URLs of every organisation's subdomain: the CRM web app and its REST API."""

from django.urls import include, path

from apps.core.web import views as core_views

urlpatterns = [
    path("healthz", core_views.healthz, name="healthz"),
    path("readyz", core_views.readyz, name="readyz"),
    path("api/v1/", include("apps.core.api.urls")),
    path("accounts/", include("apps.accounts.web.urls")),
    path("", include("apps.core.web.urls")),
]
