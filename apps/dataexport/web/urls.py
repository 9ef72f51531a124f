from django.urls import path

from . import views

app_name = "dataexport"

urlpatterns = [
    path("", views.export_index, name="list"),
    path("request/", views.export_request, name="request"),
    path("<int:pk>/progress/", views.export_progress, name="progress"),
    path("<int:pk>/download/", views.export_download, name="download"),
]
