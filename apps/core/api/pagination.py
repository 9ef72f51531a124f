from rest_framework import pagination


class CursorPagination(pagination.CursorPagination):
    """Newest first by default; every record has `created_at`. `?page_size=` up to 200."""

    ordering = ("-created_at", "-id")
    page_size_query_param = "page_size"
    max_page_size = 200
