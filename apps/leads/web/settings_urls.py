from django.urls import path

from . import settings_views

app_name = "webforms"

urlpatterns = [
    path("", settings_views.webform_list, name="list"),
    path("new/", settings_views.webform_edit, name="create"),
    path("sources/", settings_views.source_list, name="sources"),
    path("<int:pk>/", settings_views.webform_edit, name="edit"),
    path("<int:pk>/delete/", settings_views.webform_delete, name="delete"),
]
