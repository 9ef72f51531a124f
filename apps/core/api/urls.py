from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView
from rest_framework.routers import SimpleRouter

from . import views

router = SimpleRouter()
router.register("failed-tasks", views.FailedTaskViewSet, basename="failed-task")

urlpatterns = [
    path("", views.api_root, name="api-root"),
    path("me/", views.me, name="api-me"),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("", include("apps.apikeys.api.urls")),
    path("", include("apps.companies.api.urls")),
    path("", include("apps.contacts.api.urls")),
    path("", include("apps.deals.api.urls")),
    path("", include("apps.leads.api.urls")),
    path("", include("apps.activities.api.urls")),
    path("", include("apps.notifications.api.urls")),
    path("", include("apps.imports.api.urls")),
    path("", include("apps.reports.api.urls")),
    path("", include("apps.records.api.urls")),
    path("", include("apps.dataexport.api.urls")),
    path("", include(router.urls)),
]
