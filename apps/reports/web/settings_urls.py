from django.urls import path

from . import views

app_name = "currencies"

urlpatterns = [path("", views.currencies, name="settings")]
