from django.urls import path

from . import settings_views

app_name = "members"

urlpatterns = [
    path("", settings_views.user_list, name="list"),
    path("<int:pk>/role/", settings_views.user_role, name="role"),
    path("<int:pk>/active/", settings_views.user_active, name="active"),
    path("<int:pk>/reassign/", settings_views.user_reassign, name="reassign"),
    path("invitations/<int:pk>/cancel/", settings_views.invitation_cancel, name="cancel"),
]
