"""URLs of the base domain: the public site and the operator console."""

from django.urls import include, path

from apps.core.observability import views as observability_views
from apps.core.web import views as core_views

urlpatterns = [
    path("healthz", core_views.healthz, name="healthz"),
    path("readyz", core_views.readyz, name="readyz"),
    # Prometheus, for a scraper holding KESTREL_METRICS_TOKEN; 404 for anyone else.
    path("metrics", observability_views.metrics, name="metrics"),
    path("console/", include("tenants.console.urls")),
    path("", include("public_site.urls")),
]

# A body over DATA_UPLOAD_MAX_MEMORY_SIZE and the like: a page (or the API envelope) saying so.
handler400 = core_views.bad_request
