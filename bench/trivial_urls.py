"""A view that does nothing, so a benchmark measures only what surrounds it."""

from django.http import HttpRequest, HttpResponse
from django.urls import path


def trivial(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [path("trivial/", trivial)]
