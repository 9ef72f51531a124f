from django.contrib.auth import views as auth_views
from django.urls import path

from . import views

app_name = "console"

urlpatterns = [
    path("", views.tenant_index, name="tenants"),
    path("login/", views.console_login, name="login"),
    path("logout/", auth_views.LogoutView.as_view(next_page="console:login"), name="logout"),
    path("tenants/new/", views.tenant_create, name="tenant-create"),
    path("tenants/<slug:slug>/", views.tenant_detail, name="tenant"),
    path("tenants/<slug:slug>/suspend/", views.tenant_suspend, name="tenant-suspend"),
    path("tenants/<slug:slug>/resume/", views.tenant_resume, name="tenant-resume"),
    path("tenants/<slug:slug>/delete/", views.tenant_delete, name="tenant-delete"),
    path("audit/", views.audit_log, name="audit"),
    path("failed-tasks/", views.failed_tasks, name="failed-tasks"),
    path("failed-tasks/<int:pk>/resolve/", views.failed_task_resolve, name="failed-task-resolve"),
]
