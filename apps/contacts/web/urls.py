from django.urls import path

from apps.records.web.views import record_urls

from . import views

app_name = "contacts"

urlpatterns = [
    *record_urls(views.WEB),
    path("<int:pk>/links/", views.contact_link, name="link"),
    path("<int:pk>/links/<int:link_pk>/delete/", views.contact_unlink, name="unlink"),
]
