from django.urls import path

from . import settings_views as views

app_name = "pipelines"

urlpatterns = [
    path("", views.pipeline_list, name="list"),
    path("new/", views.pipeline_create, name="create"),
    path("<int:pk>/", views.pipeline_edit, name="edit"),
    path("<int:pk>/delete/", views.pipeline_delete, name="delete"),
    path("<int:pk>/stages/", views.stage_create, name="stage_create"),
    path("stages/<int:pk>/", views.stage_edit, name="stage_edit"),
    path("stages/<int:pk>/delete/", views.stage_delete, name="stage_delete"),
    path("lost-reasons/", views.reason_create, name="reason_create"),
    path("lost-reasons/<int:pk>/", views.reason_edit, name="reason_edit"),
    path("lost-reasons/<int:pk>/delete/", views.reason_delete, name="reason_delete"),
]
