from django.urls import path

from . import search_views, views

urlpatterns = [
    path("search/", search_views.global_search, name="search"),
    path("merges/<int:merge_pk>/undo/", views.merge_undo, name="merge_undo"),
]
