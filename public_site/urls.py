from django.urls import path

from . import views

app_name = "public_site"

urlpatterns = [
    path("", views.landing, name="landing"),
    path("signup/", views.signup, name="signup"),
    path("find/", views.find_workspace, name="find"),
]
