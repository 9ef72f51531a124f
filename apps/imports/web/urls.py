from django.urls import path

from . import views

app_name = "imports"

urlpatterns = [
    path("", views.import_list, name="list"),
    path("new/", views.import_new, name="new"),
    path("<int:pk>/", views.import_detail, name="detail"),
    path("<int:pk>/mapping/", views.import_mapping, name="mapping"),
    path("<int:pk>/remap/", views.import_remap, name="remap"),
    path("<int:pk>/start/", views.import_start, name="start"),
    path("<int:pk>/cancel/", views.import_cancel, name="cancel"),
    path("<int:pk>/progress/", views.import_progress, name="progress"),
    path("<int:pk>/errors.csv", views.import_errors, name="errors"),
]
