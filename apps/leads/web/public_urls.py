from django.urls import path

from . import public_views

app_name = "forms"

urlpatterns = [
    path("<slug:public_id>/", public_views.hosted_form, name="hosted"),
]
