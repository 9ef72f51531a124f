from django.urls import path

from apps.records.web.views import record_urls

from . import views

app_name = "leads"

urlpatterns = [
    *record_urls(views.WEB),
    path("<int:pk>/convert/", views.lead_convert, name="convert"),
]
