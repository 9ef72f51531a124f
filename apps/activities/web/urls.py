from django.urls import path

from apps.records.web.views import record_urls

from . import views

app_name = "activities"

# The shared record pages, except create and edit: ours pre-fill links and times.
SHARED = [p for p in record_urls(views.WEB) if p.name not in ("create", "edit")]

urlpatterns = [
    path("new/", views.activity_create, name="create"),
    path("today/", views.my_day, name="my_day"),
    path("calendar/", views.calendar, name="calendar"),
    path("calendar/events/", views.calendar_events, name="calendar_events"),
    path("calendar/feed/", views.feed_create, name="feed_create"),
    path("calendar/feed/revoke/", views.feed_revoke, name="feed_revoke"),
    path("feed/<str:token>.ics", views.feed, name="feed"),
    path("<int:pk>/edit/", views.activity_edit, name="edit"),
    path("<int:pk>/complete/", views.activity_complete, name="complete"),
    path("<int:pk>/reschedule/", views.activity_reschedule, name="reschedule"),
    *SHARED,
]
