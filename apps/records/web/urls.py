from django.urls import path

from . import search_views, tag_styles, views

urlpatterns = [
    path("search/", search_views.global_search, name="search"),
    path("tags.css", tag_styles.tag_styles, name="tag_styles"),
    path("merges/<int:merge_pk>/undo/", views.merge_undo, name="merge_undo"),
]
