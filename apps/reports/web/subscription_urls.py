"""The report subscriptions pages, included by the reports URLs under /reports/subscriptions/
(before /reports/<name>/, which would otherwise take "subscriptions" for a report's name).
No namespace of their own: the names live in the including one (reports:subscriptions...)."""

from django.urls import path

from . import subscriptions as views

urlpatterns = [
    path("", views.subscription_list, name="subscriptions"),
    path("new/", views.subscription_new, name="subscription_new"),
    path("<int:pk>/edit/", views.subscription_edit, name="subscription_edit"),
    path("<int:pk>/delete/", views.subscription_delete, name="subscription_delete"),
    path("<int:pk>/send/", views.subscription_send, name="subscription_send"),
]
