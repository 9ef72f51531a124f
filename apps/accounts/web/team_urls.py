from django.urls import path

from . import settings_views

app_name = "teams"

urlpatterns = [
    path("", settings_views.team_list, name="list"),
    path("<int:pk>/", settings_views.team_detail, name="detail"),
    path("<int:pk>/delete/", settings_views.team_remove, name="delete"),
]
