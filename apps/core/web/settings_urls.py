from django.urls import path

from . import settings_views

app_name = "backgroundjobs"

urlpatterns = [
    path("", settings_views.failed_task_index, name="list"),
    path("<int:pk>/resolve/", settings_views.failed_task_mark_resolved, name="resolve"),
]
