from typing import Any

from django.http import HttpRequest, HttpResponse
from django.urls import path

from apps.records.web import views as record_views
from apps.records.web.views import record_urls

from . import views

app_name = "deals"


def _for_user(view: Any) -> Any:
    def bound(request: HttpRequest, **kwargs: Any) -> HttpResponse:
        return view(request, views.web_for(request.user, request.GET), **kwargs)

    bound.__name__ = view.__name__
    return bound


urlpatterns = [
    path("board/", views.deal_board, name="board"),
    path("board/<int:pipeline_id>/", views.deal_board, name="board_pipeline"),
    path("board/columns/<int:stage_id>/", views.board_column, name="board_column"),
    path("new/", _for_user(record_views.record_create), name="create"),
    path("<int:pk>/edit/", _for_user(record_views.record_edit), name="edit"),
    path("<int:pk>/move/", views.deal_move, name="move"),
    *[p for p in record_urls(views.WEB) if p.name not in ("create", "edit")],
]
