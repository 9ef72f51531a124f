from django.urls import path

from . import settings_views

app_name = "tags"

urlpatterns = [
    path("", settings_views.tag_list, name="list"),
    path("<int:pk>/", settings_views.tag_edit, name="edit"),
]
