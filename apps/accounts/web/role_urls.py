from django.urls import path

from . import settings_views

app_name = "roles"

urlpatterns = [path("", settings_views.role_permissions, name="list")]
