from apps.records.web.views import record_urls

from . import views

app_name = "companies"

urlpatterns = [
    *record_urls(views.WEB),
]
