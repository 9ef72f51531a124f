from django.urls import path

from . import settings_views

app_name = "customfields"

urlpatterns = [
    path("", settings_views.customfield_list, name="list"),
    path("<int:pk>/", settings_views.customfield_edit, name="edit"),
]
