"""The baseline of bench/load.py: a bare DRF view (no tenancy, no authentication, no
throttling) answering a small constant JSON object."""

from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.web.views import healthz


class Trivial(APIView):
    authentication_classes: list[type] = []
    permission_classes = [AllowAny]
    throttle_classes: list[type] = []

    def get(self, request: Request) -> Response:
        return Response({"ok": True, "items": [1, 2, 3]})


urlpatterns = [
    path("bench/trivial/", Trivial.as_view()),
    path("healthz", healthz),  # what the server's start-up check asks for
]
