"""URLs of every organisation's subdomain: the CRM web app and its REST API."""

from django.urls import include, path
from drf_spectacular.views import SpectacularSwaggerSplitView

from apps.core.web import views as core_views

# A path nothing answers: under /api/ the API's error envelope, elsewhere Django's page.
handler404 = "apps.core.api.errors.not_found"
# An unexpected error: under /api/ the envelope (503 with Retry-After when the database or
# Redis could not be reached), elsewhere Django's page.
handler500 = "apps.core.api.errors.server_error"

urlpatterns = [
    path("healthz", core_views.healthz, name="healthz"),
    path("readyz", core_views.readyz, name="readyz"),
    path("api/v1/", include("apps.core.api.urls")),
    # The split view serves its script as a file, so the docs page passes the strict CSP.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("companies/", include("apps.companies.web.urls")),
    path("contacts/", include("apps.contacts.web.urls")),
    path("deals/", include("apps.deals.web.urls")),
    path("leads/", include("apps.leads.web.urls")),
    path("activities/", include("apps.activities.web.urls")),
    path("notifications/", include("apps.notifications.web.urls")),
    path("imports/", include("apps.imports.web.urls")),
    path("reports/", include("apps.reports.web.urls")),
    path("settings/pipelines/", include("apps.deals.web.settings_urls")),
    path("settings/web-forms/", include("apps.leads.web.settings_urls")),
    path("f/", include("apps.leads.web.public_urls")),
    path("settings/custom-fields/", include("apps.records.web.settings_urls")),
    path("settings/tags/", include("apps.records.web.tag_urls")),
    path("", include("apps.records.web.urls")),
    path("settings/users/", include("apps.accounts.web.settings_urls")),
    path("settings/teams/", include("apps.accounts.web.team_urls")),
    path("settings/roles/", include("apps.accounts.web.role_urls")),
    path("settings/api-keys/", include("apps.apikeys.web.urls")),
    path("settings/audit/", include("apps.audit.web.urls")),
    path("settings/background-jobs/", include("apps.core.web.settings_urls")),
    path("settings/currencies/", include("apps.reports.web.settings_urls")),
    path("settings/data-export/", include("apps.dataexport.web.urls")),
    path("accounts/", include("apps.accounts.web.urls")),
    path("", include("apps.core.web.urls")),
]

# A body over DATA_UPLOAD_MAX_MEMORY_SIZE and the like: a page (or the API envelope) saying so.
handler400 = core_views.bad_request
